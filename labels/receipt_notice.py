"""Appendix A 申请材料接收通知书: handed to the applicant at the window, with the tracking QR."""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Table, TableStyle

from labels.drawing import CENTERED, build, esc, gap, grid, para, qr, styles
from labels.models import ReceiptNoticeData

MIN_ROWS = 8  # the form prints eight numbered rows; more materials add rows


def render_receipt_notice(data: ReceiptNoticeData) -> bytes:
    s = styles()
    width = 174 * mm
    story = [
        para("申请材料接收通知书", s["title"]),
        para(f"受理编号：{esc(data.case_no)}", s["small"]),
        gap(3),
        para(f"{esc(data.applicant_name)}：", s["base"]),
        para(
            f"你申请办理的 <u>{esc(data.matter_name)}</u>，属于 <u>{esc(data.deciding_unit)}</u> 的权限，"
            f"我单位负责将你的申请材料在 2 日内转报到 <u>{esc(data.deciding_unit)}</u>。",
            s["body"],
        ),
        gap(2),
        para("你的申请材料：", s["base"]),
        gap(1),
    ]
    rows: list[list[object]] = [["序号", "材料名称", "数量", "页数", "备注"]]
    for n, m in enumerate(data.materials, start=1):
        rows.append(
            [
                str(n),
                para(esc(m.name), s["cell"]),
                str(m.copies) if m.copies else "",  # a 容缺 item: nothing handed in yet
                str(m.pages) if m.pages else "",
                para(esc(m.remarks), s["cell"]) if m.remarks else "",
            ]
        )
    for n in range(len(data.materials) + 1, MIN_ROWS + 1):
        rows.append([str(n), "", "", "", ""])
    story.append(grid(rows, [14 * mm, 84 * mm, 18 * mm, 18 * mm, 40 * mm], extra=CENTERED))
    story += [
        gap(4),
        para(f"你的联系方式：{esc(data.contact_phone)}", s["base"]),
        para(f"你的通讯地址：{esc(data.address)}", s["base"]),
        gap(4),
    ]
    track = Table(
        [
            [
                qr(data.tracking_url, 28),
                para(
                    "扫码或打开短信中的链接，随时查看办理进度、期限和材料去向。<br/>"
                    f"<font size=8>{esc(data.tracking_url)}</font>",
                    s["small"],
                ),
                para(f"单位：{esc(data.receiving_unit)}<br/><br/>{esc(data.date_text)}<br/><br/>（盖章）", s["base"]),
            ]
        ],
        colWidths=[32 * mm, 82 * mm, width - 114 * mm],
    )
    track.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story.append(track)
    return build(story, title="申请材料接收通知书")
