"""The staff console /console in a real browser: signing in with a user name and a password (a
wrong one first, the lock-out, axe-core on the login screen), the window clerk's registration with
the one-time notice of everything missing, the hand-over with the courier picker, the department
clerk's scan-and-sign and the copy to a lead picked by name, and the courier's offline queue that
delivers a report exactly once."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, Route, expect

from tests.integration.api.test_journeys import post
from tests.integration.api.test_pages import registered_case
from tests.integration.api.test_sessions import PASSWORD, give_password
from tests.support.browser import DESKTOP, PHONE, base_url, screenshot


async def new_page(browser, device: dict) -> tuple[Page, list[str]]:
    """A fresh browser context; the list collects every script error (an HTTP error answer that
    the page shows to the user is not one)."""
    context = await browser.new_context(**device)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    return page, errors


async def sign_in(page: Page, user: str, password: str) -> None:
    await page.get_by_label("用户名").fill(user)
    await page.get_by_label("密码", exact=True).fill(password)
    await page.get_by_role("button", name="登录", exact=True).click()


async def open_console(browser, site, user: str, device: dict) -> tuple[Page, list[str]]:
    """A fresh browser context signed in as USER with a password."""
    await give_password(site, user)
    page, errors = await new_page(browser, device)
    await page.goto(f"{base_url(site)}/console")
    await sign_in(page, user, PASSWORD)
    await expect(page.locator("#who")).to_contain_text("退出")
    return page, errors


async def custody_kinds(site, package_id: str) -> list[dict]:
    response = await site.client.get(f"/api/v1/packages/{package_id}/custody", headers=site.auth("supervisor"))
    return (await response.json())["events"]


async def test_a_window_clerk_registers_sees_the_whole_missing_list_then_registers_completely_and_seals(site, browser):
    page, errors = await open_console(browser, site, "clerk-lf", DESKTOP)
    await expect(page.locator("#nav a.active")).to_have_text("收件登记")
    await page.get_by_role("button", name=re.compile("防雷装置竣工验收")).click()

    await page.get_by_label("已收：《防雷装置竣工验收申请书》").check()
    await page.get_by_label("申请人（单位或个人）").fill("张小三")
    await page.get_by_label("联系电话").fill("13812345678")
    await page.get_by_label("身份证号").fill("11010519491231002X")
    await page.get_by_role("button", name="登记收件").click()

    alert = page.locator("#messages .alert.error")
    await expect(alert).to_contain_text("材料清单缺少")
    assert await alert.locator(".missing-list li").all_inner_texts() == [
        "防雷装置竣工图纸",
        "施工单位的资质证",
        "授权委托书",
    ]
    assert await page.locator("tr.is-missing").count() == 3
    await screenshot(page, "console-desktop-missing")
    ledger = await (await site.client.get("/api/v1/ledger", headers=site.auth("supervisor"))).json()
    assert ledger["items"] == []  # nothing registered

    await page.get_by_label("已收：防雷装置竣工图纸").check()
    await page.get_by_label("已收：施工单位的资质证").check()
    await page.get_by_label("容缺：授权委托书").check()
    await page.get_by_role("button", name="登记收件").click()
    success = page.locator(".card.success")
    await expect(success).to_contain_text("已登记收件")
    case_no = await success.locator(".case-no").inner_text()
    assert re.fullmatch(r"441581-20260302-\d{4}-[0-9X]", case_no)
    assert "授权委托书" in await success.inner_text()  # the IOU with its due date

    await page.get_by_role("button", name="封装材料包").click()
    code = await success.locator(".package-code").inner_text()
    await expect(page.locator("#messages .alert.ok")).to_contain_text(f"材料包 {code} 已封装")
    await screenshot(page, "console-desktop-registered")

    ledger = await (await site.client.get("/api/v1/ledger", headers=site.auth("supervisor"))).json()
    assert [row["case_no"] for row in ledger["items"]] == [case_no]
    full = await (
        await site.client.get(f"/api/v1/cases/{ledger['items'][0]['case_id']}", headers=site.auth("clerk-lf"))
    ).json()
    assert [(p["code"], p["state"]) for p in full["packages"]] == [(code, "sealed")]
    assert [m["name"] for m in full["materials"]] == [
        "《防雷装置竣工验收申请书》",
        "防雷装置竣工图纸",
        "施工单位的资质证",
    ]

    # The receipt notice: a PDF through the Authorization header where the server offers it.
    spec = await (await site.client.get("/api/v1/openapi.json")).json()
    await page.get_by_role("button", name="接收通知书").click()
    if any(path.endswith("/documents/receipt-notice") for path in spec["paths"]):
        # one click prints it from a hidden frame; the download link is the fallback
        await expect(page.locator("iframe#print-frame")).to_have_attribute("src", re.compile("^blob:"))
        await expect(page.get_by_role("link", name="下载：接收通知书")).to_have_attribute("href", re.compile("^blob:"))
    else:
        await expect(page.locator("#messages .alert.error")).to_contain_text("下载接口尚未开放")
    assert errors == []
    await page.context.close()


async def test_a_department_clerk_scans_a_package_signs_with_a_discrepancy_and_accepts_the_case(site, browser):
    case, _ = await registered_case(site)
    package = await post(site, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    await post(
        site,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    page, errors = await open_console(browser, site, "dept-zj", DESKTOP)
    await expect(page.locator("#nav a.active")).to_have_text("扫码签收")
    await page.get_by_label("材料包").fill(package["scan_payload"])
    await page.get_by_role("button", name="查找").click()
    await expect(page.locator(".package .package-code")).to_have_text(package["code"])
    await page.get_by_label("第 2 项核对结果").select_option("pages_differ")
    await page.locator("input[name=pages-2]").fill("11")
    await screenshot(page, "console-desktop-sign")
    await page.get_by_role("button", name="签收", exact=True).click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("登记差异 1 项")
    signed = (await custody_kinds(site, package["id"]))[-1]
    assert signed["kind"] == "signed" and signed["discrepancies"][0]["actual_pages"] == 11

    await page.get_by_role("link", name="打开办件").click()
    await expect(page.locator(".case-head .state")).to_have_text("已接收")
    await page.get_by_text("受理", exact=True).click()
    await page.get_by_role("button", name="受理（开始计时）").click()
    await expect(page.locator(".case-head .state")).to_have_text("已受理")
    await expect(page.locator(".due-date")).to_have_text("2026-03-03")
    await screenshot(page, "console-desktop-case")
    assert errors == []
    await page.context.close()


async def test_a_courier_reports_offline_and_the_queued_report_is_delivered_exactly_once(site, browser):
    case, _ = await registered_case(site)
    package = await post(site, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    page, errors = await open_console(browser, site, "courier-07", PHONE)
    phone_time = datetime(2026, 3, 2, 1, 27, tzinfo=UTC)  # three minutes before the server's clock (and the sealing)
    await page.clock.set_fixed_time(phone_time)
    await expect(page.locator("#nav a.active")).to_have_text("快递上报")

    await page.context.set_offline(True)
    await expect(page.locator(".network")).to_contain_text("离线")
    await page.get_by_label("材料包编号").fill(package["code"])
    await page.get_by_role("button", name="揽收", exact=True).click()
    await expect(page.locator("#pending-count")).to_have_text("1")
    await screenshot(page, "console-phone-courier-offline")
    assert [e["kind"] for e in await custody_kinds(site, package["id"])] == ["created", "sealed"]

    # Back online, the first attempt reaches the server but its answer is lost on the way back.
    keys: list[str] = []

    async def lose_the_first_answer(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            await route.fetch()
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/api/v1/packages/*/picked-up", lose_the_first_answer)
    await page.context.set_offline(False)
    await expect(page.locator("#pending li small")).to_contain_text("已尝试 1 次")
    assert [e["kind"] for e in await custody_kinds(site, package["id"])][-1] == "picked_up"
    await expect(page.locator("#pending-count")).to_have_text("1")

    async with page.expect_response("**/picked-up") as answer:
        await page.get_by_role("button", name="立即发送").click()
    assert (await answer.value).headers.get("idempotent-replayed") == "true"
    await expect(page.locator("#pending-count")).to_have_text("0")
    await expect(page.locator("#sent li").first).to_contain_text("快递员已揽收")
    await screenshot(page, "console-phone-courier-sent")

    assert len(keys) == 2 and keys[0] == keys[1]
    events = await custody_kinds(site, package["id"])
    picked = [e for e in events if e["kind"] == "picked_up"]
    assert len(picked) == 1
    assert datetime.fromisoformat(picked[0]["client_time"]) == phone_time
    assert errors == []
    await page.context.close()


async def test_a_clerk_signs_in_after_a_wrong_password_on_a_login_screen_without_accessibility_violations(
    site, browser
):
    await give_password(site, "clerk-lf")
    page, errors = await new_page(browser, DESKTOP)
    await page.goto(f"{base_url(site)}/console")
    await expect(page.get_by_role("heading", name="登录工作台")).to_be_visible()
    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    await screenshot(page, "console-desktop-login")

    await sign_in(page, "clerk-lf", "not-my-password")
    await expect(page.locator("#messages .alert.error")).to_contain_text("用户名或密码不正确")
    assert (await Axe().run(page)).violations_count == 0
    await sign_in(page, "clerk-lf", PASSWORD)
    await expect(page.locator("#who")).to_contain_text("陈晓红（陆丰窗口）")
    await expect(page.locator("#nav a.active")).to_have_text("收件登记")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["handoff_session"]["httpOnly"] and cookies["handoff_session"]["sameSite"] == "Strict"
    assert not cookies["handoff_csrf"]["httpOnly"]

    await page.get_by_role("button", name="退出").click()
    await expect(page.get_by_role("heading", name="登录工作台")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("heading", name="登录工作台")).to_be_visible()  # the session is over
    assert errors == []
    await page.context.close()


async def test_five_wrong_passwords_lock_the_user_out_and_the_console_says_how_long_to_wait(site, browser):
    await give_password(site, "dept-zj")
    page, errors = await new_page(browser, DESKTOP)
    await page.goto(f"{base_url(site)}/console")
    for _ in range(4):
        await sign_in(page, "dept-zj", "wrong-password")
        await expect(page.locator("#messages .alert.error")).to_contain_text("用户名或密码不正确")
        await page.locator("#messages").evaluate("el => el.replaceChildren()")
    await sign_in(page, "dept-zj", "wrong-password")
    await expect(page.locator("#messages .alert.error")).to_contain_text("账号已暂时锁定，请 1 分钟后再试")
    await sign_in(page, "dept-zj", PASSWORD)  # right, but locked
    await expect(page.locator("#messages .alert.error")).to_contain_text("账号已暂时锁定")
    await screenshot(page, "console-desktop-locked")
    site.tick(seconds=61)
    await sign_in(page, "dept-zj", PASSWORD)
    await expect(page.locator("#who")).to_contain_text("退出")
    assert errors == []
    await page.context.close()


async def test_a_window_clerk_hands_a_package_kept_across_tabs_to_a_courier_chosen_by_name_from_the_picker(
    site, browser
):
    case, _ = await registered_case(site)
    package = await post(site, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    page, errors = await open_console(browser, site, "clerk-lf", DESKTOP)
    await page.goto(f"{base_url(site)}/console#/handover")
    await page.get_by_label("加入材料包").fill(package["code"])
    await page.get_by_role("button", name="加入", exact=True).click()
    await expect(page.locator("td.package-code")).to_have_text(package["code"])
    # the batch survives the tab: closed, then the console opened again in a new tab
    context = page.context
    await page.close()
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{base_url(site)}/console#/handover")
    await expect(page.locator("td.package-code")).to_have_text(package["code"])
    picker = page.get_by_label("快递员")
    await expect(picker.locator("option", has_text="吴海波（政务专递）")).to_have_count(1)
    offered = await picker.locator("option").all_inner_texts()
    assert "外地快递员" not in offered  # courier-x serves another region
    assert not any("courier-" in text for text in offered)  # names, never ids
    await picker.select_option(label="吴海波（政务专递）")
    await screenshot(page, "console-desktop-handover-picker")
    await page.get_by_role("button", name="交接给快递员（生成交接单）").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("已交接 1 个材料包给快递员 吴海波（政务专递）")
    await expect(page.locator(".card.success")).to_contain_text("吴海波（政务专递）")
    handed = (await custody_kinds(site, package["id"]))[-1]
    assert (handed["kind"], handed["to_party"]) == ("picked_up", "courier:courier-07"), handed
    assert errors == []
    await page.context.close()


async def test_a_department_clerk_copies_a_case_to_a_lead_chosen_by_name_from_the_picker(site, browser):
    case, _ = await registered_case(site)
    assert case["department_office_id"] == "dept-441500-qx"  # 防雷装置竣工验收: the weather bureau
    lead = {"user_id": "lead-qx", "name": "蔡文辉", "role": "dept_lead", "scope": "office:dept-441500-qx"}
    await post(site, "/api/v1/admin/tokens", "admin", lead, 201)
    page, errors = await open_console(browser, site, "dept-zj", DESKTOP)
    await page.goto(f"{base_url(site)}/console#/case/{case['id']}")
    await page.get_by_text("抄送分管领导", exact=True).first.click()
    picker = page.get_by_label("分管领导")
    await expect(picker.locator("option", has_text="蔡文辉")).to_have_count(1)
    offered = await picker.locator("option").all_inner_texts()
    assert "黄建国（分管领导）" not in offered  # the lead of another department
    assert not any("lead-" in text for text in offered)
    await picker.select_option(label="蔡文辉")
    await page.get_by_label("说明").fill("请阅示")
    await page.get_by_role("button", name="抄送分管领导").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("抄送分管领导：已完成")
    full = await (await site.client.get(f"/api/v1/cases/{case['id']}", headers=site.auth("dept-zj"))).json()
    assert [(c["lead"], c["note"]) for c in full["lead_copies"]] == [("lead-qx", "请阅示")]
    copies = page.locator("p", has_text="请阅示")
    await expect(copies).to_contain_text("蔡文辉（")
    await expect(copies).not_to_contain_text("lead-qx")
    assert errors == []
    await page.context.close()


async def test_a_lead_sees_their_name_once_in_the_header_changes_their_password_and_signs_in_with_the_new_one(
    site, browser
):
    page, errors = await open_console(browser, site, "lead-zj", DESKTOP)
    await expect(page.locator("#who span")).to_have_text("黄建国（分管领导）")
    await page.get_by_role("link", name="修改密码").click()
    await page.get_by_label("原密码").fill(PASSWORD)
    await page.get_by_label("新密码", exact=True).fill("lead-zj")
    await page.get_by_label("再次输入新密码").fill("lead-zj")
    await page.get_by_role("button", name="修改密码").click()
    assert not await page.get_by_label("新密码", exact=True).evaluate("el => el.validity.valid")  # under 10
    await page.get_by_label("新密码", exact=True).fill("汕尾-黄建国-2026")
    await page.get_by_label("再次输入新密码").fill("汕尾-黄建国-2025")
    await page.get_by_role("button", name="修改密码").click()
    await expect(page.locator("#messages .alert.error")).to_contain_text("两次输入的新密码不一致")
    await page.get_by_label("再次输入新密码").fill("汕尾-黄建国-2026")
    await page.get_by_role("button", name="修改密码").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("密码已修改")
    await page.get_by_role("button", name="退出").click()
    await sign_in(page, "lead-zj", PASSWORD)
    await expect(page.locator("#messages .alert.error")).to_contain_text("用户名或密码不正确")
    await sign_in(page, "lead-zj", "汕尾-黄建国-2026")
    await expect(page.locator("#who span")).to_have_text("黄建国（分管领导）")
    assert errors == []
    await page.context.close()


async def test_after_an_admins_reset_the_user_must_set_a_new_password_before_anything_else(site, browser):
    await give_password(site, "clerk-lf")
    reset = await post(site, "/api/v1/admin/users/clerk-lf/password", "admin", None, 200)
    page, errors = await new_page(browser, DESKTOP)
    await page.goto(f"{base_url(site)}/console")
    await sign_in(page, "clerk-lf", reset["password"])
    await expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    assert await page.locator("#nav a").count() == 0
    await page.get_by_label("管理员提供的一次性密码").fill(reset["password"])
    await page.get_by_label("新密码", exact=True).fill("陆丰-陈晓红-2026")
    await page.get_by_label("再次输入新密码").fill("陆丰-陈晓红-2026")
    await page.get_by_role("button", name="修改密码").click()
    await expect(page.locator("#nav a.active")).to_have_text("收件登记")
    await expect(page.locator("#messages .alert.ok")).to_contain_text("密码已修改")
    assert errors == []
    await page.context.close()
