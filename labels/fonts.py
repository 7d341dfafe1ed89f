"""The one font every document embeds: HandoffSans (a subset of WenQuanYi Micro Hei, Apache-2.0;
see labels/fonts/NOTICE.txt). Embedded as TrueType, so the PDFs render in any viewer and printer."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT = "HandoffSans"
FONT_FILE = Path(__file__).with_name("fonts") / "HandoffSans.ttf"


@cache
def register() -> str:
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE)))
    return FONT
