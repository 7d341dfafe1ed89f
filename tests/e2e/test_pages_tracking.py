"""The applicant's tracking page /t/{token} in a real browser on a phone-sized screen."""

from __future__ import annotations

from tests.integration.api.test_journeys import post
from tests.integration.api.test_pages import decided_case, registered_case
from tests.support.browser import PHONE, base_url, screenshot


async def test_the_applicant_opens_the_link_on_a_phone_and_sees_the_timeline_masked_name_and_due_date(site, browser):
    case, token = await decided_case(site, open_stage=True)
    tracking = await (await site.client.get(f"/api/v1/track/{token}")).json()
    context = await browser.new_context(**PHONE, java_script_enabled=False)
    page = await context.new_page()
    response = await page.goto(f"{base_url(site)}/t/{token}")
    assert response is not None and response.status == 200
    await screenshot(page, "track-phone-in-review")

    assert await page.locator("h1").inner_text() == "防雷装置竣工验收"
    body = await page.locator("body").inner_text()
    assert case["case_no"] in body and "审查中" in body
    assert "张*三" in body and "138****5678" in body
    assert "11010519491231002X" not in await page.content() and "张小三" not in body
    due = tracking["due_date"]
    year, month, day = (int(part) for part in due.split("-"))
    assert f"{year}年{month}月{day}日" in await page.locator(".due strong").inner_text()
    assert "暂停计时" in await page.locator(".pause").inner_text()
    timeline = await page.locator(".timeline li p").all_inner_texts()
    assert timeline[-1] == "窗口收件" and "已受理" in timeline
    assert timeline[0].startswith("进入特殊环节：勘验（需现场勘验防雷装置）")
    assert await page.locator(".stage").count() == 1
    # Nothing is wider than the phone: no sideways scrolling.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await context.close()


async def test_after_delivery_the_applicant_rates_the_service_through_the_form_and_sees_the_rating(site, browser):
    case, token = await decided_case(site)
    cid = case["id"]
    await post(site, f"/api/v1/cases/{cid}/result", "dept-zj", {})
    full = await (await site.client.get(f"/api/v1/cases/{cid}", headers=site.auth("clerk-lf"))).json()
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
    await post(
        site,
        f"/api/v1/cases/{cid}/pickup",
        "clerk-lf",
        {
            "office_id": "win-441581",
            "receiver_name": "张小三",
            "by_proxy": False,
            "receiver_id_number": "11010519491231002X",
        },
    )

    context = await browser.new_context(**PHONE, java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{base_url(site)}/t/{token}")
    assert await page.locator(".state").inner_text() == "已送达"
    await screenshot(page, "track-phone-delivered")

    # A bad rating without a reason is refused with a clear Chinese message, and nothing is recorded.
    await page.get_by_label("1 分 · 非常不满意").check()
    await page.get_by_role("button", name="提交评价").click()
    assert "请写明不满意的原因" in await page.locator(".flash.bad").inner_text()
    await screenshot(page, "track-phone-rating-refused")

    await page.get_by_label("5 分 · 非常满意").check()
    await page.get_by_label("评价内容").fill("不用跑市区，很方便")
    await page.get_by_role("button", name="提交评价").click()
    assert page.url.endswith("?rated=1#rating")
    assert "感谢您的评价" in await page.locator(".flash.ok").inner_text()
    rating = await page.locator("#rating").inner_text()
    assert "5 分 · 非常满意" in rating and "不用跑市区，很方便" in rating
    assert await page.locator("form").count() == 0
    await screenshot(page, "track-phone-rated")

    # Reloading the page after the redirect does not post again.
    await page.reload()
    tracked = await (await site.client.get(f"/api/v1/track/{token}")).json()
    assert tracked["rating"] == {"score": 5, "comment": "不用跑市区，很方便", "at": tracked["rating"]["at"]}
    await context.close()


async def test_a_wrong_token_shows_the_chinese_404_page(site, browser):
    await registered_case(site)
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    response = await page.goto(f"{base_url(site)}/t/ABCDEFGHJKMNP")
    assert response is not None and response.status == 404
    assert await page.locator("h1").inner_text() == "链接无效或已失效"
    assert "请核对短信中的链接是否完整" in await page.locator("body").inner_text()
    await screenshot(page, "track-phone-404")
    await context.close()
