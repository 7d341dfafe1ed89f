"""The written decisions the law requires (行政许可法 §32, §38): 一次性告知书 at the window, and for
a case 补正告知书, 容缺受理凭证, 受理通知书, 不予受理决定书 and 不予许可决定书. Each is one A4 page
(more when a list is long) with the applicant's tracking QR, so the paper leads to the case."""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Table, TableStyle

from labels.drawing import CENTERED, build, esc, gap, grid, para, qr, styles
from labels.models import (
    AcceptanceNoticeData,
    DenialDecisionData,
    IouReceiptData,
    OneTimeNoticeData,
    RefusalData,
    RejectionDecisionData,
    RequirementRow,
    SupplementNoticeData,
)

WIDTH = 174 * mm
ITEM = "《中华人民共和国行政许可法》第三十二条第一款第（四）项"
REVIEW_LAW = "《中华人民共和国行政复议法》第二十条"
LITIGATION_LAW = "《中华人民共和国行政诉讼法》第四十六条"
REVIEW_DAYS = 60
LITIGATION_MONTHS = 6


def clause(text: str) -> str:
    """A reason as a clause inside a sentence: without its own closing full stop."""
    return text.strip().rstrip("。；;，,. ")


def _items(rows: Sequence[RequirementRow], name_head: str, requirement_head: str) -> Table:
    s = styles()
    table: list[list[object]] = [["序号", name_head, requirement_head]]
    for n, row in enumerate(rows, start=1):
        table.append([str(n), para(esc(row.name), s["cell"]), para(esc(row.requirement), s["cell"])])
    return grid(table, [14 * mm, 84 * mm, 76 * mm], extra=CENTERED[:2])


def _facts(rows: Sequence[tuple[str, str]]) -> Table:
    s = styles()
    return grid(
        [[para(name, s["head"]), para(esc(value), s["cell"])] for name, value in rows],
        [36 * mm, 138 * mm],
        header_rows=0,
    )


def _tail(tracking_url: str, unit: str, date_text: str, contact_phone: str, hint: str) -> Table:
    s = styles()
    seal = para(f"{esc(unit)}<br/>（盖章）<br/><br/>{esc(date_text)}", s["base"])
    phone = f"咨询电话：{esc(contact_phone)}" if contact_phone else ""
    if tracking_url:
        row: list[object] = [
            qr(tracking_url, 28),
            para(f"{hint}<br/><font size=8>{esc(tracking_url)}</font><br/>{phone}", s["small"]),
            seal,
        ]
        widths = [32 * mm, 82 * mm, 60 * mm]
    else:
        row, widths = [para(phone, s["small"]), seal], [114 * mm, 60 * mm]
    tail = Table([row], colWidths=widths)
    tail.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    return tail


def _page(title: str, number: str, addressee: str, body: Sequence[Flowable], tail: Table) -> bytes:
    s = styles()
    head: list[Flowable] = [para(title, s["title"])]
    if number:
        head.append(para(f"编号：{esc(number)}", s["small"]))
    story = [*head, gap(3), para(f"{esc(addressee)}：", s["base"]), *body, gap(6), tail]
    return build(story, title=title)


# =========================================================================== at the window


def render_one_time_notice(data: OneTimeNoticeData) -> bytes:
    s = styles()
    body = [
        para(
            f"你（单位）申请办理的 <u>{esc(data.matter_name)}</u>（事项办理单位：{esc(data.deciding_unit)}），"
            f"经核对，申请材料不齐全或者不符合法定形式。根据{ITEM}的规定，"
            "现一次性告知你需要补齐、补正的全部材料如下：",
            s["body"],
        ),
        gap(2),
        _items(data.missing, "材料名称", "要求"),
        gap(3),
        para(
            "以上为需要补齐、补正的全部内容。请按要求准备齐全后，再到本窗口提交申请，"
            "窗口不再要求本告知书以外的材料。本告知书不作为收件或受理凭证。",
            s["body"],
        ),
    ]
    tail = _tail(data.tracking_url, data.unit, data.date_text, data.contact_phone, "扫码查看办理进度。")
    return _page("一次性告知书", "", data.applicant_name, body, tail)


def render_iou_receipt(data: IouReceiptData) -> bytes:
    s = styles()
    body = [
        para(
            f"你（单位）申请办理的 <u>{esc(data.matter_name)}</u>（受理编号 {esc(data.case_no)}，"
            f"事项办理单位：{esc(data.deciding_unit)}），主要申请材料齐全、符合法定形式，"
            f"下列材料暂缺。本单位于 {esc(data.collected_text)}予以容缺收件，"
            "请于下列期限前补交：",
            s["body"],
        ),
        gap(2),
        _items(data.items, "容缺材料", "补交期限"),
        gap(3),
        para(
            "容缺材料补齐之前，审批部门不作出准予许可的决定；逾期未补交的，将影响办理结果。"
            "容缺材料可交到本窗口，由本窗口转交审批部门。请妥善保管本凭证。",
            s["body"],
        ),
    ]
    tail = _tail(
        data.tracking_url, data.unit, data.date_text, data.contact_phone, "扫码查看容缺材料的补交期限和办理进度。"
    )
    return _page("容缺受理凭证", data.notice_no, data.applicant_name, body, tail)


