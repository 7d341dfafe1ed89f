"""Appendix C 事项办理台账: the window's ledger as a landscape PDF (its header row on every page)
and as XLSX and CSV (UTF-8 with a BOM, so Excel opens it as Chinese), the same columns in each.

The cells hold what applicants typed, so neither export may carry a formula (DESIGN §12): every
XLSX text cell is written as a string cell, never a formula, and a CSV cell that a spreadsheet
would read as one (starting with ``= + - @``, tab or CR) is prefixed with a single quote, as
OWASP recommends against CSV injection."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm

from labels.drawing import build, fit, para, styles
from labels.drawing import grid as ruled
from labels.fonts import register
from labels.models import LedgerData, LedgerRow

COLUMNS = (
    "序号", "办理时间", "业务科室", "办理事项", "数量", "办件类型（即办件/承诺件）",
    "申请人", "联系电话", "办理窗口", "办理人员", "办理状态", "备注",
)  # fmt: skip
WIDTHS_MM = (10, 26, 24, 38, 12, 20, 20, 26, 30, 18, 18, 31)
FIXED_TIME = datetime(2000, 1, 1)
"""The XLSX's document times and zip entry times: fixed, so the same ledger gives the same bytes."""
MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may take for the start of a formula (OWASP, CSV injection)."""


def csv_safe(value: str | int) -> str | int:
    """A CSV cell that no spreadsheet reads as a formula: a text starting with ``= + - @``, tab or
    CR gets a leading single quote; numbers are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def xlsx_row(sheet: Any, values: list[str | int]) -> None:
    """Append a row whose text cells are string cells: openpyxl turns a text starting with ``=``
    into a formula (and ``#N/A`` into an error), so the type is set after the value. A line break
    is written as LF, Excel's own: a CR would read back as LF or as CR depending on the XML
    library the writer found installed (lxml escapes it, the standard library does not)."""
    sheet.append([v.replace("\r\n", "\n").replace("\r", "\n") if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
            if cell.value.startswith(FORMULA_STARTS):
                cell.quotePrefix = True  # Excel keeps it text even when the cell is edited


def _cells(n: int, row: LedgerRow) -> list[str | int]:
    return [
        n, row.handled_at, row.department, row.matter_name, row.quantity, row.case_kind,
        row.applicant_name, row.contact_phone, row.window, row.clerk, row.status, row.remarks,
    ]  # fmt: skip


def render_ledger(data: LedgerData) -> bytes:
    s = styles()
    cell = s["cell"].clone("ledger-cell", fontSize=9, leading=11.5)
    head = s["head"].clone("ledger-head", fontSize=9, leading=11.5)
    page_w, page_h = landscape(A4)

    def frame(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(register(), 16)
        canvas.drawCentredString(page_w / 2, page_h - 14 * mm, "事项办理台账")
        canvas.setFont(register(), 9)
        canvas.drawString(12 * mm, page_h - 21 * mm, f"单位：{data.unit}　　期间：{data.period_text}")
        canvas.drawRightString(page_w - 12 * mm, page_h - 21 * mm, f"打印：{data.printed_text}")
        canvas.drawCentredString(page_w / 2, 7 * mm, f"第 {doc.page} 页")
        if data.checkpoint is not None:
            canvas.setFont(register(), 7.5)
            canvas.drawString(12 * mm, 7 * mm, data.checkpoint.text())
        canvas.restoreState()

    widths = [w * mm for w in WIDTHS_MM]
    rows: list[list[object]] = [[para(c, head) for c in COLUMNS]]
    for n, row in enumerate(data.rows, start=1):
        # A cell that fits on its line is drawn as a plain string: laying out a CJK Paragraph per
        # cell costs twice the whole rest of the page.
        rows.append([fit(str(v), cell, w) for v, w in zip(_cells(n, row), widths, strict=True)])
    table = ruled(
        rows,
        widths,
        extra=[("BACKGROUND", (0, 0), (-1, 0), "#eeeeee"), ("TOPPADDING", (0, 0), (-1, -1), 2),
               ("BOTTOMPADDING", (0, 0), (-1, -1), 3), ("FONTSIZE", (0, 1), (-1, -1), cell.fontSize),
               ("LEADING", (0, 1), (-1, -1), cell.leading)],
    )  # fmt: skip
    return build([table], title="事项办理台账", pagesize=landscape(A4), margins_mm=12, top_mm=25, on_page=frame)


def ledger_csv(data: LedgerData) -> bytes:
    """CSV for Excel: UTF-8 with a BOM, CRLF line ends, the appendix's header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for n, row in enumerate(data.rows, start=1):
        writer.writerow([csv_safe(v) for v in _cells(n, row)])
    return out.getvalue().encode("utf-8-sig")


def ledger_xlsx(data: LedgerData) -> bytes:
    """One sheet: the title, the header row (repeated when printed, frozen when scrolled), the rows."""
    book = Workbook()
    book.properties.created = book.properties.modified = FIXED_TIME
    book.properties.creator = "Handoff"
    book.properties.title = "事项办理台账"
    sheet = book.active
    assert sheet is not None
    sheet.title = "事项办理台账"
    xlsx_row(sheet, [f"事项办理台账　{data.unit}　{data.period_text}"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    sheet["A1"].font = Font(bold=True, size=14)
    xlsx_row(sheet, list(COLUMNS))
    for n, row in enumerate(data.rows, start=1):
        xlsx_row(sheet, _cells(n, row))
    thin = Side(style="thin")
    for line in sheet.iter_rows(min_row=2):
        for c in line:
            c.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            c.alignment = Alignment(wrap_text=True, vertical="center")
    for c in sheet[2]:
        c.font = Font(bold=True)
    for index, width in enumerate(WIDTHS_MM, start=1):
        sheet.column_dimensions[sheet.cell(row=2, column=index).column_letter].width = width / 2
    sheet.freeze_panes = "A3"
    sheet.print_title_rows = "2:2"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    raw = io.BytesIO()
    book.save(raw)
    return _fixed_zip_times(raw.getvalue())


def _fixed_zip_times(archive: bytes) -> bytes:
    """openpyxl stamps each zip entry, and the workbook's modified time, with the wall clock on
    save; rewrite both with the fixed time."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = MODIFIED.sub(FIXED_TIME.strftime(r"\g<1>%Y-%m-%dT%H:%M:%SZ\g<2>").encode(), content)
            dst.writestr(fixed, content)
    return out.getvalue()
