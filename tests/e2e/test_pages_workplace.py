"""The console as a workplace (issue 17) in a real browser: 待办 with its figure in the navigation
and an item acted upon (the lead's 批阅 moves the copy from 待阅 to 已阅; the department accepts a
case from 待预审受理), the 办件档案 search by every key, the case page with 过程信息 and names
instead of ids, a failed SMS resent after the applicant's phone is corrected, one-click printing
through a hidden frame, and the window's 收取补正材料 and 发放登记 with the applicant's data
prefilled. axe-core reports no violation on any of these screens."""

from __future__ import annotations

import re

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, expect

from adapters.db import domain_tables as t
from tests.integration.api.test_journeys import post, registration
from tests.integration.api.test_pages import decided_case, registered_case
from tests.support.browser import DESKTOP, PHONE, base_url, screenshot

from .test_pages_console import open_console


async def no_violations(page: Page) -> None:
    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


async def forwarded(site, **over) -> tuple[dict, dict]:
    case = await post(site, "/api/v1/cases", "clerk-lf", registration(**over), 201)
    package = await post(site, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    await post(
        site,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    return case, package


async def test_a_lead_remarks_a_copy_from_the_queue_and_it_moves_from_unread_to_read(site, browser):
    case = await post(
        site,
        "/api/v1/cases",
        "clerk-lf",
        registration(
            matter_id="m-jsgc-xk",
            materials=[{"name": "建设工程规划许可申请表"}, {"name": "建设工程设计方案"}],
            tolerated=["土地权属证明"],
        ),
        201,
    )
    await post(site, f"/api/v1/cases/{case['id']}/copies", "dept-zj", {"lead": "lead-zj", "note": "请阅示"})
    page, errors = await open_console(browser, site, "lead-zj", DESKTOP)
    await expect(page.locator("#nav a.active")).to_contain_text("待阅")
    await expect(page.locator('#nav a[data-screen="todo"] .nav-count')).to_have_text("1")
    unread = page.locator('[data-section="unread"]')
    await expect(unread.locator("li")).to_have_count(1)
    await expect(unread).to_contain_text("请阅示")
    await no_violations(page)
    await screenshot(page, "console-lead-todo")
    await unread.get_by_role("link", name=re.compile("批阅")).click()
    await page.get_by_label("批阅意见").fill("同意，按期办结")
    await page.get_by_role("button", name="提交批阅").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("批阅：已完成")
    history = page.locator(".history-card")
    await expect(history.locator("li", has_text="领导批阅")).to_contain_text("黄建国（分管领导）")
    await expect(history.locator("li", has_text="领导批阅")).to_contain_text("同意，按期办结")
    await page.locator('#nav a[data-screen="todo"]').click()
    await expect(page.locator('[data-section="unread"] li')).to_have_count(0)
    await expect(page.locator('[data-section="read"] li')).to_have_count(1)
    await expect(page.locator('[data-section="read"]')).to_contain_text("同意，按期办结")
    await expect(page.locator('#nav a[data-screen="todo"] .nav-count')).to_have_count(0)
    assert errors == []
    await page.context.close()


async def test_a_department_clerk_acts_on_a_prereview_item_and_the_case_shows_names_not_ids(site, browser):
    _case, package = await forwarded(site)
    await post(site, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    page, errors = await open_console(browser, site, "dept-zj", DESKTOP)
    await page.locator('#nav a[data-screen="todo"]').click()
    prereview = page.locator('[data-section="prereview"]')
    await expect(prereview.locator("li")).to_have_count(1)
    await no_violations(page)
    await screenshot(page, "console-dept-todo")
    await prereview.get_by_role("link", name=re.compile("预审受理")).click()
    # the link opened the case with its 受理 form
    await page.get_by_role("button", name="受理（开始计时）").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("受理：已完成")
    body = await page.locator("#view").inner_text()
    assert "陆丰市政务服务中心市域通办窗口" in body and "汕尾市气象局" in body
    for raw in ("win-441581", "dept-441500-qx", "courier-07", "clerk-lf", "dept-zj"):
        assert raw not in body, raw
    history = page.locator(".history-card")
    await expect(history.locator("li", has_text="快递员揽收")).to_contain_text("吴海波（政务专递）")
    await expect(history.locator("li", has_text="受理")).to_contain_text("林志强（市住建局）")
    await no_violations(page)
    await screenshot(page, "console-case-history")
    await page.locator('#nav a[data-screen="todo"]').click()
    await expect(page.locator('[data-section="prereview"] li')).to_have_count(0)
    assert errors == []
    await page.context.close()


async def test_the_archive_finds_a_case_by_each_key(site, browser):
    case, package = await forwarded(site)
    await post(site, "/api/v1/cases", "clerk-lf", registration(applicant={"name": "李四", "phone": "13900001111"}), 201)
    page, errors = await open_console(browser, site, "clerk-lf", DESKTOP)
    await page.locator('#nav a[data-screen="archive"]').click()
    await expect(page.get_by_role("heading", name="办件档案")).to_be_visible()
    await no_violations(page)
    form = page.locator("form.archive-form")
    keys = [
        ("受理编号", case["case_no"]),
        ("材料包编号", package["code"].replace("-", "")),
        ("申请人姓名", "张小三"),
        ("手机号码", "13812345678"),
        ("身份证号", "11010519491231002X"),
    ]
    for label, value in keys:
        await form.get_by_label(label).fill(value)
        await form.get_by_role("button", name="查询").click()
        rows = page.locator(".archive-results tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text(case["case_no"])
        await expect(rows.first).to_contain_text("138****5678")
        await form.get_by_label(label).fill("")
    await form.get_by_label("状态").select_option(label="已流转")
    await form.get_by_role("button", name="查询").click()
    await expect(page.locator(".archive-results tbody tr")).to_have_count(1)
    await screenshot(page, "console-archive")
    await page.locator(".archive-results tbody a").click()
    await expect(page.locator(".case-no")).to_have_text(case["case_no"])
    # the ledger, as filtered, prints in one click too
    await page.locator('#nav a[data-screen="cases"]').click()
    await expect(page.get_by_role("button", name="打印：事项办理台账（PDF）")).to_be_visible()
    await no_violations(page)  # before printing: axe does not look into the browser's PDF viewer
    async with page.expect_response(re.compile(r"/api/v1/ledger/export\?.*format=pdf")) as answered:
        await page.get_by_role("button", name="打印：事项办理台账（PDF）").click()
    assert (await answered.value).headers["content-type"] == "application/pdf"
    await expect(page.locator("iframe#print-frame")).to_have_attribute("src", re.compile("^blob:"))
    assert errors == []
    await page.context.close()


async def test_a_failed_sms_is_resent_to_the_corrected_phone_and_documents_print_in_a_hidden_frame(site, browser):
    case, _ = await registered_case(site)
    async with site.container.engine.begin() as conn:
        await conn.execute(
            t.notifications.insert().values(
                id="sms-failed-1",
                event_id="e-1",
                case_id=case["id"],
                recipient="13812345678",
                audience="applicant",
                template_key="receipt",
                params={},
                status="permanent_failure",
                reason="号码不存在",
                created_at=site.clock.now(),
                updated_at=site.clock.now(),
            )
        )
    page, errors = await open_console(browser, site, "clerk-lf", DESKTOP)
    await page.goto(f"{base_url(site)}/console#/case/{case['id']}")
    sms = page.locator(".sms-card")
    await expect(sms.locator("tr.failed")).to_contain_text("号码不存在")
    await sms.get_by_text("改正申请人手机号码").click()
    await sms.get_by_label("正确的手机号码").fill("13900002222")
    await sms.get_by_role("button", name="保存新号码").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("13900002222")
    await expect(page.locator(".history-card li", has_text="改正申请人手机号码")).to_contain_text(
        "138****5678 → 139****2222"
    )
    await page.locator(".sms-card tr.failed").get_by_role("button", name="重发").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("139****2222")
    await no_violations(page)

    # one click prints: the PDF loads into the hidden frame (no new tab), a download link stays
    pages_before = len(page.context.pages)
    documents = page.locator(".documents-card")
    async with page.expect_response(re.compile(r"/documents/receipt-notice$")) as answered:
        await documents.get_by_role("button", name="打印：申请材料接收通知书").click()
    response = await answered.value
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert int(response.headers["content-length"]) > 1000
    frame = page.locator("iframe#print-frame")
    await expect(frame).to_have_attribute("src", re.compile("^blob:"))
    await expect(frame).to_have_attribute("data-printed", re.compile("^(1|failed)$"))  # its load asked to print
    assert await frame.is_hidden() or (await frame.bounding_box() or {"width": 0})["width"] <= 1
    await expect(documents.get_by_role("link", name="下载：申请材料接收通知书")).to_have_attribute(
        "href", re.compile("^blob:")
    )
    assert len(page.context.pages) == pages_before
    titles = await documents.get_by_role("button").all_inner_texts()
    assert titles == ["打印：申请材料接收通知书", "打印：审批流程登记卡"]  # nothing that does not apply yet
    await screenshot(page, "console-case-documents")
    assert errors == []
    await page.context.close()


async def test_the_window_takes_in_a_supplement_and_registers_pickup_with_the_applicant_prefilled(site, browser):
    # a supplement asked by the department: the window takes it in from its queue
    case, package = await forwarded(site)
    await post(site, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    await post(
        site, f"/api/v1/cases/{case['id']}/supplement", "dept-zj", {"items": ["竣工图纸"], "due_on": "2026-03-10"}
    )
    # and a decided case whose result came back to the window and was signed for there
    done, _ = await decided_case(site)
    await post(site, f"/api/v1/cases/{done['id']}/result", "dept-zj", {})
    full = await (await site.client.get(f"/api/v1/cases/{done['id']}", headers=site.auth("dept-zj"))).json()
    result = next(p for p in full["packages"] if p["direction"] == "result")
    await post(
        site,
        "/api/v1/manifests",
        "dept-zj",
        {"office_id": "dept-441500-qx", "courier": "courier-07", "package_ids": [result["id"]]},
        201,
    )
    await post(site, f"/api/v1/packages/{result['id']}/delivered", "courier-07", {})
    await post(site, f"/api/v1/packages/{result['id']}/sign", "clerk-lf", {"office_id": "win-441581"})
    page, errors = await open_console(browser, site, "clerk-lf", DESKTOP)
    await page.locator('#nav a[data-screen="todo"]').click()
    supplements = page.locator('[data-section="supplements"]')
    await expect(supplements.locator("li")).to_have_count(1)
    await no_violations(page)
    await supplements.get_by_role("link", name=re.compile("收取补正材料")).click()
    taken = page.locator("details", has_text="收取补正/容缺材料")
    await expect(taken.get_by_label("已收：竣工图纸")).to_be_checked()
    await taken.get_by_label("竣工图纸 页数").fill("12")
    await taken.get_by_role("button", name=re.compile("封装补正材料包")).click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("补正材料包")
    await expect(taken.locator(".taken-in")).to_contain_text("打印：转办单")

    await page.locator('#nav a[data-screen="todo"]').click()
    pickup = page.locator('[data-section="pickup"]')
    await expect(pickup.locator("li")).to_have_count(1)
    await pickup.get_by_role("link", name=re.compile("发放登记")).click()
    form = page.locator("details", has_text="发放登记").locator("form")
    await expect(form.get_by_label("领取人姓名")).to_have_value("张小三")
    await expect(form.get_by_label("证件号码")).to_have_attribute("placeholder", re.compile(r"1101\*+002X"))
    await expect(form.get_by_label("证件类型")).to_have_value("resident_id")
    await form.get_by_label("领取方式").select_option(label="窗口现场领取")
    await no_violations(page)
    await form.get_by_role("button", name="发放登记").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("发放登记：已完成")
    await expect(page.locator(".documents-card").get_by_role("button", name="打印：办理结果发放登记")).to_be_visible()
    await expect(page.locator("#view")).to_contain_text("窗口现场领取")
    await screenshot(page, "console-window-pickup")
    assert errors == []
    await page.context.close()


async def test_a_department_closes_an_unsupplemented_case_from_its_queue_with_its_opinion(site, browser):
    case, package = await forwarded(site)
    await post(site, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    await post(
        site, f"/api/v1/cases/{case['id']}/supplement", "dept-zj", {"items": ["竣工图纸"], "due_on": "2026-03-03"}
    )
    site.tick(days=3)  # Thursday: the due date has passed and nothing came
    page, errors = await open_console(browser, site, "dept-zj", DESKTOP)
    await page.locator('#nav a[data-screen="todo"]').click()
    waiting = page.locator('[data-section="supplements"] li')
    await expect(waiting).to_have_count(1)
    await expect(waiting.locator(".late")).to_have_text("已过期限 2026-03-03")
    await waiting.get_by_role("link").click()
    closing = page.locator("details", has_text="补正不来办结（补正期限届满后）")
    await closing.get_by_label("办结意见").fill("申请人逾期未补交竣工图纸")
    await closing.get_by_role("button", name="补正不来办结（补正期限届满后）").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("补正不来办结")
    await expect(page.locator(".case-head .state")).to_have_text("补正不来办结")
    closed = page.locator(".history-card li", has_text="补正不来办结")
    await expect(closed).to_contain_text("林志强（市住建局）")
    await expect(closed).to_contain_text("意见：申请人逾期未补交竣工图纸")
    await no_violations(page)
    await page.locator('#nav a[data-screen="todo"]').click()
    await expect(page.locator('[data-section="supplements"] li')).to_have_count(0)
    assert errors == []
    await page.context.close()


async def test_handled_cases_list_what_the_clerk_did_last_and_open_the_case(site, browser):
    case, package = await forwarded(site)
    site.tick(minutes=5)
    other = await post(site, "/api/v1/cases", "clerk-lf", registration(), 201)
    site.tick(minutes=5)
    await post(site, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    await post(site, f"/api/v1/cases/{case['id']}/accept", "dept-zj", {})
    page, errors = await open_console(browser, site, "clerk-lf", DESKTOP)
    await page.locator('#nav a[data-screen="handled"]').click()
    await expect(page.get_by_role("heading", name="已办办件")).to_be_visible()
    rows = page.locator(".handled-results tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text(other["case_no"])
    await expect(rows.first).to_contain_text("窗口收件登记")
    await expect(rows.nth(1)).to_contain_text("交接快递员")
    await expect(rows.nth(1)).to_contain_text("已受理")  # the case's state now, after the department's step
    await no_violations(page)
    await screenshot(page, "console-handled")
    form = page.locator("form.handled-form")
    await form.get_by_label("当前状态").select_option(label="已受理")
    await form.get_by_role("button", name="查询").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(case["case_no"])
    await form.get_by_label("办理日期从").fill("2020-01-01")
    await form.get_by_label("至").fill("2020-01-31")
    await form.get_by_role("button", name="查询").click()
    await expect(page.locator(".handled-results")).to_contain_text("没有符合条件的已办办件")
    await form.get_by_label("办理日期从").fill("")
    await form.get_by_label("至").fill("")
    await form.get_by_role("button", name="查询").click()
    await rows.first.get_by_role("link", name=case["case_no"]).click()
    await expect(page.locator(".case-no")).to_have_text(case["case_no"])
    body = await page.locator("#view").inner_text()
    assert "clerk-lf" not in body and "win-441581" not in body
    assert errors == []
    await page.context.close()
    # the department clerk sees its own step, not the window's
    page, errors = await open_console(browser, site, "dept-zj", DESKTOP)
    await page.locator('#nav a[data-screen="handled"]').click()
    rows = page.locator(".handled-results tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("受理")
    await no_violations(page)
    assert errors == []
    await page.context.close()


async def test_the_courier_has_its_todo_on_the_phone_with_the_figure_in_the_navigation(site, browser):
    waiting = await post(site, "/api/v1/cases", "clerk-lf", registration(), 201)
    sealed = await post(site, f"/api/v1/cases/{waiting['id']}/packages", "clerk-lf", {}, 201)
    _case, package = await forwarded(site)
    page, errors = await open_console(browser, site, "courier-07", PHONE)
    await expect(page.locator('#nav a[data-screen="todo"] .nav-count')).to_have_text("2")
    await page.locator('#nav a[data-screen="todo"]').click()
    to_pick = page.locator('[data-section="to_pick_up"]')
    await expect(to_pick.locator("li")).to_have_count(1)
    await expect(to_pick).to_contain_text(sealed["code"])
    await expect(page.locator('[data-section="in_hand"]')).to_contain_text(package["code"])
    await expect(page.locator('[data-section="delivered_today"]')).to_contain_text("暂无")
    body = await page.locator("#view").inner_text()
    assert "win-441581" not in body and "courier-07" not in body
    await no_violations(page)
    await screenshot(page, "console-courier-todo")
    await to_pick.get_by_role("link", name=re.compile("揽收")).click()
    await expect(page.locator("#nav a.active")).to_have_text("快递上报")
    assert errors == []
    await page.context.close()


async def test_the_supervisor_and_the_admin_see_their_todo(site, browser):
    case = await post(site, "/api/v1/cases", "clerk-lf", registration(), 201)
    _stuck, _package = await forwarded(site)
    async with site.container.engine.begin() as conn:
        await conn.execute(
            t.notifications.insert().values(
                id="sms-unknown-1",
                event_id="e-1",
                case_id=case["id"],
                recipient="13812345678",
                audience="applicant",
                template_key="receipt",
                params={},
                status="technical_failure",
                reason="服务商无法确认是否送达",
                created_at=site.clock.now(),
                updated_at=site.clock.now(),
            )
        )
    site.tick(days=7)  # the package handed to the courier has not moved for five working days
    page, errors = await open_console(browser, site, "supervisor", DESKTOP)
    await expect(page.locator('#nav a[data-screen="todo"] .nav-count')).to_have_text("1")
    await page.locator('#nav a[data-screen="todo"]').click()
    stalled = page.locator('[data-section="stalled"]')
    await expect(stalled.locator("li")).to_have_count(1)
    await no_violations(page)
    await screenshot(page, "console-supervisor-todo")
    await stalled.get_by_role("link", name=re.compile("追查")).click()
    await expect(page.locator(".case-no")).to_be_visible()
    assert errors == []
    await page.context.close()

    page, errors = await open_console(browser, site, "admin", DESKTOP)
    await expect(page.locator('#nav a[data-screen="todo"] .nav-count')).to_have_text("1")
    await page.locator('#nav a[data-screen="todo"]').click()
    failed = page.locator('[data-section="sms_failed"]')
    await expect(failed.locator("li")).to_have_count(1)
    await expect(failed).to_contain_text("收件回执短信")
    await no_violations(page)
    await screenshot(page, "console-admin-todo")
    await failed.get_by_role("link").click()
    await expect(page.locator(".sms-card tr.failed")).to_contain_text("服务商无法确认是否送达")
    assert errors == []
    await page.context.close()
