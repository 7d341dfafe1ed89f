"""The written decisions as printed: each says its facts (items, due dates, reason, legal basis,
the 60-day and 6-month rights with the bodies named), carries the applicant's tracking QR, and
gives the same bytes for the same input."""

from __future__ import annotations

import dataclasses
import io

import pypdf
import pytest

from cli.main import main
from labels import samples
from labels.decisions import (
    render_acceptance_notice,
    render_denial_decision,
    render_iou_receipt,
    render_one_time_notice,
    render_rejection_decision,
    render_supplement_notice,
)
from tests.unit.labels.test_documents import QR, decode, pages

WITH_QR = [
    (render_supplement_notice, samples.supplement_notice),
    (render_iou_receipt, samples.iou_receipt),
    (render_acceptance_notice, samples.acceptance_notice),
    (render_rejection_decision, samples.rejection_decision),
    (render_denial_decision, samples.denial_decision),
]


def text_of(pdf: bytes) -> str:
    """The text as pypdf extracts it, lines joined (an independent reader)."""
    raw = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    return raw.replace("\r\n", "").replace("\n", "")


@pytest.mark.parametrize(("render", "sample"), WITH_QR)
def test_each_decision_carries_the_applicants_tracking_qr_and_renders_the_same_bytes_twice(render, sample):
    data = sample()
    pdf = render(data)
    assert pdf == render(sample())
    (page,) = pages(pdf)
    assert decode(page)[QR] == data.tracking_url


def test_the_one_time_notice_lists_every_missing_item_with_its_requirement_and_no_qr_without_a_case():
    data = samples.one_time_notice()
    pdf = render_one_time_notice(data)
    text = text_of(pdf)
    assert "一次性告知书" in text and "张小三" in text and "防雷装置竣工验收" in text and "汕尾市气象局" in text
    for row in data.missing:
        assert row.name in text and row.requirement in text
    assert "第三十二条第一款第（四）项" in text and "0660-8812345" in text
    assert QR not in decode(pages(pdf)[0])
    linked = render_one_time_notice(dataclasses.replace(data, tracking_url="https://zw.swgov.cn/t/abc"))
    assert decode(pages(linked)[0])[QR] == "https://zw.swgov.cn/t/abc"


def test_the_supplement_notice_names_the_items_and_the_due_date_and_what_happens_after():
    data = samples.supplement_notice()
    text = text_of(render_supplement_notice(data))
    assert "补正告知书" in text and data.case_no in text and "2026 年 3 月 20 日前补正" in text
    assert "消防车道" in text and "土地权属证明" in text and "补正不来" in text
    after = text_of(render_supplement_notice(dataclasses.replace(data, after_acceptance=True)))
    assert "不计算在承诺办理时限内" in after and "补正不来" not in after


def test_the_iou_receipt_names_each_item_owed_and_its_due_date():
    text = text_of(render_iou_receipt(samples.iou_receipt()))
    assert "容缺受理凭证" in text and "施工单位的资质证" in text and "授权委托书" in text
    assert text.count("2026 年 3 月 9 日前补交") == 2 and "不作出准予许可的决定" in text


def test_the_acceptance_notice_gives_the_promised_limit_and_its_due_date():
    text = text_of(render_acceptance_notice(samples.acceptance_notice()))
    assert "受理通知书" in text and "予以受理" in text and "第三十二条第一款第（五）项" in text
    assert "20 个工作日" in text and "2026 年 4 月 7 日" in text and "第四十五条" in text


@pytest.mark.parametrize(
    ("render", "sample", "verdict"),
    [
        (render_rejection_decision, samples.rejection_decision, "决定不予受理"),
        (render_denial_decision, samples.denial_decision, "决定不予行政许可"),
    ],
)
def test_a_refusal_states_reason_basis_and_the_rights_of_review_in_60_days_and_suit_in_6_months(
    render, sample, verdict
):
    data = dataclasses.replace(sample(), review_body="汕尾市人民政府", court="汕尾市城区人民法院")
    text = text_of(render(data))
    assert verdict in text and data.case_no in text
    assert data.reason.replace(" ", "")[:20] in text.replace(" ", "")
    assert "60 日内向 汕尾市人民政府 申请行政复议" in text
    assert "6 个月内向 汕尾市城区人民法院 提起行政诉讼" in text
    assert "行政复议法》第二十条" in text and "行政诉讼法》第四十六条" in text


def test_handoff_render_prints_each_decision_from_its_sample(tmp_path):
    for kind in (
        "one-time-notice",
        "supplement-notice",
        "iou-receipt",
        "acceptance-notice",
        "rejection-decision",
        "denial-decision",
    ):
        out = tmp_path / f"{kind}.pdf"
        assert main(["render", kind, "--sample", "-o", str(out)]) == 0
        assert out.read_bytes().startswith(b"%PDF")
