"""全程网办 in the console, in Chromium: the window clerk registers an online-mode case, attaches
each material's file and pushes the electronic package; the department clerk opens the package,
downloads a file, signs with a per-item discrepancy, and issues the signed electronic result that
the applicant's tracking page links. axe-core finds no violation on the new screens."""

from __future__ import annotations

import re
from pathlib import Path

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import expect

from adapters.pades import ResultSigner, make_identity, pkcs12_bytes
from tests.integration.api.test_electronic import a_pdf
from tests.integration.api.test_journeys import post
from tests.support.browser import DESKTOP, PHONE, base_url, screenshot

from .test_pages_console import open_console


async def test_an_online_case_is_registered_with_files_pushed_signed_for_and_its_signed_result_issued(site, browser):
    ca = make_identity("测试根证书")
    cert, key = make_identity("汕尾市气象局", issuer=ca)
    site.container.result_signers = {"*": ResultSigner.from_pkcs12(pkcs12_bytes(cert, key, b"", [ca[0]]), None)}

    page, errors = await open_console(browser, site, "clerk-lf", DESKTOP)
    await page.get_by_role("button", name=re.compile("防雷装置竣工验收")).click()
    for name in ["《防雷装置竣工验收申请书》", "防雷装置竣工图纸", "施工单位的资质证", "授权委托书"]:
        await page.get_by_label(f"已收：{name}").check()
    await page.get_by_label("申请人（单位或个人）").fill("张小三")
    await page.get_by_label("联系电话").fill("13812345678")
    await page.get_by_label("办理方式").select_option("online")
    await page.get_by_label("结果送达方式").select_option("electronic")
    await page.get_by_role("button", name="登记收件").click()
    success = page.locator(".card.success")
    await expect(success).to_contain_text("已登记收件")
    await expect(success.get_by_role("button", name="封装材料包")).to_have_count(0)  # no paper, no courier

    panel = page.locator(".files-panel")
    for n, name in enumerate(["《防雷装置竣工验收申请书》", "防雷装置竣工图纸", "施工单位的资质证", "授权委托书"], 1):
        await panel.get_by_label(name).set_input_files(
            {"name": f"扫描件{n}.pdf", "mimeType": "application/pdf", "buffer": a_pdf(n)}
        )
        await expect(panel.locator(f'tr[data-item="{n}"] .file-list li')).to_have_count(1)
    # the new panel (the registration checklist above it has copies inputs without labels: not ours)
    results = await Axe().run(page, context=".files-panel")
    assert results.violations_count == 0, results.generate_report()
    await screenshot(page, "console-online-files")
    await panel.get_by_role("button", name="推送电子材料包").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("已推送至审批部门")
    code = await panel.locator(".package-code").inner_text()
    assert errors == []
    await page.context.close()

    page, errors = await open_console(browser, site, "dept-zj", DESKTOP)
    await page.get_by_label("材料包").fill(code)
    await page.get_by_role("button", name="查找").click()
    files = page.locator(".package-files")
    await expect(files).to_contain_text("电子材料（4 个文件）")
    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    await screenshot(page, "console-package-files")
    await files.get_by_role("button", name="扫描件2.pdf").click()
    await expect(files.get_by_role("link", name="打开：扫描件2.pdf")).to_have_attribute("href", re.compile("^blob:"))
    await page.get_by_label("第 2 项核对结果").select_option("unreadable")
    await page.get_by_role("button", name="签收", exact=True).click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("登记差异 1 项")

    ledger = await (await site.client.get("/api/v1/ledger", headers=site.auth("supervisor"))).json()
    case_id = ledger["items"][0]["case_id"]
    await post(site, f"/api/v1/cases/{case_id}/accept", "dept-zj")
    await post(site, f"/api/v1/cases/{case_id}/decision", "dept-zj", {"outcome": "approved", "opinion": "同意"})
    await page.goto(f"{page.url.split('#')[0]}#/case/{case_id}")
    await expect(page.get_by_role("button", name="签章并电子送达")).to_be_visible()
    # the new form (the case screen's package table has an empty header cell: not ours)
    results = await Axe().run(page, context=".electronic-result")
    assert results.violations_count == 0, results.generate_report()
    await page.get_by_role("button", name="签章并电子送达").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("电子办理结果已签章")
    assert errors == []

    case = await (await site.client.get(f"/api/v1/cases/{case_id}", headers=site.auth("dept-zj"))).json()
    assert case["state"] == "delivered"
    token = site.container.deps.tracking.token_for(case_id)
    tracking = await (await site.client.get(f"/t/{token}")).text()
    assert "下载电子办理结果" in tracking and "第 3 页" not in tracking
    assert "无法识读" in tracking  # where the electronic item stands, with the department's finding
    await page.context.close()

    # the applicant's phone: the tracking page's card, the download, the verification page
    context = await browser.new_context(**PHONE, accept_downloads=True)  # the pages have no script of their own
    phone = await context.new_page()
    await phone.goto(f"{base_url(site)}/t/{token}")
    results = await Axe().run(phone)
    assert results.violations_count == 0, results.generate_report()
    await screenshot(phone, "track-phone-electronic")
    async with phone.expect_download() as downloading:
        await phone.get_by_role("link", name="下载电子办理结果（PDF）").click()
    signed = Path(await (await downloading.value).path()).read_bytes()
    assert signed.startswith(b"%PDF-")
    await phone.goto(f"{base_url(site)}/verify")
    assert (await Axe().run(phone)).violations_count == 0
    await phone.get_by_label("电子办理结果（PDF 文件）").set_input_files(
        {"name": "结果.pdf", "mimeType": "application/pdf", "buffer": signed}
    )
    await phone.get_by_role("button", name="核验").click()
    await expect(phone.locator("main")).to_contain_text("签章有效")
    results = await Axe().run(phone)
    assert results.violations_count == 0, results.generate_report()
    await screenshot(phone, "verify-phone-valid")
    await context.close()
