"""Shared drawing: styles, the deterministic document, Chinese line breaking (避头尾), QR codes as
vector modules (a fixed mask, no mask search), Code128 barcodes."""

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
from reportlab.platypus.paragraph import ParaLines, cjkU, makeCJKParaLine
from reportlab.rl_config import _FUZZ

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


# --------------------------------------------------------------------------- line breaking (避头尾)

CLOSING = frozenset("、，。；：！？）」』》〉】〕］｝’”,.;:!?)]}%％·…")
"""Punctuation that never starts a line (GB/T 15834, 标点符号用法: 点号和结束引号、括号、书名号)."""
OPENING = frozenset("（「『《〈【〔［｛‘“([{")
"""Punctuation that never ends a line: the opening half of quotes, brackets and title marks."""


def _blank(char: str) -> bool:
    return char != "\n" and char.isspace()


def _allowed(chars: Sequence[str], at: int) -> bool:
    """May a line break before ``chars[at]``? Not when the next line would start with closing
    punctuation, nor this one end with opening punctuation (spaces between do not count)."""
    after = at
    while after < len(chars) and _blank(chars[after]):
        after += 1
    before = at - 1
    while before > 0 and _blank(chars[before]):
        before -= 1
    return (after >= len(chars) or chars[after] not in CLOSING) and (before < 0 or chars[before] not in OPENING)


def _word(char: str) -> bool:
    """A character of a Latin word, number or time such as ``09:40`` (kept whole when the line
    allows)."""
    return bool(char) and ord(char) < 0x2E80 and not char.isspace()


def break_at(chars: Sequence[str], start: int, overflow: int) -> int:
    """Where the line that begins at ``chars[start]`` ends, when ``chars[overflow]`` no longer fits:
    the index the next line starts at.

    A Latin word or number is not cut when a space or a Chinese character within the second half
    of the line allows a break before it. Then 避头尾: the break moves back until the next line
    does not start with closing punctuation and this one does not end with opening punctuation;
    when the whole line is such punctuation it moves forward instead (the mark hangs in the margin),
    so every line holds at least one character and the rule always holds. A ``"\n"`` is a forced
    break that no line runs past."""
    n = len(chars)
    end = max(overflow, start + 1)
    while end < n and _blank(chars[end]):  # a space ending a line is invisible
        end += 1
    if end >= n:
        return n
    if _word(chars[end - 1]) and _word(chars[end]):
        for j in range(end - 1, (start + end) // 2, -1):
            if not (_word(chars[j - 1]) and _word(chars[j])):
                end = j
                break
    b = end
    while b > start + 1 and not _allowed(chars, b):
        b -= 1
    if _allowed(chars, b) and b > start:
        return b
    b = end
    while b < n and chars[b] != "\n" and not _allowed(chars, b):
        b += 1
    return b


def wrap_lines(text: str, width: float, font: str, size: float) -> list[str]:
    """``text`` broken into lines of at most ``width`` points (a line may run over only by hanging
    punctuation), by the same rule :class:`Para` draws with: for tests and plain drawing."""
    chars = list(text)
    widths = [stringWidth(c, font, size) for c in chars]
    lines, start = [], 0
    while start < len(chars):
        used, i = 0.0, start
        while i < len(chars) and used + widths[i] <= width + _FUZZ:
            used += widths[i]
            i += 1
        end = len(chars) if i >= len(chars) else break_at(chars, start, i)
        lines.append("".join(chars[start:end]))
        start = end
    return lines


def _split_frags(frags: Sequence[Any], max_widths: Sequence[float], calc_bounds: bool) -> Any:
    """reportlab's CJK line splitting (``cjkFragSplit``) with :func:`break_at` as the break rule.
    reportlab's own knows neither the full-width comma nor opening punctuation."""
    glyphs: list[Any] = []
    for frag in frags:
        text = frag.text.decode("utf8") if isinstance(frag.text, bytes) else frag.text
        if text:
            glyphs.extend(cjkU(t, frag, "utf8") for t in text)
        else:
            glyphs.append(cjkU(text, frag, "utf8"))
    chars = ["\n" if hasattr(g.frag, "lineBreak") else str(g) for g in glyphs]
    lines: list[Any] = []
    start = 0
    while start < len(glyphs):
        max_width = max_widths[min(len(lines), len(max_widths) - 1)]
        used, i, forced = 0.0, start, False
        while i < len(glyphs):
            if hasattr(glyphs[i].frag, "lineBreak"):
                i, forced = i + 1, True
                break
            if used + glyphs[i].width > max_width + _FUZZ and i > start:
                break
            used += glyphs[i].width
            i += 1
        end = i if forced or i >= len(glyphs) else break_at(chars, start, i)
        if not forced and end < len(glyphs) and chars[end] == "\n":
            end, forced = end + 1, True
        width = sum(g.width for g in glyphs[start:end])
        lines.append(makeCJKParaLine(glyphs[start:end], max_width, width, max_width - width, forced, calc_bounds))
        start = end
    return ParaLines(kind=1, lines=lines)


class Para(Paragraph):  # type: ignore[misc]  # reportlab ships no type information
    """A Paragraph whose Chinese lines break by the rules of :func:`break_at` (避头尾)."""

    def breakLinesCJK(self, maxWidths: Any) -> Any:  # reportlab's method and argument names
        if getattr(self, "_splitpara", 0) and hasattr(self, "blPara"):
            return self.blPara
        if not self.frags or self.style.endDots or any(hasattr(f, "cbDefn") for f in self.frags):
            return super().breakLinesCJK(maxWidths)
        self.height = 0
        widths = list(maxWidths) if isinstance(maxWidths, list | tuple) else [maxWidths]
        auto = getattr(self, "autoLeading", getattr(self.style, "autoLeading", ""))
        return _split_frags(self.frags, widths, auto not in ("", "off"))


def para(text: str, style: ParagraphStyle) -> Paragraph:
    return Para(text, style)


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
    return Para("<br/>".join(esc(line) for line in lines), style)
