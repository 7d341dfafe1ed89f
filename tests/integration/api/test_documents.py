"""Every printed document downloaded over HTTP for a real case: its type and headers as the spec
says, codes that scan back through the API, scope, the applicant's downloads by tracking link,
the ledger exports, and no clear identity number anywhere."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import unquote

import openpyxl
import pypdf
import pytest

from handoff.codes import PayloadKind
from handoff.services import AssignWaybill, dispatch
from tests.unit.labels.test_documents import CODE128, QR, decode, page_text, pages

from .test_journeys import post, registration

pytestmark = pytest.mark.integration

PROXY_ID = "110101199003074514"
APPLICANT_ID = "11010519491231002X"


def flat(text: str) -> str:
    return text.replace("\r\n", "").replace("\n", "")


def pdf_text(body: bytes) -> str:
    """All the text of a PDF as pypdf extracts it (a second, independent reader)."""
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)


async def download(api, path, user=None, status=200):
    response = await api.client.get(path, headers=api.auth(user) if user else {})
    body = await response.read()
    assert response.status == status, body[:400]
    return response, body


async def a_case_with_a_stage(api):
    """建设工程规划许可证核发 through the whole journey: collected with a 容缺 item, sent, signed,
    accepted, an expert review of 5 working days, an extension, decided, the result sent back to
    the window and picked up by a proxy."""
    body = registration(
        matter_id="m-jsgc-xk",
        tolerated=["土地权属证明"],
        materials=[{"name": "建设工程规划许可申请表", "pages": 2}, {"name": "建设工程设计方案", "pages": 40}],
        applicant={
            "name": "张小三",
            "phone": "13812345678",
            "id_number": APPLICANT_ID,
            "address": "陆丰市东海街道人民路 1 号",
        },
    )
    case = await post(api, "/api/v1/cases", "clerk-lf", body, 201)
    cid = case["id"]
    package = await post(api, f"/api/v1/cases/{cid}/packages", "clerk-lf", {}, 201)
    manifest = await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    api.tick(hours=3)
    await post(api, f"/api/v1/packages/{package['id']}/delivered", "courier-07", {})
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-zj"})
    await post(api, f"/api/v1/cases/{cid}/accept", "dept-zj")
    api.tick(days=7)  # Monday 2026-03-09
    opened = await post(
        api,
        f"/api/v1/cases/{cid}/stages",
        "dept-zj",
        {
            "stage_type": "expert_review",
            "reason": "设计方案需组织专家评审",
            "legal_basis": "《中华人民共和国行政许可法》第四十五条",
            "expected_days": 10,
        },
    )
    stage_id = opened["stages"][0]["id"]
    api.tick(days=7)  # Monday 2026-03-16: Tuesday to Monday are 5 working days
    await post(api, f"/api/v1/cases/{cid}/stages/{stage_id}/close", "dept-zj", {})
    await post(
        api, f"/api/v1/cases/{cid}/extensions", "dept-zj", {"days": 5, "approver": "王局长", "reason": "需现场核实"}
    )
    await post(api, f"/api/v1/cases/{cid}/ious/fulfil", "clerk-lf", {"material": "土地权属证明"})
    api.tick(days=1)
    await post(api, f"/api/v1/cases/{cid}/decision", "dept-zj", {"outcome": "approved", "opinion": "符合规划要求"})
    await post(api, f"/api/v1/cases/{cid}/result", "dept-zj", {})
    full = await (await api.client.get(f"/api/v1/cases/{cid}", headers=api.auth("dept-zj"))).json()
    result = next(p for p in full["packages"] if p["direction"] == "result")
    await post(
        api,
        "/api/v1/manifests",
        "dept-zj",
        {"office_id": "dept-441500-zj", "courier": "courier-07", "package_ids": [result["id"]]},
        201,
    )
    await post(api, f"/api/v1/packages/{result['id']}/delivered", "courier-07", {})
    await post(api, f"/api/v1/packages/{result['id']}/sign", "clerk-lf", {"office_id": "win-441581"})
    await post(
        api,
        f"/api/v1/cases/{cid}/pickup",
        "clerk-lf",
        {"office_id": "win-441581", "receiver_name": "李四", "receiver_id_number": PROXY_ID, "by_proxy": True},
    )
    return case, package, manifest, stage_id, result


def document_paths(case, package, manifest, stage_id):
    cid = case["id"]
    return {
        "/api/v1/cases/{case_id}/documents/receipt-notice": f"/api/v1/cases/{cid}/documents/receipt-notice",
        "/api/v1/cases/{case_id}/documents/registration-card": f"/api/v1/cases/{cid}/documents/registration-card",
        "/api/v1/cases/{case_id}/documents/pickup-receipt": f"/api/v1/cases/{cid}/documents/pickup-receipt",
        "/api/v1/cases/{case_id}/documents/stage-notice/{notice_id}": (
            f"/api/v1/cases/{cid}/documents/stage-notice/{stage_id}"
        ),
        "/api/v1/packages/{package_id}/documents/transfer-slip": (
            f"/api/v1/packages/{package['id']}/documents/transfer-slip"
        ),
        "/api/v1/packages/{package_id}/documents/courier-label": (
            f"/api/v1/packages/{package['id']}/documents/courier-label"
        ),
        "/api/v1/manifests/{manifest_id}/documents/manifest": f"/api/v1/manifests/{manifest['id']}/documents/manifest",
    }


async def test_every_document_is_a_pdf_attachment_never_cached_as_the_served_spec_says(api):
    case, package, manifest, stage_id, _ = await a_case_with_a_stage(api)
    other = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    booked = await post(api, f"/api/v1/cases/{other['id']}/packages", "clerk-lf", {}, 201)
    await dispatch(AssignWaybill(booked["id"], "ems", "1187654321098"), api.container.uow(), api.container.deps)
    paths = document_paths(case, package, manifest, stage_id)
    label = "/api/v1/packages/{package_id}/documents/courier-label"
    paths[label] = label.replace("{package_id}", booked["id"])  # a waybill comes while the package is sealed
    spec = await (await api.client.get("/api/v1/openapi.json")).json()
    for template, path in paths.items():
        response, body = await download(api, path, "supervisor")
        assert response.content_type == "application/pdf" and body.startswith(b"%PDF"), path
        declared = spec["paths"][template]["get"]["responses"]["200"]
        assert list(declared["content"]) == ["application/pdf"]
        assert {"Content-Disposition", "Cache-Control"} <= set(declared["headers"])
        assert response.headers["Cache-Control"] == "no-store"
        disposition = response.headers["Content-Disposition"]
        ascii_name, chinese = re.fullmatch(
            r"attachment; filename=\"([ -~]+)\"; filename\*=UTF-8''(\S+)", disposition
        ).groups()
        assert ascii_name.endswith(".pdf") and re.search(r"[\u4e00-\u9fff]", unquote(chinese)), disposition
    response, _ = await download(api, f"/api/v1/cases/{case['id']}/documents/receipt-notice", "clerk-lf")
    assert (
        unquote(response.headers["Content-Disposition"].split("''")[1]) == f"申请材料接收通知书-{case['case_no']}.pdf"
    )


async def test_the_transfer_slip_of_a_real_package_scans_back_to_that_package(api):
    _, package, *_ = await a_case_with_a_stage(api)
    _, body = await download(api, f"/api/v1/packages/{package['id']}/documents/transfer-slip", "clerk-lf")
    (page,) = pages(body)
    found = decode(page)
    scanned = await post(api, "/api/v1/scan", "dept-zj", {"code": found[QR]})
    assert scanned["id"] == package["id"] and scanned["code"] == package["code"]
    assert found[CODE128] == package["code"].replace("-", "")
    text = flat(page_text(page))
    assert "建设工程设计方案" in text and "汕尾市住房和城乡建设局" in text and "陆丰市政务服务中心" in text


async def test_the_manifest_carries_the_batch_qr_the_hand_over_answered_and_lists_its_package(api):
    case, package, manifest, *_ = await a_case_with_a_stage(api)
    _, body = await download(api, f"/api/v1/manifests/{manifest['id']}/documents/manifest", "courier-07")
    (page,) = pages(body)
    qr = decode(page)[QR]
    assert qr == manifest["scan_payload"]
    assert api.container.signer.verify(qr).kind is PayloadKind.MANIFEST
    text = flat(page_text(page))
    assert package["code"] in text and case["case_no"] in text and "吴海波" in text


async def test_a_clerk_of_another_office_gets_404_for_every_document(api):
    case, package, manifest, stage_id, _ = await a_case_with_a_stage(api)
    for path in document_paths(case, package, manifest, stage_id).values():
        response, _ = await download(api, path, "clerk-hf", status=404)
        assert response.content_type == "application/problem+json", path
    for user in ("clerk-hf", "courier-x"):
        await download(api, f"/api/v1/packages/{package['id']}/documents/transfer-slip", user, status=404)


async def test_the_registration_card_lists_the_stages_the_special_stage_with_its_working_days_and_who(api):
    case, *_ = await a_case_with_a_stage(api)
    _, body = await download(api, f"/api/v1/cases/{case['id']}/documents/registration-card", "dept-zj")
    text = flat("".join(page_text(p) for p in pages(body)))
    assert case["case_no"] in text
    for stage in ("收件", "流转", "办理", "送达"):
        assert stage in text
    assert re.search(r"专家评审\s*2026-03-09\s*2026-03-16\s*5\s*设计方案需组织专家评审", text), text
    assert "特殊环节合计 5 个工作日" in text
    assert "陈晓红" in text and "林志强" in text  # 责任人: names from the users table
    assert "准予许可" in text and "代领人 李四" in text and "延期" in text and "王局长" in text


async def test_the_applicant_downloads_each_written_notice_and_the_receipt_by_tracking_link(api):
    case, *_ = await a_case_with_a_stage(api)
    token = case["tracking_url"].rsplit("/", 1)[1]
    tracking = await (await api.client.get(f"/api/v1/track/{token}")).json()
    assert [n["title"] for n in tracking["notices"]] == [
        "容缺受理凭证",
        "受理通知书",
        "特别程序告知书（专家评审）",
        "特别程序告知书（延长办理期限 5 个工作日）",
    ]
    stage_notice, extension_notice = tracking["notices"][2:]
    _, body = await download(api, stage_notice["url"])
    (page,) = pages(body)
    text = flat(page_text(page))
    assert "特别程序告知书" in text and "专家评审" in text and "第四十五条" in text and case["case_no"] in text
    assert "张*三" in text and "张小三" not in text
    assert decode(page)[QR] == case["tracking_url"]
    _, body = await download(api, extension_notice["url"])
    text = flat(page_text(pages(body)[0]))
    assert "第四十二条" in text and "王局长" in text
    _, body = await download(api, tracking["receipt_notice_url"])
    text = pdf_text(body)
    assert "申请材料接收通知书" in text and "人民路" not in text and "13812345678" not in text

    await download(api, "/api/v1/track/aaaaaaaaaaaa/notices/ext-1", status=404)
    await download(api, f"/api/v1/track/{token[:-1]}/receipt-notice", status=404)
    for unknown in ("ext-3", "ext-0", "nothing"):
        response, body = await download(api, f"/api/v1/track/{token}/notices/{unknown}", status=404)
        assert response.content_type == "application/problem+json" and "告知书" in body.decode()


async def test_the_pickup_receipt_prints_the_id_number_masked_never_in_clear(api):
    case, *_ = await a_case_with_a_stage(api)
    _, body = await download(api, f"/api/v1/cases/{case['id']}/documents/pickup-receipt", "clerk-lf")
    text = pdf_text(body)
    assert "1101**********4514" in text and "李四" in text
    assert PROXY_ID not in text and APPLICANT_ID not in text
    assert PROXY_ID.encode() not in body and APPLICANT_ID.encode() not in body


async def test_documents_that_do_not_apply_yet_answer_409_with_the_reason_in_chinese(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    spec = await (await api.client.get("/api/v1/openapi.json")).json()
    for path, template, reason in [
        (
            f"/api/v1/cases/{case['id']}/documents/pickup-receipt",
            "/api/v1/cases/{case_id}/documents/pickup-receipt",
            "尚未发放登记",
        ),
        (
            f"/api/v1/packages/{package['id']}/documents/courier-label",
            "/api/v1/packages/{package_id}/documents/courier-label",
            "还没有运单号",
        ),
    ]:
        response, body = await download(api, path, "clerk-lf", status=409)
        assert response.content_type == "application/problem+json" and reason in body.decode()
        assert "application/problem+json" in spec["paths"][template]["get"]["responses"]["409"]["content"]
    await download(api, f"/api/v1/cases/{case['id']}/documents/stage-notice/ext-1", "clerk-lf", status=404)
    _, body = await download(api, f"/api/v1/cases/{case['id']}/documents/registration-card", "clerk-lf")
    assert "尚未受理" in flat("".join(page_text(p) for p in pages(body)))


async def test_the_courier_label_of_a_booked_package_carries_the_waybill_and_the_package_qr(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    await dispatch(AssignWaybill(package["id"], "sf", "SF7444407670710"), api.container.uow(), api.container.deps)
    _, body = await download(api, f"/api/v1/packages/{package['id']}/documents/courier-label", "clerk-lf")
    (page,) = pages(body)
    found = decode(page)
    assert found[CODE128] == "SF7444407670710"
    assert (await post(api, "/api/v1/scan", "dept-zj", {"code": found[QR]}))["id"] == package["id"]
    assert "顺丰速运" in flat(page_text(page)) and "汕尾市气象局" in flat(page_text(page))


async def test_the_ledger_exports_in_three_formats_with_the_callers_scope_and_filters(api):
    mine = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    theirs = await post(api, "/api/v1/cases", "clerk-hf", registration(window_office_id="win-441521"), 201)
    response, body = await download(api, "/api/v1/ledger/export?format=csv", "clerk-lf")
    assert response.content_type == "text/csv" and body.startswith(b"\xef\xbb\xbf")
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][9] == "陈晓红（陆丰窗口）" and mine["case_no"] in rows[1][11]

    response, body = await download(api, "/api/v1/ledger/export?format=xlsx", "supervisor")
    assert response.content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    numbers = {row[11] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert numbers == {f"受理编号 {mine['case_no']}", f"受理编号 {theirs['case_no']}"}
    assert "汕尾市" in sheet["A1"].value

    _, body = await download(api, "/api/v1/ledger/export", "clerk-hf")
    text = flat("".join(page_text(p) for p in pages(body)))
    assert theirs["case_no"] in text and mine["case_no"] not in text and "海丰县政务服务中心" in text

    _, body = await download(api, "/api/v1/ledger/export?format=csv&state=accepted", "supervisor")
    assert len(list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))) == 1
    await download(api, "/api/v1/ledger/export?format=docx", "supervisor", status=422)
    await download(api, "/api/v1/ledger/export?format=csv&from=2026-02-30", "supervisor", status=422)
