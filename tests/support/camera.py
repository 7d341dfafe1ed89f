"""A fake camera for the page tests: Chromium plays a Y4M file as the webcam
(--use-fake-device-for-media-stream --use-file-for-fake-video-capture=FILE). The file is made here
from a real printed document — its PDF rendered by pdfium, the part with the QR code cut out —
so the console's scanner reads what a courier's phone would see."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

WIDTH, HEIGHT = 640, 480


def pdf_page_image(pdf: bytes, scale: float = 3.0) -> Image.Image:
    document = pdfium.PdfDocument(io.BytesIO(pdf))
    try:
        return document[0].render(scale=scale).to_pil().convert("RGB")
    finally:
        document.close()


def top_right_frame(page: Image.Image) -> Image.Image:
    """The slip's head (its QR code sits at the top right), framed as a phone held over it."""
    w = page.size[0]
    crop = page.crop((w // 2, 0, w, w // 2 * HEIGHT // WIDTH))
    frame = Image.new("RGB", (WIDTH, HEIGHT), (250, 250, 250))
    crop.thumbnail((WIDTH, HEIGHT))
    frame.paste(crop, ((WIDTH - crop.width) // 2, (HEIGHT - crop.height) // 2))
    return frame


def write_y4m(frame: Image.Image, path: Path, frames: int = 10, fps: int = 10) -> Path:
    """One picture as a Y4M video (4:2:0), repeated FRAMES times (Chromium loops the file)."""
    if frame.size != (WIDTH, HEIGHT):
        frame = frame.resize((WIDTH, HEIGHT))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (WIDTH // 2, HEIGHT // 2)
    planes = y.tobytes() + cb.resize(half, Image.Resampling.BILINEAR).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)
    return path
