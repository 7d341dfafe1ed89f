"""Evidence images (signatures, photos) decoded and re-encoded with Pillow before they are kept.

What is stored is never the uploaded file itself: the pixels are decoded (a file that is not a
PNG or JPEG image is refused), turned upright by their EXIF orientation, and written anew —
without metadata (a phone photo's EXIF carries the place where it was taken) and without any
bytes a crafted file could smuggle behind the image."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from handoff.errors import InvalidInput

MAX_PIXELS = 40_000_000
"""Larger images are refused before they are decoded (a small file can unpack to gigabytes)."""


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str


def reencode(data: bytes) -> CleanImage:
    """The image in ``data`` re-encoded (PNG stays PNG, JPEG stays JPEG); InvalidInput otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                if kind not in ("PNG", "JPEG"):
                    raise InvalidInput("凭证只接受 PNG 或 JPEG 图片")
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise InvalidInput("凭证图片的像素过多")
                probe.load()
                image = ImageOps.exif_transpose(probe)
    except InvalidInput:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise InvalidInput("凭证不是可以识别的 PNG 或 JPEG 图片") from exc
    out = io.BytesIO()
    if kind == "PNG":
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, format="PNG")
        return CleanImage(out.getvalue(), "image/png")
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    image.save(out, format="JPEG", quality=85)
    return CleanImage(out.getvalue(), "image/jpeg")
