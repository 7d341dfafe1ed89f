"""Appendix D 审批流程登记卡: filed with the materials after the decision. The four standard stages
with their times, opinion and person responsible; then every special stage with its working days,
which are not counted in the promised limit (DESIGN §5)."""

from __future__ import annotations

from reportlab.lib.units import mm

from labels.drawing import GAP, build, esc, gap, grid, para, styles
from labels.models import RegistrationCardData

STATEMENT = (
    "说明：特殊环节（勘验、专家评审、整改、委托评估、听证、公示、检验检测等）所需时间不计算在承诺时限内，"
    "按《中华人民共和国行政许可法》第四十五条书面告知申请人；特殊环节合计 {days} 个工作日。"
)


def lines(text: str) -> str:
    """Paragraph markup that keeps the text's own line breaks (a unit, then a person's name)."""
    return "<br/>".join(esc(line) for line in text.split("\n"))


def render_registration_card(data: RegistrationCardData) -> bytes:
    s = styles()
    cell, head = s["cell"], s["head"]
    rows: list[list[object]] = [
        [para("申请事项", head), "", para(esc(data.matter_name), cell), "", "", ""],
        [para("申请人姓名", head), "", para(esc(data.applicant_name), cell), "", "", ""],
        [
            para("联系人", head),
            "",
            para(esc(data.contact_name), cell),
            "",
            para("联系电话", head),
            para(esc(data.contact_phone), cell),
        ],
        [
            para("受理编号", head),
            "",
            para(esc(data.case_no), cell),
            "",
            para("承诺时限", head),
            para(esc(data.promised_text), cell),
        ],
        [para("受理时间", head), "", para(esc(data.accepted_text), cell), "", "", ""],
        [
            para("办理环节", head),
            "",
            para("接件时间", head),
            para("办结时间", head),
            para("办理意见", head),
            para("责任人", head),
        ],
    ]
    for n, stage in enumerate(data.stages, start=1):
        rows.append(
            [
                str(n),
                para(esc(stage.name), head),
                para(esc(stage.received_text), cell),
                para(esc(stage.finished_text), cell),
                para(esc(stage.opinion), cell),
                para(lines(stage.responsible), cell),
            ]
        )
    spans = [("SPAN", (0, r), (1, r)) for r in range(6)]
    spans += [("SPAN", (2, r), (5, r)) for r in (0, 1, 4)]
    spans += [("SPAN", (2, r), (3, r)) for r in (2, 3)]
    main = grid(
        rows,
        [12 * mm, 26 * mm, 31 * mm, 31 * mm, 40 * mm, 34 * mm],
        header_rows=0,
        extra=[*spans, ("ALIGN", (0, 6), (0, -1), "CENTER"), ("BACKGROUND", (0, 5), (-1, 5), "#eeeeee")],
    )
    supplements: list[list[object]] = [
        [para("补正", head), "", "", "", "", ""],
        [para(t, head) for t in ("序号", "补正材料", "告知时间", "补正期限", "补正时间", "阶段")],
    ]
    for n, sup in enumerate(data.supplements, start=1):
        supplements.append(
            [
                str(n),
                para(esc(sup.items), cell),
                para(esc(sup.requested_text), cell),
                para(esc(sup.due_text), cell),
                para(esc(sup.supplied_text), cell),
                para(esc(sup.stage), head),
            ]
        )
    if not data.supplements:
        supplements.append(["", para("无", head), "", "", "", ""])
    supplement_table = grid(
        supplements,
        [12 * mm, 52 * mm, 30 * mm, 26 * mm, 30 * mm, 24 * mm],
        header_rows=2,
        extra=[
            ("SPAN", (0, 0), (-1, 0)),
            ("ALIGN", (0, 2), (0, -1), "CENTER"),
            ("BACKGROUND", (0, 1), (-1, 1), "#eeeeee"),
        ],
    )
    special: list[list[object]] = [
        [para("特殊环节", head), "", "", "", "", "", ""],
        [para(t, head) for t in ("序号", "环节", "开始时间", "结束时间", "工作日", "事由及结果", "责任人")],
    ]
    for n, st in enumerate(data.special_stages, start=1):
        special.append(
            [
                str(n),
                para(esc(st.name), head),
                para(esc(st.started_text), cell),
                para(esc(st.ended_text), cell),
                str(st.working_days),
                para(esc(st.reason), cell),
                para(lines(st.responsible), cell),
            ]
        )
    if not data.special_stages:
        special.append(["", para("无", head), "", "", "", "", ""])
    total = sum(st.working_days for st in data.special_stages)
    special_table = grid(
        special,
        [12 * mm, 26 * mm, 30 * mm, 30 * mm, 16 * mm, 36 * mm, 24 * mm],
        header_rows=2,
        extra=[
            ("SPAN", (0, 0), (-1, 0)),
            ("ALIGN", (0, 2), (0, -1), "CENTER"),
            ("ALIGN", (4, 2), (4, -1), "CENTER"),
            ("BACKGROUND", (0, 1), (-1, 1), "#eeeeee"),
        ],
    )
    story = [
        para("审批流程登记卡", s["title"]),
        para(f"受理编号：{esc(data.case_no)}{GAP}办理单位：{esc(data.unit)}", s["small"]),
        gap(2),
        main,
        gap(4),
        supplement_table,
        gap(4),
        special_table,
        gap(3),
        para(STATEMENT.format(days=total), s["small"]),
        para(esc(data.used_text), s["small"]),
    ]
    return build(story, title="审批流程登记卡")
