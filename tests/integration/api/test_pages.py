"""The pages over HTTP (no browser): the applicant's tracking page /t/{token} with its headers,
404 page and rating form (post/redirect/get), the console's static files, and GET /api/v1/me
that the console starts from. The same pages in a real browser: tests/e2e/test_pages_*.py."""

from __future__ import annotations

import re

import pytest

from .test_journeys import post, registration

pytestmark = pytest.mark.integration

ALL_LIGHTNING = [
    {"name": "《防雷装置竣工验收申请书》", "pages": 3},
    {"name": "防雷装置竣工图纸", "pages": 12, "copies": 2},
    {"name": "施工单位的资质证", "original": False},
    {"name": "授权委托书"},
]


async def registered_case(api) -> tuple[dict, str]:
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(materials=ALL_LIGHTNING, tolerated=[]), 201)
    return case, case["tracking_url"].rsplit("/", 1)[1]


async def decided_case(api, open_stage: bool = False) -> tuple[dict, str]:
    """A case taken by the API from the window to 办结 (the applicant may rate it then)."""
    case, token = await registered_case(api)
    cid = case["id"]
    package = await post(api, f"/api/v1/cases/{cid}/packages", "clerk-lf", {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    await post(api, f"/api/v1/packages/{package['id']}/in-transit", "courier-07", {"place": "陆丰中转站"})
    api.tick(hours=2)
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    await post(api, f"/api/v1/cases/{cid}/accept", "dept-zj")
    if open_stage:
        api.tick(hours=1)
        await post(
            api,
            f"/api/v1/cases/{cid}/stages",
            "dept-zj",
            {"stage_type": "inspection", "reason": "需现场勘验防雷装置", "legal_basis": "行政许可法第四十五条"},
        )
        return case, token
    api.tick(hours=1)
    await post(api, f"/api/v1/cases/{cid}/decision", "dept-zj", {"outcome": "approved", "opinion": "验收合格"})
    return case, token


async def page(api, path: str) -> tuple[int, str, dict]:
    response = await api.client.get(path, allow_redirects=False)
    return response.status, await response.text(), dict(response.headers)


def check_private_headers(headers: dict) -> None:
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Robots-Tag"].startswith("noindex")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp and "script-src" not in csp


async def test_the_tracking_page_shows_the_case_masked_and_never_the_id_number(api):
    case, token = await decided_case(api, open_stage=True)
    status, text, headers = await page(api, f"/t/{token}")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    check_private_headers(headers)
    assert "防雷装置竣工验收" in text and case["case_no"] in text
    assert "张*三" in text and "138****5678" in text
    assert "张小三" not in text and "13812345678" not in text and "11010519491231002X" not in text
    assert "审查中" in text and "暂停计时" in text and "需现场勘验防雷装置" in text and "行政许可法第四十五条" in text
    assert "承诺办结日期" in text and "窗口收件" in text and "已受理" in text
    assert "<script" not in text and 'name="score"' not in text  # not finished: no rating form yet


async def test_a_due_date_in_a_year_without_a_holiday_schedule_is_shown_as_provisional_with_the_reason(api):
    from datetime import UTC, datetime

    api.clock.at = datetime(2026, 12, 28, 1, 30, tzinfo=UTC)  # a 1-day limit ends in 2027
    case = await post(
        api,
        "/api/v1/cases",
        "clerk-lf",
        registration(
            matter_id="m-jsgc-xk",
            tolerated=[],
            materials=[{"name": "建设工程规划许可申请表"}, {"name": "建设工程设计方案"}, {"name": "土地权属证明"}],
        ),
        201,
    )
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-zj"})
    await post(api, f"/api/v1/cases/{case['id']}/accept", "dept-zj")
    token = case["tracking_url"].rsplit("/", 1)[1]
    tracking = await (await api.client.get(f"/api/v1/track/{token}")).json()
    assert tracking["clock"]["provisional"] and "2027" in tracking["clock"]["provisional_reason"]
    _, text, _ = await page(api, f"/t/{token}")
    assert "以上日期为暂定" in text and tracking["clock"]["provisional_reason"] in text


async def test_the_inline_style_is_allowed_by_its_hash_and_nothing_else(api):
    import base64
    import hashlib

    _, token = await registered_case(api)
    _, text, headers = await page(api, f"/t/{token}")
    css = re.search(r"<style>(.*?)</style>", text, re.S)
    assert css is not None
    digest = base64.b64encode(hashlib.sha256(css.group(1).encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in headers["Content-Security-Policy"]
    assert len(text.encode()) < 16_000  # one small page for a slow phone network


async def test_unknown_and_malformed_tokens_get_the_chinese_404_page(api):
    for path in ("/t/0000000000000", "/t/%E4%BD%A0%E5%A5%BD", "/t/a%00b", "/t/" + "x" * 300):
        status, text, headers = await page(api, path)
        assert status == 404, path
        assert headers["Content-Type"].startswith("text/html") and "链接无效或已失效" in text
        check_private_headers(headers)
    response = await api.client.post("/t/0000000000000/rating", data={"score": "5"}, allow_redirects=False)
    assert response.status == 404 and "链接无效或已失效" in await response.text()


async def test_the_rating_form_refuses_bad_input_with_a_chinese_message_then_records_a_rating(api):
    case, token = await decided_case(api)
    status, text, _ = await page(api, f"/t/{token}")
    assert f'action="/t/{token}/rating"' in text and text.count('name="score"') == 5

    async def submit(form: dict) -> str:
        response = await api.client.post(f"/t/{token}/rating", data=form, allow_redirects=False)
        assert response.status == 303
        check_private_headers(dict(response.headers))
        return response.headers["Location"]

    for form, message in [
        ({}, "请选择 1 到 5 分中的一个评分"),
        ({"score": "6"}, "请选择 1 到 5 分中的一个评分"),
        ({"score": "五"}, "请选择 1 到 5 分中的一个评分"),
        ({"score": "1", "comment": "  "}, "请写明不满意的原因"),
        ({"score": "4", "comment": "好" * 501}, "最多 500 个字"),
        ({"score": "4", "comment": "很好\u202e"}, "含有无法显示的控制字符"),
    ]:
        location = await submit(form)
        assert location.startswith(f"/t/{token}?error=")
        status, text, _ = await page(api, location)
        assert status == 200 and message in text and 'name="score"' in text
    assert (await (await api.client.get(f"/api/v1/track/{token}")).json())["rating"] is None

    location = await submit({"score": "2", "comment": "等了很久才通知"})
    assert location == f"/t/{token}?rated=1#rating"
    status, text, _ = await page(api, location)
    assert "感谢您的评价" in text and "2 分 · 不满意" in text and "等了很久才通知" in text
    assert 'name="score"' not in text
    tracked = await (await api.client.get(f"/api/v1/track/{token}")).json()
    assert tracked["rating"]["score"] == 2 and tracked["can_rate"] is False
    full = await (await api.client.get(f"/api/v1/cases/{case['id']}", headers=api.auth("supervisor"))).json()
    assert full["rating"]["bad"] is True

    location = await submit({"score": "5"})
    status, text, _ = await page(api, location)
    assert "该办件已经评价过" in text


async def test_a_case_not_yet_finished_cannot_be_rated_through_the_form(api):
    _, token = await registered_case(api)
    response = await api.client.post(f"/t/{token}/rating", data={"score": "5"}, allow_redirects=False)
    assert response.status == 303 and "error=early" in response.headers["Location"]
    assert "办件办结后才能评价" in (await page(api, response.headers["Location"]))[1]
    assert (await (await api.client.get(f"/api/v1/track/{token}")).json())["rating"] is None


async def test_the_console_is_served_with_its_scripts_and_nothing_else(api):
    status, text, headers = await page(api, "/console")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    for asset in re.findall(r'(?:src|href)="(/console/[^"]+)"', text):
        response = await api.client.get(asset)
        status, asset_headers = response.status, response.headers
        assert status == 200, asset
        kinds = ("text/javascript", "text/css", "application/manifest+json", "image/png")  # the PWA's too
        assert asset_headers["Content-Type"].split(";")[0] in kinds, asset
    for path in (
        "/console/nope.js",
        "/console/..%2Fpages.py",
        "/console/%2e%2e%2fapp.py",
        "/console/vendor/..%2F..%2Fpages.py",
        "/console/vendor/zxing-wasm/package.json",
    ):
        assert (await page(api, path))[0] == 404, path


async def test_me_tells_the_console_who_is_logged_in_and_which_offices_are_in_scope(api):
    me = await (await api.client.get("/api/v1/me", headers=api.auth("clerk-lf"))).json()
    assert me["role"] == "window_clerk" and me["role_zh"] == "代收窗口人员"
    assert [o["id"] for o in me["offices"]] == ["win-441581"]
    dept = await (await api.client.get("/api/v1/me", headers=api.auth("dept-zj"))).json()
    assert {o["kind"] for o in dept["offices"]} == {"department"} and len(dept["offices"]) == 3
    courier = await (await api.client.get("/api/v1/me", headers=api.auth("courier-x"))).json()
    assert courier["offices"] == []  # region:4401 (广州) holds none of the 汕尾 demo offices
    assert (await api.client.get("/api/v1/me")).status == 401


def test_written_notices_are_linked_when_the_view_lists_them_and_nothing_unsafe_is_rendered():
    from api.pages import tracking_page

    view = {
        "matter_name": "建设工程规划许可证核发<script>",
        "case_no": "441581-20260302-0001-7",
        "state": "in_review",
        "state_zh": "审查中",
        "applicant_name": "张*三",
        "applicant_phone": "138****5678",
        "timeline": [],
        "clock": None,
        "notices": [
            {"id": "n1", "title": "特别程序告知书（专家评审）", "url": "/t/0000000000000/notices/n1"},
            {"id": "n2", "title": "延期告知书", "url": "javascript:alert(1)"},
        ],
    }
    text = tracking_page(view, "0000000000000")
    assert '<a href="/t/0000000000000/notices/n1">特别程序告知书（专家评审）</a>' in text
    assert "<li>延期告知书</li>" in text and "javascript:" not in text
    assert "<script>" not in text and "建设工程规划许可证核发&lt;script&gt;" in text
    without = tracking_page({**view, "notices": None}, "0000000000000")
    assert "书面告知" not in without
