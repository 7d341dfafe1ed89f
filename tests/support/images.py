"""Real small images for evidence uploads (a signature's strokes, a phone photo with EXIF)."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw


def png(width: int = 120, height: int = 40) -> bytes:
    image = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(5, 30), (40, 8), (70, 32), (110, 6)], fill=(0, 0, 0, 255), width=3)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def jpeg_with_gps(width: int = 64, height: int = 48) -> bytes:
    """A JPEG carrying EXIF with a GPS position, as a phone camera writes it."""
    image = Image.new("RGB", (width, height), (180, 120, 60))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (22.0, 47.0, 0.0), 3: "E", 4: (115.0, 21.0, 0.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
