"""Electronic materials (电子材料) as the window attaches them: PDF, JPEG or PNG, recognised by their
content (the first bytes), never by the file name's extension or the browser's content type.

Images are decoded and re-encoded (adapters/images.py: metadata and trailing bytes dropped); a PDF
must open with pdfium (the engine Chromium uses), must not be encrypted and has at most the
configured number of pages. Anything else is refused with a Chinese message naming what it is."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.images import reencode
from handoff.errors import InvalidInput

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}

ACCEPTED = "只接受 PDF、JPEG 或 PNG 文件（按文件内容识别，与扩展名无关）"

_KNOWN_OTHERS: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "ZIP 压缩包（或 Word、Excel 等 Office 文档）"),
    (b"PK\x05\x06", "ZIP 压缩包"),
    (b"Rar!", "RAR 压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"),
    (b"\xd0\xcf\x11\xe0", "旧版 Office 文档"),
    (b"GIF8", "GIF 图片"),
    (b"II*\x00", "TIFF 图片"),
    (b"MM\x00*", "TIFF 图片"),
    (b"MZ", "可执行程序"),
    (b"\x7fELF", "可执行程序"),
)


@dataclass(frozen=True)
class MaterialFile:
    data: bytes
    content_type: str
    pages: int


def sniff(data: bytes) -> str | None:
    """The media type the content says, or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


def check_material(data: bytes, *, max_pages: int) -> MaterialFile:
    """The file as it will be stored, or InvalidInput (422) in Chinese. Blocking (pdfium, Pillow):
    run it in a thread."""
    if not data:
        raise InvalidInput("文件是空的")
    kind = sniff(data)
    if kind is None:
        what = next((name for magic, name in _KNOWN_OTHERS if data.startswith(magic)), None)
        raise InvalidInput(f"{ACCEPTED}；该文件是{what}" if what else f"{ACCEPTED}；无法识别该文件的格式")
    if kind == PDF:
        return MaterialFile(data, PDF, _pdf_pages(data, max_pages))
    try:
        image = reencode(data)
    except InvalidInput as exc:
        raise InvalidInput("图片无法解码（文件损坏或不完整）") from exc
    return MaterialFile(image.data, image.content_type, 1)


def _pdf_pages(data: bytes, max_pages: int) -> int:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        reason = str(exc)
        if "password" in reason.lower():
            raise InvalidInput("PDF 已加密（需要密码才能打开），请上传未加密的文件") from exc
        raise InvalidInput("PDF 无法打开（文件损坏或不是有效的 PDF）") from exc
    try:
        pages = len(document)
        if pages < 1:
            raise InvalidInput("PDF 没有任何页面")
        if pages > max_pages:
            raise InvalidInput(f"PDF 共 {pages} 页，超过每个文件 {max_pages} 页的上限，请拆分后上传")
        # The first page must render its structure: a file that only looks like a PDF fails here.
        page = document[0]
        try:
            page.get_size()
        finally:
            page.close()
        return pages
    finally:
        document.close()
