"""How long the checks of electronic materials and results take (one core): a 300-page PDF opened
with pdfium, an A4 300 dpi JPEG scan re-encoded, a result signed (PAdES) and verified.

    .venv/bin/python bench/bench_electronic.py
"""

from __future__ import annotations

import io
import os
import time

from PIL import Image
from reportlab.pdfgen import canvas

from adapters.files import check_material
from adapters.pades import demo_signer, verify_pdf
from labels.electronic_result import ElectronicResultData, render_electronic_result


def main() -> None:
    out = io.BytesIO()
    drawing = canvas.Canvas(out)
    for n in range(300):
        drawing.drawString(72, 720, f"page {n}")
        drawing.showPage()
    drawing.save()
    pdf = out.getvalue()
    started = time.perf_counter()
    check_material(pdf, max_pages=300)
    pdf_ms = (time.perf_counter() - started) * 1000
    scan = io.BytesIO()
    Image.effect_noise((2480, 3508), 64).convert("RGB").save(scan, "JPEG", quality=90)
    jpeg = scan.getvalue()
    started = time.perf_counter()
    check_material(jpeg, max_pages=300)
    jpeg_ms = (time.perf_counter() - started) * 1000
    signer = demo_signer()
    document = render_electronic_result(
        ElectronicResultData("X", "防雷装置竣工验收", "张小三", "准予许可", "同意", "汕尾市气象局", "2026年3月2日", "x")
    )
    started = time.perf_counter()
    for _ in range(5):
        signed = signer.sign(document, reason="r", location="l")
    sign_ms = (time.perf_counter() - started) * 200
    started = time.perf_counter()
    for _ in range(5):
        verify_pdf(signed, signer.trust_roots)
    verify_ms = (time.perf_counter() - started) * 200
    print(
        f"300-page PDF ({len(pdf) // 1024} KB) opened in {pdf_ms:.0f} ms; "
        f"A4 300 dpi JPEG ({len(jpeg) // 1024} KB) re-encoded in {jpeg_ms:.0f} ms; "
        f"result signed in {sign_ms:.0f} ms, verified in {verify_ms:.0f} ms; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
