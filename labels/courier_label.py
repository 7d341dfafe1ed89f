"""The 100×150 mm courier label (热敏面单): the waybill as Code128 across the top, the receiver
large, the sender small, and the package code with its signed QR, so the department can scan the
package on arrival without the waybill."""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepInFrame, Table, TableStyle

from labels.drawing import BLANK, build, code128, esc, para, qr, styles
from labels.models import CourierLabelData

PAGE = (100 * mm, 150 * mm)
WIDTH = 92 * mm
SIDE = 12 * mm
RECEIVER_MM, SENDER_MM = 36, 15
"""Fixed heights, so the label is always one page: a longer address is set smaller, never cut."""


def shrink(content: list[Flowable], height_mm: float) -> KeepInFrame:
    return KeepInFrame(WIDTH - SIDE - 6, height_mm * mm - 6, content, mode="shrink")


def _spaced(number: str) -> str:
    """1187654321098 → 1187 6543 2109 8: easier to read aloud over the phone."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def render_courier_label(data: CourierLabelData) -> bytes:
    s = styles()
    centred = s["head"]
    big = s["base"].clone("big", fontSize=12, leading=16)
    name = s["base"].clone("name", fontSize=15, leading=19)
    side = s["title"].clone("side", fontSize=16, leading=20, spaceAfter=0)
    small = s["small"].clone("label-small", fontSize=8, leading=10)
    carrier = s["title"].clone("carrier", fontSize=15, leading=19, alignment=0, spaceAfter=0)
    package = Table(
        [
            [
                qr(data.scan_payload, 28),
                [
                    para("材料包编号", small),
                    para(f"<b>{esc(data.package_code)}</b>", big),
                    para(f"内件：{esc(data.contents_text)}", small),
                    para(f"打印：{esc(data.printed_text)}", small),
                ],
            ]
        ],
        colWidths=[31 * mm, WIDTH - 37 * mm],
    )
    package.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    top = Table(
        [[para(esc(data.carrier_name), carrier), para(esc(data.service_text), big)]],
        colWidths=[44 * mm, WIDTH - 50 * mm],
    )
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    rows: list[list[object]] = [
        [top, ""],
        [[code128(data.waybill_no, bar_height_mm=18, bar_width=0.42 * mm, human_readable=False),
          para(f"运单号　{esc(_spaced(data.waybill_no))}", centred)], ""],
        [para("收", side), shrink([
            para(f"{esc(data.receiver_name)}　{esc(data.receiver_phone)}", name),
            para(esc(data.receiver_address), big),
        ], RECEIVER_MM)],
        [para("寄", side), shrink([
            para(f"{esc(data.sender_name)}　{esc(data.sender_phone)}", s["small"]),
            para(esc(data.sender_address), s["small"]),
        ], SENDER_MM)],
        [package, ""],
        [para(f"签收人：<br/><br/>签收时间：{BLANK}月{BLANK}日{BLANK}时", s["small"]), ""],
    ]  # fmt: skip
    table = Table(
        rows, colWidths=[SIDE, WIDTH - SIDE], rowHeights=[None, None, RECEIVER_MM * mm, SENDER_MM * mm, None, 17 * mm]
    )
    table.setStyle(
        TableStyle(
            [
                ("SPAN", (0, 0), (1, 0)),
                ("SPAN", (0, 1), (1, 1)),
                ("SPAN", (0, 4), (1, 4)),
                ("SPAN", (0, 5), (1, 5)),
                ("ALIGN", (0, 1), (-1, 1), "CENTER"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("VALIGN", (0, 5), (-1, 5), "TOP"),
                ("BOX", (0, 0), (-1, -1), 0.8, "black"),
                ("LINEBELOW", (0, 0), (-1, -2), 0.6, "black"),
                ("LINEAFTER", (0, 2), (0, 3), 0.6, "black"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return build([table], title=f"快递面单 {data.waybill_no}", pagesize=PAGE, margins_mm=4)
