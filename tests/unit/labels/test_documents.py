"""Documents: the same bytes for the same input, Chinese that renders (embedded font, every glyph
present), wrapping and page breaks, and codes that an independent decoder reads back."""

from __future__ import annotations

import dataclasses
import inspect
import io

import pypdf
import pypdfium2 as pdfium
import pytest
import zxingcpp

import handoff.labels_zh as zh
from adapters.sms.templates import TEMPLATES
from handoff.codes import PayloadKind
from labels import (
    courier_label,
    custody_report,
    decisions,
    drawing,
    from_domain,
    ledger,
    manifest,
    pickup_receipt,
    receipt_notice,
    registration_card,
    samples,
    stage_notice,
    transfer_slip,
)
from labels.courier_label import render_courier_label
from labels.custody_report import render_custody_report
from labels.fonts import FONT_FILE
from labels.ledger import render_ledger
from labels.manifest import render_manifest
from labels.models import MaterialRow
from labels.pickup_receipt import render_pickup_receipt
from labels.receipt_notice import render_receipt_notice
from labels.registration_card import render_registration_card
from labels.samples import SAMPLE_CODE, SAMPLE_SIGNER, SAMPLE_TRACKING
from labels.samples import receipt_notice as notice_sample
from labels.samples import transfer_slip as slip_sample
from labels.stage_notice import render_stage_notice
from labels.transfer_slip import render_transfer_slip

RENDERERS = [
    (render_transfer_slip, slip_sample),
    (render_receipt_notice, notice_sample),
    (render_registration_card, samples.registration_card),
    (render_stage_notice, samples.stage_notice),
    (render_courier_label, samples.courier_label),
    (render_manifest, samples.manifest),
    (render_pickup_receipt, samples.pickup_receipt),
    (render_ledger, samples.ledger),
    (render_custody_report, samples.custody_report),
    (decisions.render_one_time_notice, samples.one_time_notice),
    (decisions.render_supplement_notice, samples.supplement_notice),
    (decisions.render_iou_receipt, samples.iou_receipt),
    (decisions.render_acceptance_notice, samples.acceptance_notice),
    (decisions.render_rejection_decision, samples.rejection_decision),
    (decisions.render_denial_decision, samples.denial_decision),
]
MODULES = (
    drawing, receipt_notice, transfer_slip, registration_card, stage_notice, courier_label, manifest,
    pickup_receipt, ledger, samples, from_domain, custody_report, decisions,
)  # fmt: skip


def pages(pdf: bytes) -> list[pdfium.PdfPage]:
    return list(pdfium.PdfDocument(pdf))


def page_text(page: pdfium.PdfPage) -> str:
    return page.get_textpage().get_text_range()


def decode(page: pdfium.PdfPage) -> dict[object, str]:
    """What an independent decoder (zxing-cpp) reads off the page rendered at 300 dpi."""
    image = page.render(scale=300 / 72).to_pil()
    return {b.format: b.text for b in zxingcpp.read_barcodes(image)}


QR, CODE128 = zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.Code128
STANDARD_14 = {"/Helvetica"}


def fonts(pdf: bytes) -> dict[str, bool]:
    """Each font of each page → whether its outlines are embedded."""
    found: dict[str, bool] = {}
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            found[str(font["/BaseFont"])] = descriptor is not None and "/FontFile2" in descriptor.get_object()
    return found


@pytest.mark.parametrize(("render", "sample"), RENDERERS)
def test_the_same_input_gives_the_same_bytes(render, sample):
    assert render(sample()) == render(sample())


@pytest.mark.parametrize(("render", "sample"), RENDERERS)
def test_the_font_is_embedded_and_the_chinese_text_is_in_the_pdf(render, sample):
    pdf = render(sample())
    embedded = fonts(pdf)
    assert any(name.endswith("WenQuanYiMicroHei") and ok for name, ok in embedded.items())
    assert all(ok for name, ok in embedded.items() if name not in STANDARD_14), embedded
    assert not any("STSong" in name for name in embedded)
    assert page_text(pages(pdf)[0]).strip()


def test_the_slip_and_the_notice_carry_the_material_names():
    for pdf in (render_transfer_slip(slip_sample()), render_receipt_notice(notice_sample())):
        text = page_text(pages(pdf)[0])
        assert "防雷装置竣工验收" in text and "授权委托书" in text


