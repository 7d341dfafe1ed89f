"""办理结果 as an electronic document (电子证照) when the department does not upload its own: one
A4 page naming the case, the matter, the applicant, the outcome and the opinion, with the QR of
the public verification page. Handoff signs it afterwards (adapters/pades.py)."""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.lib.units import mm

from labels.drawing import build, esc, gap, grid, para, qr, styles


@dataclass(frozen=True)
class ElectronicResultData:
    case_no: str
    matter_name: str
    applicant_name: str
    outcome_text: str
    opinion: str
    unit: str
    decided_text: str
    verify_url: str


def render_electronic_result(data: ElectronicResultData) -> bytes:
    s = styles()
    facts = [
        ("受理编号", data.case_no),
        ("事项名称", data.matter_name),
        ("申请人", data.applicant_name),
        ("办理结果", data.outcome_text),
        ("办理意见", data.opinion),
        ("办结日期", data.decided_text),
        ("出具机关", data.unit),
    ]
    table = grid(
        [[para(name, s["head"]), para(esc(value), s["cell"])] for name, value in facts],
        [36 * mm, 138 * mm],
        header_rows=0,
    )
    tail = grid(
        [
            [
                qr(data.verify_url, 28),
                para(
                    "本文件为电子办理结果，由出具机关加盖电子签章。"
                    f"可在 {esc(data.verify_url)} 上传本文件，核验签章及内容是否被改动。",
                    s["body"],
                ),
            ]
        ],
        [34 * mm, 140 * mm],
        header_rows=0,
    )
    story = [para("办理结果（电子）", s["title"]), gap(4), table, gap(6), tail]
    return build(story, title="办理结果（电子）")
