"""The rendered electronic result (办理结果（电子）): its text, the same bytes for the same input, and
the QR of the verification page read back by an independent decoder."""

from __future__ import annotations

import pypdfium2 as pdfium
import zxingcpp

from labels.electronic_result import ElectronicResultData, render_electronic_result

DATA = ElectronicResultData(
    case_no="441581-20260302-0001-6",
    matter_name="防雷装置竣工验收",
    applicant_name="汕尾市某某建筑有限公司",
    outcome_text="准予许可",
    opinion="经审查，防雷装置符合设计要求，同意验收。",
    unit="汕尾市气象局",
    decided_text="2026年3月3日",
    verify_url="https://zw.swgov.cn/verify",
)


def test_the_electronic_result_names_the_case_and_leads_to_the_verification_page():
    pdf = render_electronic_result(DATA)
    assert pdf == render_electronic_result(DATA)
    document = pdfium.PdfDocument(pdf)
    page = document[0]
    text = page.get_textpage().get_text_range()
    for expected in ["办理结果（电子）", DATA.case_no, "准予许可", "汕尾市气象局", "电子签章"]:
        assert expected in text.replace("\r\n", "").replace("\n", "")
    image = page.render(scale=3).to_pil()
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [DATA.verify_url]
