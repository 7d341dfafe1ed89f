"""Transfer slips per second on one core, beside a bare reportlab page with the same font, one QR
and one Code128, measured in the same run.

Run:  .venv/bin/python bench/bench_labels.py [--seconds 10]  (seconds per variant, interleaved)
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
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


def rate(work: Callable[[], bytes], seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        work()
        done += 1
    return done / (time.perf_counter() - start)


def interleaved(a: Callable[[], bytes], b: Callable[[], bytes], seconds: float) -> tuple[float, float]:
    """Median rates of a and b measured in alternating half-second slices, so that a neighbour's
    burst of CPU on a shared machine hits both alike."""
    a(), b()
    slices = max(2, round(seconds / 0.5))
    rates_a, rates_b = [], []
    for _ in range(slices):
        rates_a.append(rate(a, 0.5))
        rates_b.append(rate(b, 0.5))
    return statistics.median(rates_a), statistics.median(rates_b)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    data = transfer_slip()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    bare, ours = interleaved(
        lambda: bare_page(data.scan_payload, data.package_code.replace("-", "")),
        lambda: render_transfer_slip(data),
        args.seconds,
    )
    print(f"bare reportlab page (font + QR + Code128): {bare:8.1f} pages/s")
    print(f"transfer slip (Appendix B, full form):      {ours:8.1f} slips/s")
    print(f"ratio slip / bare:                          {ours / bare:8.1%}  (goal ≥ 70 %)")


if __name__ == "__main__":
    main()