# =========================================================================== the department


def render_supplement_notice(data: SupplementNoticeData) -> bytes:
    s = styles()
    if data.after_acceptance:
        effect = "补正期间不计算在承诺办理时限内，补正材料提交之日起继续计算。"
    else:
        effect = "逾期未补正的，本机关将按补正不来作办结处理，视为放弃本次申请。"
    body = [
        para(
            f"你（单位）于 {esc(data.received_text)}提交的 <u>{esc(data.matter_name)}</u> 申请"
            f"（受理编号 {esc(data.case_no)}），经审查，申请材料不齐全或者不符合法定形式。"
            f"根据{ITEM}的规定，请于 <u>{esc(data.due_text)}</u>前补正下列全部内容：",
            s["body"],
        ),
        gap(2),
        _items(data.items, "需补正的材料", "补正要求"),
        gap(3),
        para(effect + "补正材料可交到原收件窗口，由窗口转交本机关。", s["body"]),
    ]
    tail = _tail(data.tracking_url, data.unit, data.date_text, data.contact_phone, "扫码查看补正期限和办理进度。")
    return _page("补正告知书", data.notice_no, data.applicant_name, body, tail)


def render_acceptance_notice(data: AcceptanceNoticeData) -> bytes:
    s = styles()
    facts = [
        ("受理编号", data.case_no),
        ("受理时间", data.accepted_text),
        ("承诺办理时限", data.promised_text),
        ("承诺办结日期", data.due_text),
        ("结果送达方式", data.delivery_text),
    ]
    if data.owed:
        facts.append(("容缺材料", "；".join(f"{row.name}（{row.requirement}）" for row in data.owed)))
    body = [
        para(
            f"你（单位）于 {esc(data.received_text)}提交的 <u>{esc(data.matter_name)}</u> 申请，"
            "申请材料齐全、符合法定形式。根据《中华人民共和国行政许可法》第三十二条第一款第（五）项的规定，"
            "本机关决定予以受理。",
            s["body"],
        ),
        gap(2),
        _facts(facts),
        gap(3),
        para(
            "依法需要听证、检验、检测、鉴定、专家评审等特别程序的，所需时间不计算在承诺办理时限内，"
            "本机关将另行书面告知（《中华人民共和国行政许可法》第四十五条）。",
            s["body"],
        ),
    ]
    tail = _tail(
        data.tracking_url, data.unit, data.date_text, data.contact_phone, "扫码随时查看办理进度、期限和材料去向。"
    )
    return _page("受理通知书", data.notice_no, data.applicant_name, body, tail)


def _refusal(data: RefusalData, title: str, opening: str, verdict: str, after: str) -> bytes:
    s = styles()
    rights = (
        f"如不服本决定，可以自收到本决定书之日起 {REVIEW_DAYS} 日内向 <u>{esc(data.review_body)}</u> "
        f"申请行政复议，或者自收到本决定书之日起 {LITIGATION_MONTHS} 个月内向 <u>{esc(data.court)}</u> "
        f"提起行政诉讼（{REVIEW_LAW}、{LITIGATION_LAW}）。"
    )
    body = [
        para(
            f"你（单位）于 {esc(data.applied_text)}{opening} <u>{esc(data.matter_name)}</u> 申请"
            f"（受理编号 {esc(data.case_no)}），经审查，{esc(clause(data.reason))}。"
            f"根据{esc(clause(data.legal_basis))}的规定，本机关决定{verdict}。{after}",
            s["body"],
        ),
        para(rights, s["body"]),
        gap(3),
        _facts(
            [
                ("事项名称", data.matter_name),
                ("理由", clause(data.reason)),
                ("法律依据", clause(data.legal_basis)),
                ("行政复议", f"{REVIEW_DAYS} 日内向{data.review_body}申请"),
                ("行政诉讼", f"{LITIGATION_MONTHS} 个月内向{data.court}提起"),
            ]
        ),
    ]
    tail = _tail(data.tracking_url, data.unit, data.date_text, data.contact_phone, "扫码查看办件记录。")
    return _page(title, data.decision_no, data.applicant_name, body, tail)


def render_rejection_decision(data: RejectionDecisionData) -> bytes:
    return _refusal(data, "不予受理决定书", "提交的", "不予受理", "申请材料随本决定书退回。")


def render_denial_decision(data: DenialDecisionData) -> bytes:
    return _refusal(data, "不予许可决定书", "提出并经本机关受理的", "不予行政许可", "")
