"""特别程序告知书: the written notice to the applicant of a special stage that the promised limit
does not count (行政许可法 §45), or of an extension of the limit (§42), with the tracking QR."""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Table, TableStyle

from labels.drawing import build, esc, gap, grid, para, qr, styles
from labels.models import StageNoticeData

STAGE_TEXT = (
    "你（单位）于 {accepted} 提出的 <u>{matter}</u> 申请（受理编号 {case_no}），本机关已依法受理。"
    "因{reason}，需进行 <u>{stage}</u>。根据{basis}，{stage}所需时间不计算在承诺办理时限内，"
    "该时间将单独计算并告知。"
)
EXTENSION_TEXT = (
    "你（单位）于 {accepted} 提出的 <u>{matter}</u> 申请（受理编号 {case_no}），本机关已依法受理。"
    "因{reason}，在承诺时限内不能作出决定，经本机关负责人批准，根据{basis}，办理时限予以延长。"
)


def render_stage_notice(data: StageNoticeData) -> bytes:
    s = styles()
    cell, head = s["cell"], s["head"]
    fields = dict(
        accepted=esc(data.accepted_text),
        matter=esc(data.matter_name),
        case_no=esc(data.case_no),
        reason=esc(data.reason),
        stage=esc(data.stage_name),
        basis=esc(data.legal_basis),
    )
    body = (EXTENSION_TEXT if data.is_extension else STAGE_TEXT).format(**fields)
    what = "延长期限" if data.is_extension else "特别程序"
    facts = grid(
        [
            [para("事项名称", head), para(esc(data.matter_name), cell)],
            [para(what, head), para(esc(data.stage_name), cell)],
            [para("事由", head), para(esc(data.reason), cell)],
            [para("法律依据", head), para(esc(data.legal_basis), cell)],
            [para("开始时间", head), para(esc(data.started_text), cell)],
            [para("预计时长", head), para(esc(data.expected_text), cell)],
            [para("承诺时限", head), para(esc(data.promised_text), cell)],
            [para("预计办结日期", head), para(esc(data.due_text), cell)],
        ],
        [36 * mm, 138 * mm],
        header_rows=0,
    )
    tail = Table(
        [
            [
                qr(data.tracking_url, 28),
                para(
                    "扫码可随时查看办理进度、特别程序的起止时间和剩余期限。<br/>"
                    f"<font size=8>{esc(data.tracking_url)}</font><br/>"
                    f"咨询电话：{esc(data.contact_phone)}",
                    s["small"],
                ),
                para(f"{esc(data.unit)}<br/>（盖章）<br/><br/>{esc(data.date_text)}", s["base"]),
            ]
        ],
        colWidths=[32 * mm, 82 * mm, 60 * mm],
    )
    tail.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story = [
        para("特别程序告知书", s["title"]),
        para(f"编号：{esc(data.notice_no)}", s["small"]),
        gap(3),
        para(f"{esc(data.applicant_name)}：", s["base"]),
        para(body, s["body"]),
        para("特此告知。如对本告知有异议，可向本机关提出。", s["body"]),
        gap(3),
        facts,
        gap(6),
        tail,
    ]
    return build(story, title="特别程序告知书")
