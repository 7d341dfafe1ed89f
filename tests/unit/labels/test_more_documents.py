"""The ledger, the registration card, the written notice, the courier label, the manifest and the
pickup receipt: their codes decode, their tables paginate, their exports open in Excel."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import zipfile

import openpyxl
import pytest

from cli.main import main
from handoff.codes import PayloadKind
from labels import samples
from labels.courier_label import render_courier_label
from labels.ledger import COLUMNS, ledger_csv, ledger_xlsx, render_ledger
from labels.manifest import render_manifest
from labels.pickup_receipt import render_pickup_receipt
from labels.registration_card import render_registration_card
from labels.samples import SAMPLE_CODE, SAMPLE_SIGNER
from labels.stage_notice import render_stage_notice
from tests.unit.labels.test_documents import CODE128, QR, decode, page_text, pages


def flat(text: str) -> str:
    return text.replace("\r\n", "").replace("\n", "")


def test_the_courier_label_is_100_by_150_mm_and_its_codes_are_the_waybill_and_the_package():
    data = samples.courier_label()
    (page,) = pages(render_courier_label(data))
    width, height = page.get_size()
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (100, 150)
    found = decode(page)
    assert found[CODE128] == data.waybill_no
    scanned = SAMPLE_SIGNER.verify(found[QR])
    assert scanned.kind is PayloadKind.PACKAGE and scanned.value == SAMPLE_CODE.compact
    text = flat(page_text(page))
    assert str(SAMPLE_CODE) in text and "汕尾市气象局" in text and "陆丰市政务服务中心" in text


def test_a_very_long_address_is_set_smaller_and_the_label_stays_one_page():
    address = "广东省汕尾市陆丰市碣石镇" + "新饶村委会下寮村第三村民小组东侧巷" * 8 + "尾号 88 号"
    data = dataclasses.replace(samples.courier_label(), receiver_address=address, sender_address=address)
    (page,) = pages(render_courier_label(data))
    assert "尾号 88 号" in flat(page_text(page))
    assert decode(page)[CODE128] == data.waybill_no


def test_every_page_of_a_long_manifest_has_the_batch_qr_and_the_table_header():
    data = samples.manifest()
    many = tuple(dataclasses.replace(r, case_no=f"441523-20260302-{n:04d}") for n, r in enumerate(data.rows * 4))
    all_pages = pages(render_manifest(dataclasses.replace(data, rows=many)))
    assert len(all_pages) >= 3
    for page in all_pages:
        scanned = SAMPLE_SIGNER.verify(decode(page)[QR])
        assert scanned.kind is PayloadKind.MANIFEST and scanned.value == samples.MANIFEST_BATCH
        assert "材料包编号" in flat(page_text(page))
    everything = "".join(flat(page_text(p)) for p in all_pages)
    assert f"合计 {len(many)} 包" in everything
    assert all(f"441523-20260302-{n:04d}" in everything for n in range(len(many)))


def test_the_manifest_lists_every_package_code():
    data = samples.manifest()
    text = "".join(flat(page_text(p)) for p in pages(render_manifest(data)))
    assert all(r.package_code in text for r in data.rows)


def test_the_registration_card_has_the_four_stages_the_special_stage_and_the_statement():
    text = flat(page_text(pages(render_registration_card(samples.registration_card()))[0]))
    for stage in ("收件", "流转", "办理", "送达", "特殊环节", "专家评审", "工作日"):
        assert stage in text
    assert "不计算在承诺时限内" in text
    assert "特殊环节合计 7 个工作日" in text


def test_a_card_without_special_stages_says_none():
    data = dataclasses.replace(samples.registration_card(), special_stages=())
    text = flat(page_text(pages(render_registration_card(data))[0]))
    assert "特殊环节合计 0 个工作日" in text and "无" in text


def test_the_stage_notice_names_the_stage_the_reason_and_the_law_and_its_qr_is_the_tracking_link():
    data = samples.stage_notice()
    (page,) = pages(render_stage_notice(data))
    text = flat(page_text(page))
    assert "特别程序告知书" in text and "专家评审" in text and "第四十五条" in text
    assert decode(page)[QR] == data.tracking_url


def test_an_extension_notice_speaks_of_the_extension_and_article_42():
    data = dataclasses.replace(
        samples.stage_notice(),
        is_extension=True,
        stage_name="延长 10 个工作日",
        legal_basis="《中华人民共和国行政许可法》第四十二条",
        reason="项目涉及跨区域环境影响，需补充论证",
    )
    text = flat(page_text(pages(render_stage_notice(data))[0]))
    assert "办理时限予以延长" in text and "第四十二条" in text and "延长期限" in text


def test_the_pickup_receipt_prints_the_id_masked_and_its_codes_decode():
    data = samples.pickup_receipt()
    (page,) = pages(render_pickup_receipt(data))
    text = flat(page_text(page))
    assert "4415**********1234" in text and "441581199001011234" not in text
    found = decode(page)
    assert SAMPLE_SIGNER.verify(found[QR]).kind is PayloadKind.PACKAGE
    assert found[CODE128] == data.package_code.replace("-", "")


def test_the_pickup_receipt_refuses_an_unmasked_id_number():
    data = dataclasses.replace(samples.pickup_receipt(), receiver_id_masked="441581199001011234")
    with pytest.raises(ValueError, match="脱敏"):
        render_pickup_receipt(data)


def test_the_ledger_is_landscape_and_repeats_its_header_on_every_page():
    data = samples.ledger(60)
    all_pages = pages(render_ledger(data))
    assert len(all_pages) >= 4
    for number, page in enumerate(all_pages, start=1):
        width, height = page.get_size()
        assert width > height
        text = flat(page_text(page))
        assert "办理时间" in text and "办理状态" in text and f"第 {number} 页" in text
    everything = "".join(flat(page_text(p)) for p in all_pages)
    assert all(f"139****{n:04d}" in everything for n in range(1, 61))


def test_the_ledger_csv_has_a_bom_the_appendix_columns_and_a_row_per_case():
    data = samples.ledger()
    raw = ledger_csv(data)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(rows[0]) == COLUMNS and len(rows) == len(data.rows) + 1
    assert rows[1][3] == data.rows[0].matter_name


def test_the_ledger_xlsx_opens_with_the_same_rows_and_the_same_bytes_each_time():
    data = samples.ledger()
    raw = ledger_xlsx(data)
    assert raw == ledger_xlsx(data)
    sheet = openpyxl.load_workbook(io.BytesIO(raw)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert tuple(values[1]) == COLUMNS and len(values) == len(data.rows) + 2
    assert values[2][6] == data.rows[0].applicant_name


def test_the_ledger_xlsx_carries_no_wall_clock_time():
    with zipfile.ZipFile(io.BytesIO(ledger_xlsx(samples.ledger(3)))) as archive:
        core = archive.read("docProps/core.xml").decode()
        assert all(info.date_time == (2000, 1, 1, 0, 0, 0) for info in archive.infolist())
    assert re.findall(r"<dcterms:(?:created|modified)[^>]*>([^<]*)<", core) == ["2000-01-01T00:00:00Z"] * 2


@pytest.mark.parametrize(
    "kind",
    ["receipt-notice", "transfer-slip", "ledger", "registration-card", "stage-notice", "courier-label",
     "manifest", "pickup-receipt"],
)  # fmt: skip
def test_handoff_render_writes_each_kind_from_sample_data(kind, tmp_path, capsys):
    out = tmp_path / f"{kind}.pdf"
    assert main(["render", kind, "--sample", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")


def test_handoff_render_exports_the_ledger_as_xlsx_and_csv(tmp_path, capsys):
    assert main(["render", "ledger", "--sample", "--format", "xlsx", "-o", str(tmp_path / "l.xlsx")]) == 0
    assert main(["render", "ledger", "--sample", "--format", "csv", "-o", str(tmp_path / "l.csv")]) == 0
    assert (tmp_path / "l.xlsx").read_bytes()[:2] == b"PK"
    assert (tmp_path / "l.csv").read_bytes()[:3] == b"\xef\xbb\xbf"


def test_bad_render_arguments_give_one_chinese_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["render", "poster", "--sample", "-o", str(tmp_path / "x.pdf")])
    assert exit_.value.code == 2
    assert "无效" in capsys.readouterr().err
    assert main(["render", "manifest", "--sample", "--format", "csv", "-o", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "只有台账" in err and len(err.strip().splitlines()) == 1
