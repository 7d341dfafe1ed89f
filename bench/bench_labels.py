"""Transfer slips per second on one core, beside a bare reportlab page with the same font, one QR
and one Code128, measured in the same run.

Run:  .venv/bin/python bench/bench_labels.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qrcode
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from labels.fonts import register
from labels.samples import transfer_slip
from labels.transfer_slip import render_transfer_slip


def bare_page(payload: str, code: str) -> bytes:
    """The least a slip can be: the font, one QR (qrcode's own mask search) and one Code128."""
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    c.setFont(register(), 14)
    c.drawString(30 * mm, 270 * mm, "申请材料转办单")
    matrix = qrcode.QRCode(border=0)
    matrix.add_data(payload)
    matrix.make(fit=True)
    unit = 30 * mm / len(matrix.get_matrix())
    for r, row in enumerate(matrix.get_matrix()):
        for col, dark in enumerate(row):
            if dark:
                c.rect(150 * mm + col * unit, 260 * mm - r * unit, unit, unit, stroke=0, fill=1)
    Code128(code, barHeight=12 * mm).drawOn(c, 30 * mm, 240 * mm)
    c.showPage()
    c.save()
    return buffer.getvalue()


def rate(work, seconds: float) -> float:  # type: ignore[no-untyped-def]
    work()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work()
        done += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    data = transfer_slip()
    bare = rate(lambda: bare_page(data.scan_payload, data.package_code.replace("-", "")), args.seconds)
    ours = rate(lambda: render_transfer_slip(data), args.seconds)
    print(f"bare reportlab page (font + QR + Code128): {bare:8.1f} pages/s")
    print(f"transfer slip (Appendix B, full form):      {ours:8.1f} slips/s")
    print(f"ratio slip / bare:                          {ours / bare:8.1%}  (goal ≥ 70 %)")


if __name__ == "__main__":
    main()
