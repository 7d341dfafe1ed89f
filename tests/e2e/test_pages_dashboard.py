"""The supervisor's dashboard and the admin's screens in a real browser (Chromium): the charts are
drawn (a canvas each) with the API's own figures as their series, a figure drills down to its cases
and one is put under 督办, which the department then finds in its queue and answers; the admin
edits an office's opening hours, disables a user and resets a password, and reads the calendar,
parked messages and the audit log. axe-core finds no violation on any of these screens."""

from __future__ import annotations

import re

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import expect

from tests.e2e.test_pages_console import open_console
from tests.integration.api.test_dashboard import command, project, received
from tests.support.browser import DESKTOP, screenshot


async def no_violations(page) -> None:
    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


async def series(page, chart_id: str) -> list[list]:
    return await page.evaluate(
        """(id) => echarts.getInstanceByDom(document.getElementById(id)).getOption().series.map((s) => s.data)""",
        chart_id,
    )


async def test_the_supervisor_reads_the_charts_drills_down_and_puts_a_case_under_supervision(site, browser):
    decided = await received(site)
    await command(site, decided, "accept")
    await command(site, decided, "decide", outcome="approved", opinion="同意")
    await command(site, decided, "rate", actor="applicant", score=1, comment="窗口态度差")
    running = await received(site)
    await command(site, running, "accept")
    await project(site)

    page, errors = await open_console(browser, site, "supervisor", DESKTOP)
    await expect(page.locator("#nav a.active")).to_have_text("监管看板")
    await expect(page.locator("#chart-groups canvas")).to_have_count(1)
    await expect(page.locator("#chart-trend canvas")).to_have_count(1)
    await expect(page.get_by_role("heading", name="差评与整改（1）")).to_be_visible()

    query = {"from": "2026-01-01", "to": await page.locator("#dash-to").input_value()}
    grouped = await (
        await site.client.get(
            "/api/v1/dashboard", params={**query, "group": "window_region"}, headers=site.auth("supervisor")
        )
    ).json()
    trend = await (
        await site.client.get("/api/v1/dashboard", params={**query, "group": "month"}, headers=site.auth("supervisor"))
    ).json()
    assert await series(page, "chart-groups") == [
        [g["figures"][name] for g in grouped["groups"]] for name in ("cases", "decided", "overdue")
    ]
    cases, rates = await series(page, "chart-trend")
    assert cases == [g["figures"]["cases"] for g in trend["groups"]] == [2]
    assert rates == [round(g["figures"]["completion_rate"] * 1000) / 10 for g in trend["groups"]]
    await no_violations(page)
    await screenshot(page, "dashboard-supervisor")

    # the cases behind 办件数 of 陆丰市, and one of them put under 督办
    row = page.locator("table.figures-table tbody tr", has_text="陆丰市")
    await row.locator('td[data-name="cases"] button').click()
    await expect(page.locator("#drill-title")).to_contain_text("办件 2 件")
    drill_row = page.locator(f'table.drill tr[data-case-id="{running}"]')
    await drill_row.get_by_placeholder("督办意见").fill("请加快办理")
    await drill_row.get_by_role("button", name="督办").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("已督办")
    await expect(page.locator("#supervision-title")).to_have_text("督办（1 件待答复）")
    await no_violations(page)
    await screenshot(page, "dashboard-drill-down")
    assert errors == []
    await page.context.close()

    # the department finds it in its queue and answers it
    page, errors = await open_console(browser, site, "dept-zj", DESKTOP)
    await page.get_by_role("link", name="督办").click()
    await expect(page.get_by_role("heading", name="督办")).to_be_visible()
    queued = page.locator(f'tr[data-case-id="{running}"]')
    await expect(queued).to_contain_text("请加快办理")
    await no_violations(page)
    await queued.get_by_placeholder("办理情况").fill("已加快，明日办结")
    await queued.get_by_role("button", name="答复").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("已答复督办")
    await expect(queued).to_have_attribute("data-open", "false")
    await expect(page.locator("#supervision-count")).to_have_text("待答复 0 件。")
    await screenshot(page, "dashboard-department-supervision")
    assert errors == []
    await page.context.close()


async def test_the_admin_edits_an_office_disables_a_user_resets_a_password_and_reads_the_log(site, browser):
    page, errors = await open_console(browser, site, "admin", DESKTOP)
    await expect(page.locator("#nav a.active")).to_have_text("系统管理")
    office = page.locator('tr[data-id="win-441581"]')
    await office.locator("summary").click()
    await office.get_by_label("办公时间").fill("工作日 8:30–12:00，14:30–17:30")
    await office.get_by_role("button", name="保存").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("已保存")
    await expect(page.locator('tr[data-id="win-441581"]')).to_contain_text("工作日 8:30–12:00，14:30–17:30")
    await no_violations(page)
    await screenshot(page, "admin-offices")

    await page.get_by_role("link", name="用户").click()
    courier = page.locator('tr[data-id="courier-07"]')
    await courier.get_by_role("button", name="停用").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("已停用")
    await expect(page.locator('tr[data-id="courier-07"]')).to_contain_text("已停用")
    clerk = page.locator('tr[data-id="clerk-lf"]')
    await clerk.get_by_role("button", name="重置密码").click()
    await expect(clerk.locator(".one-time code")).to_have_text(re.compile(r"^\S{10,}$"))
    await no_violations(page)
    await screenshot(page, "admin-users")

    await page.get_by_role("link", name="节假日").click()
    await expect(page.locator("#covered-years")).to_contain_text("2026")
    await expect(page.locator("#covered-years")).not_to_contain_text("2027")
    await page.get_by_label("年份").fill("2027")
    await page.get_by_label("依据（国务院办公厅通知）").fill("国务院办公厅关于2027年部分节假日安排的通知")
    await page.get_by_label("放假日期（每行一个 YYYY-MM-DD）").fill("2027-01-01\n2027-01-02\n2027-01-03")
    await page.get_by_label("调休上班日期（每行一个）").fill("2027-02-07")
    await page.get_by_role("button", name="上传").click()
    await expect(page.locator("#messages .alert.ok")).to_contain_text("已载入 2027 年：3 个放假日，1 个调休上班日")
    await expect(page.locator("#covered-years")).to_contain_text("2027")
    await no_violations(page)
    await screenshot(page, "admin-calendar")
    await page.get_by_role("link", name="停放消息").click()
    await expect(page.get_by_role("heading", name="停放消息：notifications", exact=False)).to_be_visible()
    await no_violations(page)
    await page.get_by_role("link", name="操作日志").click()
    log = page.locator("#audit-log tbody tr")
    await expect(log.first).to_contain_text("上传节假日安排")
    await expect(page.locator("#audit-log")).to_contain_text("修改单位")
    await expect(page.locator("#audit-log")).to_contain_text("上传节假日安排")
    await no_violations(page)
    await screenshot(page, "admin-audit")
    assert errors == []
    await page.context.close()
