"""发放登记 (pickup receipt): the result handed over at a window, to the applicant or an agent.
The receiver's ID number and phone are printed masked only; the result package's QR (when the
result came in one) lets the window scan the hand-over."""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Table, TableStyle

from labels.drawing import build, code128, esc, gap, grid, para, qr, styles
from labels.models import PickupReceiptData


def _masked(value: str) -> str:
    """The read model promises a masked number; refuse one that is not, rather than print it."""
    if value and "*" not in value:
        raise ValueError("证件号码必须以脱敏形式打印（例如 4415**********1234）")
    return value


def render_pickup_receipt(data: PickupReceiptData) -> bytes:
    s = styles()
    cell, head = s["cell"], s["head"]
    id_text = _masked(data.receiver_id_masked)
    phone_text = _masked(data.receiver_phone_masked)
    top: Flowable = para("办理结果发放登记", s["title"])
    if data.package_code:
        top = Table(
            [
                [top, qr(data.scan_payload, 26)],
                [
                    code128(data.package_code.replace("-", ""), bar_height_mm=10),
                    para(esc(data.package_code), s["small"]),
                ],
            ],
            colWidths=[124 * mm, 50 * mm],
        )
        top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (1, 0), (1, -1), "CENTER")]))
    form = grid(
        [
            [
                para("受理编号", head),
                para(esc(data.case_no), cell),
                para("申请人", head),
                para(esc(data.applicant_name), cell),
            ],
            [para("事项名称", head), para(esc(data.matter_name), cell), "", ""],
            [
                para("结果名称", head),
                para(esc(data.result_name), cell),
                para("份数", head),
                para(str(data.result_copies), cell),
            ],
            [
                para("领取人", head),
                para(esc(data.receiver_name), cell),
                para("与申请人关系", head),
                para(esc(data.receiver_relation), cell),
            ],
            [
                para("证件类型", head),
                para(esc(data.receiver_id_type), cell),
                para("证件号码", head),
                para(esc(id_text), cell),
            ],
            [
                para("联系电话", head),
                para(esc(phone_text), cell),
                para("领取时间", head),
                para(esc(data.picked_up_text), cell),
            ],
            [para("发放窗口", head), para(esc(data.window), cell), para("发放人", head), para(esc(data.clerk), cell)],
            [para("领取方式", head), para(esc(data.method), cell), "", ""],
            [para("意见", head), para(esc(data.note or "无"), cell), "", ""],
            [para("领取人签名", head), "", para("核验方式", head), para("□ 身份证原件　□ 委托书　□ 扫码", cell)],
        ],
        [28 * mm, 62 * mm, 28 * mm, 56 * mm],
        header_rows=0,
        extra=[
            ("SPAN", (1, 1), (3, 1)),
            ("SPAN", (1, 7), (3, 7)),
            ("SPAN", (1, 8), (3, 8)),
            ("BOTTOMPADDING", (0, 9), (-1, 9), 14),
            ("TOPPADDING", (0, 9), (-1, 9), 14),
        ],
    )
    story = [
        top,
        gap(4),
        form,
        gap(4),
        para(
            "领取人已当面核对办理结果，确认无误。代领的，须出示本人及申请人身份证件和授权委托书；"
            "证件号码按个人信息保护要求脱敏打印。",
            s["small"],
        ),
    ]
    return build(story, title="办理结果发放登记")
