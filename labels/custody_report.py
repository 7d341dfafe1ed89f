"""监管链报告 (custody report, DESIGN §4 and §12): one package's chain of custody, event by event
with its hash, the result of verifying it, and the signed checkpoint that covers it. A4 landscape
(the table is wide); the table's header and the page footer repeat on every page."""

from __future__ import annotations

from typing import Any

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm

from labels.drawing import GAP, build, esc, fit, gap, grid, para, styles
from labels.fonts import register
from labels.models import CustodyReportData

COLUMNS = (
    "序号", "时间（北京时间）", "环节", "交出方 → 接收方", "经办人", "方式", "地点及说明",
    "客户端时间", "差异", "凭证 sha256", "本条哈希",
)  # fmt: skip
WIDTHS_MM = (9, 30, 14, 48, 18, 18, 28, 30, 26, 22, 30)


def render_custody_report(data: CustodyReportData) -> bytes:
    s = styles()
    cell = s["cell"].clone("custody-cell", fontSize=8, leading=10)
    head = s["head"].clone("custody-head", fontSize=8, leading=10)
    small = s["small"]
    page_w, page_h = landscape(A4)

    def frame(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(register(), 16)
        canvas.drawCentredString(page_w / 2, page_h - 14 * mm, "材料包监管链报告")
        canvas.setFont(register(), 9)
        canvas.drawString(12 * mm, page_h - 21 * mm, f"材料包编号：{data.package_code}　受理编号：{data.case_no}")
        canvas.drawRightString(page_w - 12 * mm, page_h - 21 * mm, f"打印：{data.printed_text}")
        canvas.setFont(register(), 7.5)
        footer = data.checkpoint.text() if data.checkpoint else "尚无存证检查点"
        canvas.drawString(12 * mm, 7 * mm, footer)
        canvas.drawRightString(page_w - 12 * mm, 7 * mm, f"{data.package_code}　第 {doc.page} 页")
        canvas.restoreState()

    facts = [
        f"事项：{esc(data.matter_name)}",
        f"材料包：{esc(data.direction_text)}{GAP}{esc(data.route_text)}",
        f"当前状态：{esc(data.state_text)}{GAP}持有方：{esc(data.holder_text)}{GAP}记录数：{len(data.rows)}",
        f"链头哈希：{esc(data.head_hash)}",
    ]
    widths = [w * mm for w in WIDTHS_MM]
    rows: list[list[object]] = [[para(c, head) for c in COLUMNS]]
    for r in data.rows:
        values = (
            str(r.seq), r.time_text, r.kind, r.parties, r.actor, r.method, r.place,
            r.client_time_text, r.discrepancies, r.evidence, r.hash_short,
        )  # fmt: skip
        rows.append([fit(v, cell, w) for v, w in zip(values, widths, strict=True)])
    table = grid(
        rows,
        widths,
        extra=[
            ("BACKGROUND", (0, 0), (-1, 0), "#eeeeee"),
            ("FONTSIZE", (0, 1), (-1, -1), cell.fontSize),
            ("LEADING", (0, 1), (-1, -1), cell.leading),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("ALIGN", (0, 1), (0, -1), "CENTER"),
        ],
    )
    verdict = s["base"].clone("custody-verdict", fontSize=11, leading=16)
    story = [
        *(para(line, small) for line in facts),
        gap(3),
        table,
        gap(4),
        para(esc(data.verification_text), verdict),
        para(esc(data.checkpoint_text), small),
        para(
            "说明：每条记录的哈希覆盖该条全部内容及上一条的哈希；材料包另行登记链长与链头；"
            "存证检查点对全部材料包的链头计算默克尔根并以 Ed25519 签名，删改历史即可被发现。",
            small,
        ),
    ]
    return build(
        story,
        title=f"监管链报告 {data.package_code}",
        pagesize=landscape(A4),
        margins_mm=12,
        top_mm=25,
        on_page=frame,
    )
