"""The ledger's XLSX and CSV carry what applicants typed, and no formula (DESIGN §12): a name like
``=HYPERLINK(…)`` is a text cell in the XLSX and starts with a single quote in the CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import zipfile

import openpyxl

from labels import samples
from labels.ledger import FORMULA_STARTS, csv_safe, ledger_csv, ledger_xlsx
from labels.models import LedgerData

HOSTILE = (
    '=HYPERLINK("http://evil.example/","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
    "#N/A",
)


def hostile_ledger() -> LedgerData:
    data = samples.ledger(len(HOSTILE))
    rows = tuple(
        dataclasses.replace(row, applicant_name=text, remarks=text, clerk=text)
        for row, text in zip(data.rows, HOSTILE, strict=True)
    )
    return dataclasses.replace(data, rows=rows, unit='=1+1"', period_text="-1")


def test_no_cell_of_the_ledger_xlsx_is_a_formula_and_every_hostile_text_reads_back_as_typed():
    raw = ledger_xlsx(hostile_ledger())
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        sheets = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in xml or "<f " in xml for xml in sheets)
    book = openpyxl.load_workbook(io.BytesIO(raw))
    for sheet in book.worksheets:
        for line in sheet.iter_rows():
            for cell in line:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
    rows = list(book.active.iter_rows(min_row=3, values_only=True))
    typed = [text.replace("\r", "\n") for text in HOSTILE]  # a line break is written as Excel's LF
    assert [row[6] for row in rows] == typed and [row[11] for row in rows] == typed
    assert all(isinstance(row[0], int) and isinstance(row[4], int) for row in rows)


def test_no_cell_of_the_ledger_csv_starts_as_a_formula_and_the_quote_is_the_only_change():
    raw = ledger_csv(hostile_ledger())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    assert [row[6] for row in rows[1:]] == ["'" + text if text[0] in "=+-@\t\r" else text for text in HOSTILE]
    assert csv_safe(42) == 42 and csv_safe("张小三") == "张小三" and csv_safe("") == ""