def test_the_transfer_slip_qr_is_a_payload_the_api_accepts_and_the_barcode_is_the_code():
    found = decode(pages(render_transfer_slip(slip_sample()))[0])
    scanned = SAMPLE_SIGNER.verify(found[QR])
    assert scanned.kind is PayloadKind.PACKAGE and scanned.value == SAMPLE_CODE.compact
    assert found[CODE128] == SAMPLE_CODE.compact


def test_the_receipt_notice_qr_is_the_applicants_tracking_link():
    found = decode(pages(render_receipt_notice(notice_sample()))[0])
    assert found[QR].endswith("/t/" + SAMPLE_TRACKING.token_for("sample-case"))


def test_long_names_wrap_and_many_materials_continue_on_the_next_page_with_the_header():
    long_name = "建设工程规划许可证核发所需的" + "配套市政基础设施与人民防空工程设计审查意见书" * 4
    rows = tuple(MaterialRow(f"{long_name}（第 {n} 册）", 1, 10 + n, "核对原件") for n in range(1, 31))
    pdf = render_transfer_slip(dataclasses.replace(slip_sample(), materials=rows))
    all_pages = pages(pdf)
    assert len(all_pages) >= 3
    texts = [page_text(p).replace("\r\n", "").replace("\n", "") for p in all_pages]
    assert all("材料名称" in t for t in texts[:-1])  # the header repeats wherever the table runs
    everything = "".join(texts)
    for n in (1, 15, 30):
        assert f"（第 {n} 册）" in everything
    assert everything.count("人民防空工程设计审查意见书") == 30 * 4


def covers(text: str) -> set[str]:
    """Characters of ``text`` the embedded font has no glyph for."""
    from fontTools.ttLib import TTFont

    cmap = TTFont(str(FONT_FILE)).getBestCmap()
    return {c for c in text if c.strip() and ord(c) not in cmap}


def test_the_font_has_a_glyph_for_every_chinese_string_we_print():
    strings: list[str] = []
    for table in (
        zh.STATE_ZH,
        zh.COMMAND_ZH,
        zh.STAGE_TYPE_ZH,
        zh.MODE_ZH,
        zh.DELIVERY_ZH,
        zh.CASE_KIND_ZH,
        zh.CARRIER_ZH,
    ):
        strings += table.values()
    strings += [t.text for t in TEMPLATES.values()]
    for module in MODULES:
        strings.append(inspect.getsource(module))
    strings += [str(sample()) for _, sample in RENDERERS]
    assert covers("".join(strings)) == set()


def test_the_ledger_and_the_manifest_print_their_checkpoint_in_every_pages_footer():
    stamp = samples.SAMPLE_STAMP
    line = f"存证检查点 No.{stamp.n} 根 {stamp.root[:16]} 签名 {stamp.signature[:16]} {stamp.made_text}"
    for pdf in (render_ledger(samples.ledger()), render_manifest(samples.manifest())):
        texts = [page_text(p).replace("\u3000", " ") for p in pages(pdf)]
        assert texts and all(line in t for t in texts), texts[0][-200:]
    bare = render_ledger(dataclasses.replace(samples.ledger(), checkpoint=None))
    assert "存证检查点" not in "".join(page_text(p) for p in pages(bare))


def test_the_custody_report_lists_every_event_with_its_hash_and_the_verification():
    package = samples.custody_package()
    data = samples.custody_report()
    text = "".join(page_text(p) for p in pages(render_custody_report(data))).replace("\n", "")
    assert "材料包监管链报告" in text and str(package.code) in text
    for event in package.custody:
        assert event.hash[:16] in text
    for word in ("创建", "封装", "揽收", "运输中", "送达", "签收", "页数不符", "快递员 吴海波", "陈晓红"):
        assert word in text, word
    assert "验证通过：6 条记录首尾相接" in text and "已由第 27 号存证检查点固定" in text
    failed = dataclasses.replace(data, verified=False, verification_text="验证未通过：记录被删除")
    assert "验证未通过：记录被删除" in "".join(page_text(p) for p in pages(render_custody_report(failed)))
