"""Shared drawing: styles, the deterministic document, QR codes as vector modules (a fixed mask,
no mask search), Code128 barcodes."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle
from reportlab.platypus.flowables import Spacer

from labels.fonts import register

FIXED_MASK = 4
"""Any valid mask decodes; a fixed one skips qrcode's search over all eight, which dominates the
render time of a slip (raw-limits §d)."""


@cache
def styles() -> dict[str, ParagraphStyle]:
    """The shared paragraph styles (made once; derive with ``.clone``, never change them)."""
    font = register()
    base = ParagraphStyle("base", fontName=font, fontSize=10.5, leading=15, wordWrap="CJK")
    return {
        "base": base,
        "body": ParagraphStyle("body", parent=base, firstLineIndent=21),
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=12),
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=4),
        "cell": ParagraphStyle("cell", parent=base, fontSize=10, leading=13),
        "head": ParagraphStyle("head", parent=base, fontSize=10, leading=13, alignment=TA_CENTER),
    }


def esc(text: object) -> str:
    """Text for a Paragraph: its markup characters escaped."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


PageHook = Callable[[Any, Any], None]
"""Called as ``hook(canvas, doc)`` on every page: running headers, page numbers, a batch QR."""


def build(
    story: Sequence[Flowable],
    *,
    title: str,
    pagesize: tuple[float, float] = A4,
    margins_mm: float = 18,
    top_mm: float | None = None,
    on_page: PageHook | None = None,
) -> bytes:
    """A PDF whose bytes depend only on the story: invariant mode, fixed metadata."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=margins_mm * mm,
        rightMargin=margins_mm * mm,
        topMargin=(margins_mm if top_mm is None else top_mm) * mm,
        bottomMargin=margins_mm * mm,
        title=title,
        author="Handoff",
        creator="Handoff",
        producer="Handoff",
        subject=title,
        invariant=1,
    )
    if on_page is None:
        doc.build(list(story))
    else:
        doc.build(list(story), onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


class QrCode(Flowable):  # type: ignore[misc]  # reportlab ships no type information
    """A QR drawn as one filled path of module runs: crisp at any resolution, and cheap (no shape
    objects per module)."""

    def __init__(self, payload: str, size_mm: float) -> None:
        super().__init__()
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=FIXED_MASK)
        code.add_data(payload)
        code.make(fit=True)
        self.matrix = code.get_matrix()
        self.size = size_mm * mm
        self.width = self.height = self.size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        # The path is written as PDF operators directly: formatting each number through
        # reportlab's path API costs more than encoding the QR itself.
        quiet = 4
        unit = self.size / (len(self.matrix) + 2 * quiet)
        ops = []
        for row, line in enumerate(self.matrix):
            start = None
            for col, dark in enumerate([*line, False]):
                if dark and start is None:
                    start = col
                elif not dark and start is not None:
                    y = self.size - (row + quiet + 1) * unit
                    ops.append(f"{(start + quiet) * unit:.3f} {y:.3f} {(col - start) * unit:.3f} {unit:.3f} re")
                    start = None
        self.canv.addLiteral("q 0 g\n" + "\n".join(ops) + "\nf Q")


def qr(payload: str, size_mm: float) -> QrCode:
    return QrCode(payload, size_mm)


def code128(
    value: str, bar_height_mm: float = 12, bar_width: float = 0.33 * mm, *, human_readable: bool = True
) -> Code128:
    return Code128(
        value,
        barHeight=bar_height_mm * mm,
        barWidth=bar_width,
        humanReadable=human_readable,
        fontName=register(),
        fontSize=8,
        quiet=True,
    )


CENTERED = [
    ("ALIGN", (0, 0), (-1, 0), "CENTER"),
    ("ALIGN", (0, 1), (0, -1), "CENTER"),
    ("ALIGN", (2, 1), (3, -1), "CENTER"),
]
"""The material table's header row, numbers and counts centred (as in Appendices A and B)."""


def grid(
    rows: list[list[Any]] | list[list[object]],
    widths: list[float],
    header_rows: int = 1,
    extra: list[Any] | None = None,
) -> Table:
    """A ruled table whose header repeats on every page it spans."""
    table = Table(rows, colWidths=widths, repeatRows=header_rows)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), register()),
                ("FONTSIZE", (0, 0), (-1, -1), 10),
                ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                *(extra or []),
            ]
        )
    )
    return table


def gap(height_mm: float) -> Spacer:
    return Spacer(1, height_mm * mm)


def para(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(text, style)


BLANK = "&nbsp;" * 6
"""A space to write in by hand (Paragraph collapses ordinary and ideographic spaces)."""
GAP = "&nbsp;" * 4
"""Space between two fields on one line."""


def fit(text: str, style: ParagraphStyle, width: float, padding: float = 12) -> str | Paragraph:
    """A table cell's content: the plain string when each of its lines fits (drawn directly,
    several times cheaper than laying out a CJK Paragraph), else a Paragraph that wraps."""
    lines = text.split("\n")
    if all(stringWidth(line, style.fontName, style.fontSize) <= width - padding for line in lines):
        return text
    return Paragraph("<br/>".join(esc(line) for line in lines), style)
