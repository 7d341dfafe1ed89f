"""The written decisions over HTTP on SQLite and PostgreSQL: each downloads for whoever may see
the case (404 outside the scope, 409 while the decision does not exist), says its facts, carries
the applicant's tracking QR, and is listed on the applicant's tracking view with a link that works
without a login; the window prints a one-time notice without registering anything."""

from __future__ import annotations

import pytest

from tests.unit.labels.test_documents import QR, decode, pages

from .test_documents import download, flat, pdf_text
from .test_journeys import post, registration

pytestmark = pytest.mark.integration


async def send_and_sign(api, case_id: str, office_id: str) -> None:
    package = await post(api, f"/api/v1/cases/{case_id}/packages", "clerk-lf", {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    api.tick(hours=3)
    await post(api, f"/api/v1/packages/{package['id']}/delivered", "courier-07", {})
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": office_id})


async def a_rejected_case(api):
    """防雷装置竣工验收 collected with two 容缺 items, signed for, a supplement asked, then rejected."""
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    await send_and_sign(api, case["id"], "dept-441500-qx")
    await post(
        api,
        f"/api/v1/cases/{case['id']}/supplement",
        "dept-zj",
        {"items": ["防雷装置竣工图纸", "防雷检测报告"], "due_on": "2026-03-13"},
    )
    api.tick(days=1)
    await post(api, f"/api/v1/cases/{case['id']}/reject", "dept-zj", {"reason": "该防雷装置不属于本机关验收的范围。"})
    return case


async def a_denied_case(api):
    """建设工程规划许可证核发 accepted on Monday 2026-03-02 (20 working days), then denied."""
    body = registration(
        matter_id="m-jsgc-xk",
        tolerated=[],
        materials=[
            {"name": "建设工程规划许可申请表", "pages": 2},
            {"name": "建设工程设计方案", "pages": 40},
            {"name": "土地权属证明", "pages": 1, "original": False},
        ],
    )
    case = await post(api, "/api/v1/cases", "clerk-lf", body, 201)
    await send_and_sign(api, case["id"], "dept-441500-zj")
    await post(api, f"/api/v1/cases/{case['id']}/accept", "dept-zj")
    api.tick(days=3)
    await post(
        api,
        f"/api/v1/cases/{case['id']}/decision",
        "dept-zj",
        {"outcome": "denied", "opinion": "设计方案容积率超出规划条件"},
    )
    return case


async def test_a_rejected_case_has_its_iou_receipt_supplement_notice_and_rejection_decision(api):
    case = await a_rejected_case(api)
    base = f"/api/v1/cases/{case['id']}/documents"

    _, body = await download(api, f"{base}/iou-receipt", "clerk-lf")
    (page,) = pages(body)
    assert decode(page)[QR] == case["tracking_url"]
    text = pdf_text(body)
    assert "容缺受理凭证" in text and "施工单位的资质证" in text and "授权委托书" in text
    assert flat(text).count("日前补交") == 2 and case["case_no"] in flat(text)

    response, body = await download(api, f"{base}/supplement-notice/1", "dept-zj")
    assert response.content_type == "application/pdf" and response.headers["Cache-Control"] == "no-store"
    text = flat(pdf_text(body))
    assert "补正告知书" in text and "防雷检测报告" in text and "2026 年 3 月 13 日前补正" in text
    assert decode(pages(body)[0])[QR] == case["tracking_url"]

    _, body = await download(api, f"{base}/rejection-decision", "supervisor")
    text = flat(pdf_text(body))
    assert "不予受理决定书" in text and "该防雷装置不属于本机关验收的范围" in text and "第三十二条" in text
    assert "60 日内向 汕尾市人民政府 申请行政复议" in text
    assert "6 个月内向 汕尾市辖区内有管辖权的人民法院 提起行政诉讼" in text
    assert decode(pages(body)[0])[QR] == case["tracking_url"]

    api.container.review_bodies = {"dept-441500-qx": "广东省气象局", "*": "汕尾市人民政府"}
    api.container.courts = {"*": "汕尾市城区人民法院"}
    _, body = await download(api, f"{base}/rejection-decision", "dept-zj")
    text = flat(pdf_text(body))
    assert "60 日内向 广东省气象局 申请行政复议" in text and "6 个月内向 汕尾市城区人民法院 提起行政诉讼" in text


async def test_decisions_that_do_not_exist_yet_answer_409_and_an_unknown_one_404(api):
    case = await a_rejected_case(api)
    base = f"/api/v1/cases/{case['id']}/documents"
    spec = await (await api.client.get("/api/v1/openapi.json")).json()
    for kind, reason in (("acceptance-notice", "尚未受理"), ("denial-decision", "不予许可")):
        response, body = await download(api, f"{base}/{kind}", "dept-zj", status=409)
        assert response.content_type == "application/problem+json" and reason in body.decode()
        declared = spec["paths"][f"/api/v1/cases/{{case_id}}/documents/{kind}"]["get"]["responses"]
        assert list(declared["200"]["content"]) == ["application/pdf"] and "409" in declared
    for number in ("2", "0", "x"):
        await download(api, f"{base}/supplement-notice/{number}", "dept-zj", status=404)
    plain = await post(api, "/api/v1/cases", "clerk-lf", registration(tolerated=[], materials=_all()), 201)
    for kind in ("iou-receipt", "rejection-decision", "supplement-notice/1"):
        await download(api, f"/api/v1/cases/{plain['id']}/documents/{kind}", "clerk-lf", status=409)


def _all():
    from .test_journeys import LIGHTNING_MATERIALS

    return [*LIGHTNING_MATERIALS, {"name": "施工单位的资质证"}, {"name": "授权委托书"}]


async def test_a_clerk_of_another_office_gets_404_for_every_decision(api):
    case = await a_rejected_case(api)
    base = f"/api/v1/cases/{case['id']}/documents"
    for kind in ("iou-receipt", "supplement-notice/1", "rejection-decision", "acceptance-notice"):
        response, _ = await download(api, f"{base}/{kind}", "clerk-hf", status=404)
        assert response.content_type == "application/problem+json"


async def test_a_denied_case_has_its_acceptance_notice_with_the_promised_due_date_and_the_denial(api):
    case = await a_denied_case(api)
    base = f"/api/v1/cases/{case['id']}/documents"
    _, body = await download(api, f"{base}/acceptance-notice", "clerk-lf")
    text = flat(pdf_text(body))
    assert "受理通知书" in text and "予以受理" in text and "20 个工作日" in text
    assert "2026 年 3 月 30 日" in text and decode(pages(body)[0])[QR] == case["tracking_url"]
    _, body = await download(api, f"{base}/denial-decision", "dept-zj")
    text = flat(pdf_text(body))
    assert "不予许可决定书" in text and "设计方案容积率超出规划条件" in text and "第三十八条第二款" in text
    assert "60 日内向 汕尾市人民政府 申请行政复议" in text and "6 个月内向" in text
    assert "张小三" in text
    await download(api, f"{base}/rejection-decision", "dept-zj", status=409)


async def test_the_tracking_view_lists_each_decision_and_the_applicant_downloads_it_masked(api):
    rejected, denied = await a_rejected_case(api), await a_denied_case(api)
    for case, titles in (
        (rejected, ["容缺受理凭证", "补正告知书", "不予受理决定书"]),
        (denied, ["受理通知书", "不予许可决定书"]),
    ):
        token = case["tracking_url"].rsplit("/", 1)[1]
        tracking = await (await api.client.get(f"/api/v1/track/{token}")).json()
        assert [n["title"] for n in tracking["notices"]] == titles
        for notice in tracking["notices"]:
            response, body = await download(api, notice["url"])
            assert response.content_type == "application/pdf"
            text = flat(pdf_text(body))
            assert notice["title"] in text and "张*三" in text and "张小三" not in text
            assert decode(pages(body)[0])[QR] == case["tracking_url"]
        page = await (await api.client.get(f"/t/{token}")).text()
        assert all(n["url"] in page for n in tracking["notices"])
    token = denied["tracking_url"].rsplit("/", 1)[1]
    response, body = await download(api, f"/api/v1/track/{token}/decisions/rejection-decision", status=409)
    assert response.content_type == "application/problem+json"
    for unknown in ("nothing", "supplement-notice-1", "ext-1"):
        status = 409 if unknown == "supplement-notice-1" else 404  # a kind of decision it has none of
        await download(api, f"/api/v1/track/{token}/decisions/{unknown}", status=status)
    await download(api, f"/api/v1/track/{token[:-1]}/decisions/acceptance-notice", status=404)


async def test_the_window_prints_a_one_time_notice_of_a_refused_registration_and_nothing_is_stored(api):
    refused = await api.client.post(
        "/api/v1/cases",
        json=registration(materials=[{"name": "防雷装置竣工图纸"}], tolerated=[]),
        headers=api.auth("clerk-lf"),
    )
    missing = (await refused.json(content_type=None))["missing"]
    body = {"matter_id": "m-flzz-ys", "window_office_id": "win-441581", "applicant_name": "张小三", "missing": missing}
    response = await api.client.post("/api/v1/documents/one-time-notice", json=body, headers=api.auth("clerk-lf"))
    pdf = await response.read()
    assert response.status == 200 and response.content_type == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store" and "attachment" in response.headers["Content-Disposition"]
    text = flat(pdf_text(pdf))
    assert "一次性告知书" in text and "张小三" in text and "汕尾市气象局" in text
    assert "《防雷装置竣工验收申请书》" in text and "施工单位的资质证" in text and "授权委托书" in text
    assert "复印件 1 份，核对原件，资质证需加盖施工单位公章" in text
    ledger = await (await api.client.get("/api/v1/ledger", headers=api.auth("clerk-lf"))).json()
    assert ledger["items"] == []

    spec = await (await api.client.get("/api/v1/openapi.json")).json()
    assert list(spec["paths"]["/api/v1/documents/one-time-notice"]["post"]["responses"]["200"]["content"]) == [
        "application/pdf"
    ]
    for user, changes, status in [
        ("clerk-hf", {}, 404),  # not their window
        ("dept-zj", {}, 403),  # a window clerk's paper
        ("clerk-lf", {"matter_id": "m-nothing"}, 422),
        ("clerk-lf", {"missing": []}, 422),
        ("clerk-lf", {"mode": "delegated"}, 422),  # the matter is not entrusted
    ]:
        response = await api.client.post(
            "/api/v1/documents/one-time-notice", json={**body, **changes}, headers=api.auth(user)
        )
        assert response.status == status and response.content_type == "application/problem+json", user


async def test_the_real_transfer_slip_and_card_show_the_phone_in_full_and_the_receipt_notice_masks_it(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    _, body = await download(api, f"/api/v1/packages/{package['id']}/documents/transfer-slip", "clerk-lf")
    text = flat(pdf_text(body))
    assert f"受理编号：{case['case_no']}" in text and "13812345678" in text and "原件/复印件" in text
    assert "容缺待补交材料：施工单位的资质证（2026 年 3 月 9 日前补交）；授权委托书（2026 年 3 月 9 日前补交）" in text
    _, body = await download(api, f"/api/v1/cases/{case['id']}/documents/registration-card", "clerk-lf")
    assert "13812345678" in flat(pdf_text(body))
    _, body = await download(api, f"/api/v1/cases/{case['id']}/documents/receipt-notice", "clerk-lf")
    text = flat(pdf_text(body))
    assert "138****5678" in text and "13812345678" not in text
