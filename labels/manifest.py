"""材料交接单 (batch manifest): the packages handed over together, listed under one QR that
signs the whole batch. The heading and the QR repeat on every page, so any page scans."""

from __future__ import annotations

from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from labels.drawing import BLANK, build, esc, gap, grid, para, qr, styles
from labels.fonts import register
from labels.models import ManifestData

QR_MM = 30


def render_manifest(data: ManifestData) -> bytes:
    s = styles()
    cell = s["cell"].clone("manifest-cell", fontSize=9, leading=11.5)
    head = s["head"].clone("manifest-head", fontSize=9, leading=11.5)
    batch_qr = qr(data.scan_payload, QR_MM)
    width, height = A4

    def heading(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(register(), 18)
        canvas.drawCentredString(width / 2 - 15 * mm, height - 24 * mm, "材料交接单")
        canvas.setFont(register(), 10)
        lines = [
            f"批次号：{data.batch_no}",
            f"移交单位：{data.from_unit}",
            f"接收单位：{data.to_unit}",
            f"寄递方式：{data.carrier_text}",
        ]
        room = width - 2 * 18 * mm - (QR_MM + 4) * mm
        for n, line in enumerate(lines):
            size = 10.0
            while size > 6 and stringWidth(line, register(), size) > room:
                size -= 0.5  # a long unit name shrinks rather than run under the QR
            canvas.setFont(register(), size)
            canvas.drawString(18 * mm, height - (33 + 5.5 * n) * mm, line)
        batch_qr.drawOn(canvas, width - 18 * mm - QR_MM * mm, height - 14 * mm - QR_MM * mm)
        canvas.setFont(register(), 8)
        canvas.drawCentredString(width - 18 * mm - QR_MM * mm / 2, height - 47 * mm, "扫码整批签收")
        canvas.drawCentredString(width / 2, 10 * mm, f"{data.batch_no}　第 {doc.page} 页")
        if data.checkpoint is not None:
            canvas.setFont(register(), 7.5)
            canvas.drawCentredString(width / 2, 6 * mm, data.checkpoint.text())
        canvas.restoreState()

    rows: list[list[object]] = [
        [para(t, head) for t in ("序号", "材料包编号", "受理编号", "事项名称", "申请人", "件数", "页数", "备注")]
    ]
    for n, r in enumerate(data.rows, start=1):
        rows.append(
            [
                str(n),
                para(esc(r.package_code), cell),
                para(esc(r.case_no), cell),
                para(esc(r.matter_name), cell),
                para(esc(r.applicant_name), cell),
                str(r.items),
                str(r.pages),
                para(esc(r.remarks), cell),
            ]
        )
    rows.append(
        [
            "",
            para(f"合计 {len(data.rows)} 包", cell),
            "",
            "",
            "",
            str(sum(r.items for r in data.rows)),
            str(sum(r.pages for r in data.rows)),
            "",
        ]
    )
    table = grid(
        rows,
        [9 * mm, 40 * mm, 40 * mm, 29 * mm, 24 * mm, 9 * mm, 9 * mm, 14 * mm],
        extra=[
            # the two codes (22 characters each) fit on one line with narrow padding
            ("LEFTPADDING", (1, 1), (2, -1), 3),
            ("RIGHTPADDING", (1, 1), (2, -1), 3),
            ("ALIGN", (0, 1), (0, -1), "CENTER"),
            ("ALIGN", (5, 1), (6, -1), "CENTER"),
            ("SPAN", (1, -1), (4, -1)),
            ("BACKGROUND", (0, 0), (-1, 0), "#eeeeee"),
        ],
    )
    signatures = grid(
        [
            [para("移交人（签名）：", cell), para("接收人（签名）：", cell)],
            [
                para(f"移交时间：{esc(data.date_text)}", cell),
                para(f"接收时间：{BLANK}年{BLANK}月{BLANK}日{BLANK}时", cell),
            ],
            [para("清点结果：□ 相符　□ 不符（请在备注栏逐包注明）", cell), ""],
        ],
        [87 * mm, 87 * mm],
        header_rows=0,
        extra=[("SPAN", (0, 2), (1, 2)), ("TOPPADDING", (0, 0), (-1, 0), 10), ("BOTTOMPADDING", (0, 0), (-1, 0), 10)],
    )
    return build([table, gap(5), signatures], title=f"材料交接单 {data.batch_no}", top_mm=58, on_page=heading)
