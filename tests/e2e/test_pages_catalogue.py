"""The matter catalogue in a real browser (issue 18): the region picker of the registration form
routes the case to the department of the applicant's own jurisdiction, and the published page
公布代收代办事项清单 reads without script and without accessibility violations."""

from __future__ import annotations

import re

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import expect

from tests.support.browser import DESKTOP, PHONE, base_url, screenshot

from .test_pages_console import new_page, open_console


async def registered_case(site, page) -> dict:
    success = page.locator(".card.success")
    await expect(success).to_contain_text("已登记收件")
    case_no = await success.locator(".case-no").inner_text()
    ledger = await (await site.client.get("/api/v1/ledger", headers=site.auth("supervisor"))).json()
    [row] = [r for r in ledger["items"] if r["case_no"] == case_no]
    response = await site.client.get(f"/api/v1/cases/{row['case_id']}", headers=site.auth("clerk-lf"))
    return await response.json()


async def fill_lightning(page) -> None:
    await page.get_by_role("button", name=re.compile("防雷装置竣工验收")).click()
    for name in ("《防雷装置竣工验收申请书》", "防雷装置竣工图纸", "施工单位的资质证", "授权委托书"):
        await page.get_by_label(f"已收：{name}").check()
    await page.get_by_label("申请人（单位或个人）").fill("海丰县某建筑公司")
    await page.get_by_label("联系电话").fill("13812345678")


async def test_the_region_picker_follows_the_address_and_routes_the_case_to_the_applicants_own_bureau(site, browser):
    page, errors = await open_console(browser, site, "clerk-lf", DESKTOP)
    await fill_lightning(page)
    picker = page.get_by_label("申请人所属区划")
    await expect(picker.locator("option")).to_have_count(6)  # 未指定 + 汕尾市 and its four
    await page.get_by_label("地址", exact=True).fill("海丰县海城镇二环路 3 号")
    await expect(picker).to_have_value("441521")
    await page.get_by_role("button", name="登记收件").click()
    case = await registered_case(site, page)
    assert (case["department_office_id"], case["applicant"]["region_code"]) == ("dept-441521-qx", "441521")
    await screenshot(page, "console-registered-by-region")

    # the clerk's own choice wins over the address
    await page.get_by_role("button", name="登记下一件").click()
    await page.get_by_role("button", name="查找", exact=True).click()
    await fill_lightning(page)
    picker = page.get_by_label("申请人所属区划")
    await picker.select_option("441502")
    await page.get_by_label("地址", exact=True).fill("陆丰市东海街道人民路 8 号")
    await expect(picker).to_have_value("441502")
    await page.get_by_role("button", name="登记收件").click()
    assert (await registered_case(site, page))["department_office_id"] == "dept-441500-qx"
    assert errors == []
    await page.context.close()


async def test_a_matter_outside_the_windows_scope_is_refused_on_the_form(site, browser):
    page, errors = await open_console(browser, site, "clerk-lf", DESKTOP)
    await page.get_by_role("button", name=re.compile("食品经营许可证核发")).click()
    for name in (
        "食品经营许可申请书",
        "营业执照复印件",
        "与食品经营相适应的主要设备设施布局、操作流程等文件",
        "食品安全管理制度",
    ):
        await page.get_by_label(f"已收：{name}").check()
    await page.get_by_label("申请人（单位或个人）").fill("李四")
    await page.get_by_label("联系电话").fill("13812345678")
    await page.get_by_label("申请人所属区划").select_option("441521")
    await page.get_by_role("button", name="登记收件").click()
    await expect(page.locator("#messages .alert.error")).to_contain_text(
        "不在事项“食品经营许可证核发”（海丰县实施）的通办范围内"
    )
    assert errors == []
    await page.context.close()


async def test_the_published_catalogue_page_lists_each_regions_matters_without_script_or_violations(site, browser):
    for device, name in ((PHONE, "phone"), (DESKTOP, "desktop")):
        page, errors = await new_page(browser, device)
        response = await page.goto(f"{base_url(site)}/matters")
        assert response is not None and response.status == 200
        await expect(page.get_by_role("heading", level=1)).to_have_text("公布代收代办事项清单")
        lufeng = page.locator("#region-441581")
        await expect(lufeng).to_contain_text("陆丰市政务服务中心市域通办窗口")
        await expect(lufeng.get_by_role("row", name=re.compile("防雷装置竣工验收"))).to_contain_text(
            "海丰县：海丰县气象局"
        )
        lightning = page.locator("#m-flzz-ys")
        await expect(lightning).to_contain_text("防雷装置验收意见书")
        await expect(lightning.get_by_role("row", name=re.compile("施工单位的资质证"))).to_contain_text("可容缺")
        assert await page.locator("script").count() == 0
        results = await Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
        await screenshot(page, f"catalogue-{name}")
        assert errors == []
        await page.context.close()


async def test_an_admin_changes_a_regions_implementation_and_retires_a_matter_on_the_catalogue_screen(site, browser):
    page, errors = await open_console(browser, site, "admin", DESKTOP)
    await page.get_by_role("link", name="事项清单").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("事项清单")
    await page.get_by_role("button", name="管理：建设工程规划许可证核发").click()
    await page.get_by_label("陆丰市的审批部门").select_option("dept-441581-sj")
    await page.get_by_label("陆丰市的通办范围（区划代码）").fill("441581、441521")
    row = page.get_by_role("row", name=re.compile("陆丰市（441581）"))
    await row.get_by_role("button", name="保存").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("已保存陆丰市的实施（第 2 版）")
    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    await screenshot(page, "console-catalogue")

    matter = await (await site.client.get("/api/v1/matters/m-jsgc-xk", headers=site.auth("admin"))).json()
    assert {i["region_code"]: i for i in matter["implementations"]}["441581"] == {
        "region_code": "441581",
        "department_office_id": "dept-441581-sj",
        "scope": ["441581", "441521"],
    }
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="停止办理").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("已停止办理")
    listed = await (await site.client.get("/api/v1/matters", headers=site.auth("clerk-lf"))).json()
    assert "m-jsgc-xk" not in [m["id"] for m in listed["items"]]
    assert errors == []
    await page.context.close()
