"""The ledger downloaded over HTTP carries no formula, whatever the applicants were called
(DESIGN §12, issue 13 item 7): every XLSX cell is text, no CSV cell starts as a formula."""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest

from labels.ledger import FORMULA_STARTS

from .test_documents import download
from .test_journeys import post, registration

pytestmark = pytest.mark.integration

NAMES = ('=HYPERLINK("http://evil.example/","x")', "+8613800000000", "-1+2", "@SUM(1,1)")


async def test_no_ledger_export_carries_a_formula_whatever_the_applicants_typed(api):
    for name in NAMES:
        body = registration(applicant={"name": name, "phone": "13812345678"})
        await post(api, "/api/v1/cases", "clerk-lf", body, 201)

    _, raw = await download(api, "/api/v1/ledger/export?format=xlsx", "supervisor")
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        sheets = [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/")]
    assert sheets and not any("<f>" in xml or "<f " in xml for xml in sheets)
    book = openpyxl.load_workbook(io.BytesIO(raw))
    cells = [cell for sheet in book.worksheets for line in sheet.iter_rows() for cell in line]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    names = [row[6] for row in book.active.iter_rows(min_row=3, values_only=True)]
    assert sorted(names) == sorted(NAMES)

    _, raw = await download(api, "/api/v1/ledger/export?format=csv", "supervisor")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    assert sorted(row[6] for row in rows[1:]) == sorted("'" + name for name in NAMES)
