"""Electronic materials and results (issue 19), over HTTP on SQLite and PostgreSQL: files attached
at the window (recognised by content, images re-encoded, PDFs opened), pushed with their
manifest in the custody chain, read and signed for per item by the department; an online-mode
case that moves without a courier to a PAdES-signed 电子证照 the applicant downloads and anyone
can verify."""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from typing import Any

import pytest
from PIL import Image

from adapters.files import ACCEPTED
from adapters.pades import ResultSigner, make_identity, pkcs12_bytes, verify_pdf
from labels.electronic_result import ElectronicResultData, render_electronic_result
from tests.support.images import jpeg_with_gps

from .test_journeys import post

pytestmark = pytest.mark.integration

WINDOW, DEPT = "clerk-lf", "dept-qx"


def a_pdf(pages: int = 1) -> bytes:
    """A real PDF, drawn by reportlab."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    drawing = canvas.Canvas(out)
    for n in range(pages):
        drawing.drawString(72, 720, f"page {n + 1}")
        drawing.showPage()
    drawing.save()
    return out.getvalue()


def a_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", "not a pdf")
    return out.getvalue()


def online_registration(**over: Any) -> dict[str, Any]:
    body = {
        "matter_id": "m-flzz-ys",
        "mode": "online",
        "delivery": "electronic",
        "window_office_id": "win-441581",
        "applicant": {"name": "张小三", "phone": "13812345678"},
        "materials": [
            {"name": "《防雷装置竣工验收申请书》", "pages": 1, "electronic": True},
            {"name": "防雷装置竣工图纸", "pages": 3, "electronic": True},
            {"name": "施工单位的资质证", "electronic": True},
            {"name": "授权委托书", "electronic": True},
        ],
    }
    body.update(over)
    return body


async def upload(api, case_id: str, item: int, name: str, data: bytes, status: int = 201, user: str = WINDOW) -> Any:
    response = await api.client.post(
        f"/api/v1/cases/{case_id}/files",
        params={"item": str(item), "name": name},
        data=data,
        headers={**api.auth(user), "Content-Type": "application/octet-stream"},
    )
    body = await response.json(content_type=None)
    assert response.status == status, body
    return body


async def get(api, path: str, user: str | None, status: int = 200) -> Any:
    response = await api.client.get(path, headers=api.auth(user) if user else {})
    assert response.status == status, await response.text()
    return response


@pytest.fixture
async def dept(api):
    """A clerk of the city weather bureau (the demo's dept-zj serves 住建)."""
    from .test_authority import actor

    await actor(api, DEPT, "dept_clerk", "office:dept-441500-qx")
    return api


async def test_files_are_recognised_by_content_and_anything_else_is_refused_in_chinese(dept):
    api = dept
    case = await post(api, "/api/v1/cases", WINDOW, online_registration(), 201)
    pdf = a_pdf(2)
    stored = await upload(api, case["id"], 1, "申请书.pdf", pdf)
    assert stored["content_type"] == "application/pdf" and stored["pages"] == 2
    assert stored["sha256"] == hashlib.sha256(pdf).hexdigest() and stored["material"] == "《防雷装置竣工验收申请书》"

    # a JPEG named .pdf is a JPEG: re-encoded (its EXIF GPS position dropped), named .jpg
    photo = jpeg_with_gps()
    image = await upload(api, case["id"], 2, "图纸.pdf", photo)
    assert image["content_type"] == "image/jpeg" and image["name"] == "图纸.jpg"
    kept = await (await get(api, image["url"], WINDOW)).read()
    assert hashlib.sha256(kept).hexdigest() == image["sha256"] != hashlib.sha256(photo).hexdigest()
    assert Image.open(io.BytesIO(kept)).getexif().get(0x8825) is None

    # a zip renamed .pdf, text, an empty body, a PDF cut short: 422 in Chinese
    for data, title in [
        (
            a_zip(),
            f"{ACCEPTED}；该文件是ZIP 压缩包（或 Word、Excel 等 Office 文档）",
        ),
        (b"hello, this is text", f"{ACCEPTED}；无法识别该文件的格式"),
        (b"%PDF-1.4\n" + b"x" * 200, "PDF 无法打开（文件损坏或不是有效的 PDF）"),
        (photo[: len(photo) // 2], "图片无法解码（文件损坏或不完整）"),
    ]:
        problem = await upload(api, case["id"], 3, "资质证.pdf", data, 422)
        assert problem["title"] == title
    problem = await upload(api, case["id"], 3, "空.pdf", b"", 422)
    assert problem["title"] == "文件是空的"

    # too large (the limit from settings) and too many pages: refused before anything is stored
    api.container.material_max_bytes = 64 * 1024
    problem = await upload(api, case["id"], 3, "大.pdf", a_pdf(1) + b"%" * (65 * 1024), 413)
    assert problem["title"].startswith("文件过大")
    api.container.material_max_pages = 3
    problem = await upload(api, case["id"], 3, "长.pdf", a_pdf(4), 422)
    assert "超过每个文件 3 页" in problem["title"]

    # an unknown item, and a reader outside the case's offices: 422 / 404
    assert "没有序号为 9" in (await upload(api, case["id"], 9, "x.pdf", pdf, 422))["title"]
    await get(api, image["url"], "clerk-hf", 404)
    listed = (await (await get(api, f"/api/v1/cases/{case['id']}/files", DEPT)).json())["files"]
    assert [(f["item_seq"], f["name"]) for f in listed] == [(1, "申请书.pdf"), (2, "图纸.jpg")]

    # a path in the name is dropped; a file attached by mistake is removed before the push
    extra = await upload(api, case["id"], 3, "C:\\高拍仪\\scan<1>.png", _png_page())
    assert extra["name"] == "scan_1_.png"
    left = await post(api, f"/api/v1/cases/{case['id']}/files/{extra['id']}/remove", WINDOW, {})
    assert [f["name"] for f in left["files"]] == ["申请书.pdf", "图纸.jpg"]
    await post(api, f"/api/v1/cases/{case['id']}/files/{extra['id']}/remove", WINDOW, {}, 404)


async def test_an_online_case_moves_without_a_courier_to_a_signed_result_the_applicant_downloads(dept):
    api = dept
    ca = make_identity("测试根证书")
    cert, key = make_identity("汕尾市气象局", issuer=ca)
    signer = ResultSigner.from_pkcs12(pkcs12_bytes(cert, key, b"pw", [ca[0]]), b"pw")
    api.container.result_signers = {"dept-441500-qx": signer}

    case = await post(api, "/api/v1/cases", WINDOW, online_registration(), 201)
    files = [await upload(api, case["id"], n, f"材料{n}.pdf", a_pdf(n)) for n in (1, 2, 3, 4)]
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", WINDOW, {"electronic": True}, 201)
    assert package["state"] == "pushed" and package["medium"] == "electronic"
    assert [(f["item_seq"], f["sha256"]) for f in package["files"]] == [
        (n, f["sha256"]) for n, f in enumerate(files, 1)
    ]
    # the manifest is in the custody chain, which verifies
    chain = await (await get(api, f"/api/v1/packages/{package['id']}/custody", DEPT)).json()
    assert chain["verified"] is True
    # no more files once pushed
    assert "已推送" in (await upload(api, case["id"], 1, "晚.pdf", a_pdf(5), 409))["title"]

    # the department reads each file of the package, by its manifest
    for entry, original in zip(package["files"], files, strict=True):
        data = await (await get(api, entry["url"], DEPT)).read()
        assert hashlib.sha256(data).hexdigest() == original["sha256"]
    await get(api, f"/api/v1/packages/{package['id']}/files/{'0' * 64}", DEPT, 404)
    await get(api, package["files"][0]["url"], "clerk-hf", 404)

    signed = await post(
        api,
        f"/api/v1/packages/{package['id']}/sign",
        DEPT,
        {
            "office_id": "dept-441500-qx",
            "discrepancies": [
                {"item_seq": 2, "kind": "unreadable", "note": "第 3 页模糊"},
                {"item_seq": 4, "kind": "not_matching_paper"},
            ],
        },
    )
    assert signed["state"] == "signed"
    await post(api, f"/api/v1/cases/{case['id']}/accept", DEPT)
    await post(api, f"/api/v1/cases/{case['id']}/decision", DEPT, {"outcome": "approved", "opinion": "同意"})
    # an electronic delivery needs its electronic result first
    await post(api, f"/api/v1/cases/{case['id']}/result", DEPT, {}, 409)

    response = await api.client.post(f"/api/v1/cases/{case['id']}/electronic-result", headers=api.auth(DEPT))
    issued = await response.json()
    assert response.status == 201, issued
    assert issued["case"]["state"] == "delivered" and issued["result"]["signer"] == "汕尾市气象局"

    # the applicant finds it on the tracking page and downloads it
    token = case["tracking_url"].rsplit("/", 1)[1]
    view = await (await get(api, f"/api/v1/track/{token}", None)).json()
    (result,) = view["electronic"]["results"]
    pdf = await (await get(api, result["url"], None)).read()
    assert hashlib.sha256(pdf).hexdigest() == issued["result"]["sha256"]
    page = await (await get(api, f"/t/{token}", None)).text()
    assert "电子办理结果" in page and result["url"] in page

    # pyHanko's validator: intact, whole file, trusted by our CA; one byte changed breaks it
    # (pyHanko's sync API runs its own event loop: off this one, as the API does)
    checked = await asyncio.to_thread(verify_pdf, pdf, signer.trust_roots)
    assert checked.intact and checked.whole_file and checked.trusted and checked.signer == "汕尾市气象局"
    at = pdf.index(b"page") if b"page" in pdf else pdf.index(b"Handoff")
    altered = pdf[:at] + bytes([pdf[at] ^ 0x20]) + pdf[at + 1 :]
    assert not (await asyncio.to_thread(verify_pdf, altered, signer.trust_roots)).intact

    # the public verification: ours and unchanged; altered; never ours
    async def verify(data: bytes) -> dict[str, Any]:
        response = await api.client.post("/api/v1/verify", data=data)
        body = await response.json()
        assert response.status == 200, body
        return body

    good = await verify(pdf)
    assert good["verdict"] == "valid" and good["case_no"] == case["case_no"] and good["recorded"]
    assert (await verify(altered))["verdict"] == "altered"
    assert (await verify(a_pdf()))["verdict"] == "unsigned"
    other = render_electronic_result(
        ElectronicResultData("X", "防雷装置竣工验收", "李四", "准予许可", "同意", "汕尾市气象局", "2026年3月2日", "x")
    )
    foreign = await asyncio.to_thread(lambda: signer.sign(other, reason="r", location="l"))
    assert (await verify(foreign))["verdict"] == "unknown"
    form = await (await api.client.post("/verify", data={"file": io.BytesIO(pdf)})).text()
    assert "签章有效" in form and case["case_no"] in form


async def test_a_mixed_case_pushes_its_scans_ahead_and_its_paper_follows_by_courier(dept):
    api = dept
    body = online_registration(
        mode="proxy_collect",
        delivery="pickup_at_window",
        materials=[
            {"name": "《防雷装置竣工验收申请书》", "pages": 1, "electronic": True},
            {"name": "防雷装置竣工图纸", "pages": 3},
            {"name": "施工单位的资质证", "electronic": True},
            {"name": "授权委托书"},
        ],
    )
    case = await post(api, "/api/v1/cases", WINDOW, body, 201)
    await upload(api, case["id"], 1, "申请书.pdf", a_pdf())
    await upload(api, case["id"], 3, "资质证.png", _png_page())
    pushed = await post(api, f"/api/v1/cases/{case['id']}/packages", WINDOW, {"electronic": True}, 201)
    assert [i["name"] for i in pushed["items"]] == ["《防雷装置竣工验收申请书》", "施工单位的资质证"]
    assert [f["item_seq"] for f in pushed["files"]] == [1, 2]
    paper = await post(api, f"/api/v1/cases/{case['id']}/packages", WINDOW, {}, 201)
    assert [i["name"] for i in paper["items"]] == ["防雷装置竣工图纸", "授权委托书"] and paper["state"] == "sealed"
    assert (
        "已推送"
        in (await post(api, f"/api/v1/cases/{case['id']}/packages", WINDOW, {"electronic": True}, 409))["title"]
    )
    await post(api, f"/api/v1/packages/{pushed['id']}/sign", DEPT, {"office_id": "dept-441500-qx"})
    view = await (await get(api, f"/api/v1/cases/{case['id']}", DEPT)).json()
    assert view["state"] == "received"
    await post(
        api,
        "/api/v1/manifests",
        WINDOW,
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [paper["id"]]},
        201,
    )
    signed = await post(
        api,
        f"/api/v1/packages/{paper['id']}/sign",
        DEPT,
        {"office_id": "dept-441500-qx", "discrepancies": [{"item_seq": 1, "kind": "not_matching_paper"}]},
    )
    assert signed["state"] == "signed"


def _png_page() -> bytes:
    out = io.BytesIO()
    Image.new("L", (200, 280), 255).save(out, format="PNG")
    return out.getvalue()


async def test_a_mailed_result_is_delivered_when_the_carrier_reports_delivery_with_the_receivers_name(dept):
    from handoff.services import AssignWaybill, dispatch

    from .test_callbacks import sf_push
    from .test_journeys import registration

    api = dept
    body = registration(delivery="mail_to_applicant")
    body["applicant"] = {**body["applicant"], "address": "广东省陆丰市东海街道人民路 1 号"}
    case = await post(api, "/api/v1/cases", WINDOW, body, 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", WINDOW, {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        WINDOW,
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    await post(api, f"/api/v1/packages/{package['id']}/sign", DEPT, {"office_id": "dept-441500-qx"})
    for action, payload in [
        ("ious/fulfil", {"material": "施工单位的资质证"}),
        ("ious/fulfil", {"material": "授权委托书"}),
    ]:
        await post(api, f"/api/v1/cases/{case['id']}/{action}", DEPT, payload)
    await post(api, f"/api/v1/cases/{case['id']}/accept", DEPT)
    await post(api, f"/api/v1/cases/{case['id']}/decision", DEPT, {"outcome": "approved", "opinion": "同意"})
    await post(api, f"/api/v1/cases/{case['id']}/result", DEPT, {"carrier": "sf"})
    view = await (await get(api, f"/api/v1/cases/{case['id']}", DEPT)).json()
    (result,) = [p for p in view["packages"] if p["direction"] == "result"]
    await dispatch(AssignWaybill(result["id"], "sf", "SF7000000000001"), api.container.uow(), api.container.deps)

    url = "/api/v1/callbacks/carriers/sf?token=sf-callback-secret"
    await api.client.post(url, json=sf_push("SF7000000000001", "50", "2026-03-02 14:00:00"))
    view = await (await get(api, f"/api/v1/cases/{case['id']}", DEPT)).json()
    assert view["state"] == "result_shipped"
    delivered = sf_push("SF7000000000001", "80", "2026-03-03 10:00:00")
    delivered["Body"]["WaybillRoute"][0]["remark"] = "快件已签收，签收人是：张小三"
    assert (await api.client.post(url, json=delivered)).status == 200
    view = await (await get(api, f"/api/v1/cases/{case['id']}", DEPT)).json()
    assert view["state"] == "delivered"  # no clerk's button
    custody = await (await get(api, f"/api/v1/packages/{result['id']}/custody", DEPT)).json()
    assert custody["events"][-1]["note"] == "签收人：张小三" and custody["verified"]
    async with api.container.engine.connect() as conn:
        from sqlalchemy import select

        from adapters.db.tables import outbox

        rows = (await conn.execute(select(outbox.c.type, outbox.c.payload))).all()
    (event,) = [r for r in rows if r.type == "case.delivered"]
    assert "张小三" in str(event.payload)


async def test_a_refused_upload_or_result_stores_no_file_and_no_row(dept):
    from .test_authority import actor, snapshot

    api = dept
    case = await post(api, "/api/v1/cases", WINDOW, online_registration(), 201)
    # reads the case through its department, but is not its window
    stranger = await actor(api, "city-window", "window_clerk", "office:dept-441500-qx")
    before = await snapshot(api)
    problem = await upload(api, case["id"], 1, "申请书.pdf", a_pdf(), 403, user=stranger)
    assert problem["type"] == "forbidden_action"
    assert await snapshot(api) == before
    # a file the command refuses after reading it (the case is not the window's to change any more)
    await upload(api, case["id"], 1, "申请书.pdf", a_pdf())
    await post(api, f"/api/v1/cases/{case['id']}/packages", WINDOW, {"electronic": True}, 201)
    before = await snapshot(api)
    await upload(api, case["id"], 2, "图纸.pdf", a_pdf(3), 409)
    assert await snapshot(api) == before


async def test_the_public_verification_refuses_what_is_not_a_readable_pdf(api):
    for data in [b"", a_zip(), b"%PDF-1.4\n" + b"x" * 100, b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF"]:
        response = await api.client.post("/api/v1/verify", data=data)
        problem = await response.json()
        assert response.status == 422 and problem["title"] in (
            "请上传要核验的 PDF 文件",
            "只能核验 PDF 文件（按文件内容识别）",
            "该文件不是可以读取的 PDF",
        ), problem
    page = await api.client.post("/verify", data={"file": io.BytesIO(b"%PDF-broken")})
    assert page.status == 422 and "该文件不是可以读取的 PDF" in await page.text()
