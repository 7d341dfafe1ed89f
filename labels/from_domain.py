"""From the aggregates to the documents: pure functions that turn a Case, its Packages, the Offices
and the clock's reading — plus the few plain strings the caller has (the applicant's tracking URL,
a signed scan payload, staff names) — into the read models of labels/models.py.

The API (api/documents.py) and the workers call them. Nothing here reads a database, a setting or
the clock: every time comes in as an argument, so the same aggregates give the same document.
Times print in China time. A document that does not apply to its object (a pickup receipt before
the pickup, a courier label before the waybill) raises :class:`NotApplicable`; an unknown notice
id raises :class:`~handoff.services.NotFound`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from handoff.case import ID_TYPES, PICKUP_METHODS, Case, CaseState, Outcome, Stage, SupplementRequest
from handoff.clock import ClockReading, read_clock
from handoff.custody import Checkpoint
from handoff.errors import DomainError
from handoff.labels_zh import CARRIER_ZH, DELIVERY_ZH, STAGE_TYPE_ZH, STATE_ZH
from handoff.matter import CaseKind, Delivery, MaterialRequirement, Matter, StageType
from handoff.package import APPLICANT, CustodyEvent, CustodyKind, Direction, Manifest, Medium, Package
from handoff.ports import Calendar, Office, PostalAddress
from handoff.privacy import MOBILE_RE, mask_address, mask_id_number, mask_name, mask_phone
from handoff.regions import MUNICIPALITIES, PROVINCES, divisions
from handoff.services import NotFound
from handoff.timeutil import CHINA, date_zh, local_date, local_text
from labels.models import (
    AcceptanceNoticeData,
    CheckpointStamp,
    CourierLabelData,
    CustodyReportData,
    CustodyRow,
    DenialDecisionData,
    IouReceiptData,
    ManifestData,
    ManifestRow,
    MaterialRow,
    OneTimeNoticeData,
    PickupReceiptData,
    ReceiptNoticeData,
    RegistrationCardData,
    RejectionDecisionData,
    RequirementRow,
    SpecialStageRow,
    StageNoticeData,
    StageRow,
    SupplementNoticeData,
    SupplementRow,
    TransferSlipData,
)

Offices = Mapping[str, Office]
"""Every office by id (a small table; the caller loads it once)."""
Names = Mapping[str, str]
"""Staff names by user id (the users table). An id that is not there prints as itself."""

EXTENSION_BASIS = "《中华人民共和国行政许可法》第四十二条"
EXTENSION_PREFIX = "ext-"


class NotApplicable(DomainError):
    """The document does not apply to its object, or not yet (the API answers 409)."""

    code = "document_not_applicable"


# =========================================================================== small helpers


def person(names: Names, actor: str | None) -> str:
    """Who did it, as a reader knows them: a staff name, 申请人, a carrier's name, or the id."""
    if not actor:
        return ""
    if actor == APPLICANT:
        return "申请人"
    if actor.startswith("carrier:"):
        carrier = actor.split(":", 1)[1]
        return CARRIER_ZH.get(carrier, carrier)
    return names.get(actor, actor)


def office_name(offices: Offices, office_id: str) -> str:
    office = offices.get(office_id)
    return office.name if office else office_id


def party_name(offices: Offices, party: str, names: Names | None = None) -> str:
    """A package's party (``office:ID``, ``courier:ID`` or ``applicant``) as a reader knows it."""
    kind, _, value = party.partition(":")
    if kind == "office":
        return office_name(offices, value)
    if kind == "courier":
        return f"快递员 {person(names or {}, value)}"
    if party == APPLICANT:
        return "申请人"
    return party


def applicant_title(case: Case, public: bool = False) -> str:
    """The applicant as the forms address them: the organisation when there is one, else the
    person; ``public`` masks a person's name (as the tracking page does), never an organisation's."""
    applicant = case.applicant
    if applicant.organisation:
        return applicant.organisation
    return mask_name(applicant.name) if public else applicant.name


def case_no(case: Case) -> str:
    """受理编号; a case registered before case numbers existed shows its id instead."""
    return case.case_no or case.id


def _time(at: datetime | None) -> str:
    return local_text(at) if at is not None else ""


def _remarks(remarks: str, original: bool) -> str:
    return "；".join(part for part in ("" if original else "复印件", remarks) if part)


def material_rows(case: Case) -> tuple[MaterialRow, ...]:
    """The materials handed in at collection, then each 容缺 item with the date it is due."""
    rows = [MaterialRow(m.name, m.copies, m.pages, _remarks(m.remarks, m.original)) for m in case.materials]
    rows += [MaterialRow(i.material, 0, 0, f"容缺受理，请于 {date_zh(i.due_on)}前补交") for i in case.ious]
    return tuple(rows)


def clock_day(case: Case, today: date) -> date:
    """The day to read a case's clock on for its documents: the day it ended when it ended
    without a decision (rejected, withdrawn, closed unsupplemented), else ``today``."""
    if case.decided_at is None and case.closed_at is not None:
        return local_date(case.closed_at)
    return today


# =========================================================================== Appendix A and B


def receipt_notice_data(case: Case, *, offices: Offices, tracking_url: str, public: bool = False) -> ReceiptNoticeData:
    """Appendix A 申请材料接收通知书 of a registered case, as it was at collection, with the
    applicant's tracking link as QR. ``public`` is the applicant's own download by tracking
    link: name and address masked as on the tracking page (the phone is always masked)."""
    address = case.applicant.address
    return ReceiptNoticeData(
        applicant_name=applicant_title(case, public),
        matter_name=case.matter.name,
        deciding_unit=office_name(offices, case.department_office_id),
        materials=material_rows(case),
        contact_phone=mask_phone(case.applicant.phone),
        address=mask_address(address) if public else address,
        receiving_unit=office_name(offices, case.window_office_id),
        date_text=date_zh(local_date(case.collected_at)),
        tracking_url=tracking_url,
        case_no=case_no(case),
    )


def transfer_slip_data(package: Package, *, case: Case, offices: Offices, scan_payload: str) -> TransferSlipData:
    """Appendix B 申请材料转办单 of an outbound package; ``scan_payload`` is its signed QR payload
    (``ScanSigner.sign_package``). A result package has none (it travels with a courier label).
    It carries the 受理编号, 原件/复印件 per row, the 容缺 items still owed, and the applicant's
    phone in full: it is internal paper, and the department must be able to call."""
    if package.direction is not Direction.OUTBOUND:
        raise NotApplicable("办理结果材料包没有转办单，转办单只随申请材料转出")
    return TransferSlipData(
        package_code=str(package.code),
        scan_payload=scan_payload,
        matter_name=case.matter.name,
        deciding_unit=office_name(offices, case.department_office_id),
        materials=tuple(MaterialRow(i.name, i.copies, i.pages, i.remarks, original=i.original) for i in package.items),
        applicant_name=applicant_title(case),
        contact_phone=case.applicant.phone,  # internal paper: the department must be able to call
        address=case.applicant.address,
        receiving_unit=party_name(offices, package.to_party),
        sending_unit=party_name(offices, package.from_party),
        date_text=date_zh(local_date(package.created_at)),
        case_no=case_no(case),
        owed=tuple(RequirementRow(i.material, f"{date_zh(i.due_on)}前补交") for i in case.outstanding_ious()),
    )


# =========================================================================== Appendix D


def registration_card_data(
    case: Case,
    *,
    offices: Offices,
    packages: Sequence[Package],
    reading: ClockReading | None,
    actors: Mapping[str, str],
    names: Names,
) -> RegistrationCardData:
    """Appendix D 审批流程登记卡: the four stages 收件 / 流转 / 办理 / 送达 with their times, opinion
    and person responsible, and every special stage with its working days.

    ``reading`` is ``case.clock(calendar, clock_day(case, today))``; ``actors`` says who did each
    step (event type such as ``case.decided`` → the actor id of its latest event); ``names`` turns
    actor ids into staff names."""
    window = office_name(offices, case.window_office_id)
    department = office_name(offices, case.department_office_id)

    def responsible(unit: str, actor: str | None) -> str:
        who = person(names, actor)
        return f"{unit}\n{who}" if who else ""

    outbound = next((p for p in reversed(packages) if p.direction is Direction.OUTBOUND), None)
    stages = (
        StageRow(
            "收件",
            _time(case.collected_at),
            _time(case.forwarded_at),
            _collect_opinion(case),
            responsible(window, actors.get("case.collected")),
        ),
        StageRow(
            "流转",
            _time(case.forwarded_at),
            _time(case.received_at),
            _flow_opinion(outbound) if case.forwarded_at else "",
            responsible(window, actors.get("case.forwarded")),
        ),
        StageRow(
            "办理",
            _time(case.received_at),
            _time(case.decided_at or case.closed_at),
            _review_opinion(case),
            responsible(department, _review_actor(case, actors)),
        ),
        _delivery_row(case, offices, department, actors, names),
    )
    special = tuple(
        SpecialStageRow(
            name=STAGE_TYPE_ZH[stage.type.value],
            started_text=stage.start_on.isoformat(),
            ended_text=stage.end_on.isoformat() if stage.end_on else "进行中",
            working_days=tally.working_days,
            reason=stage.reason
            + (f"（本环节时限 {tally.limit} 个工作日{'，已超出' if tally.over_limit else ''}）" if tally.limit else ""),
            responsible=person(names, stage.opened_by),
        )
        for stage, tally in zip(case.stages, reading.stages if reading else (), strict=False)
    )
    return RegistrationCardData(
        matter_name=case.matter.name,
        applicant_name=applicant_title(case),
        contact_name=case.applicant.name,
        contact_phone=case.applicant.phone,  # internal paper, filed with the materials
        case_no=case_no(case),
        promised_text=_promised_text(case),
        accepted_text=_time(case.accepted_at) or "尚未受理",
        stages=stages,
        special_stages=special,
        used_text=_used_text(case, reading),
        unit=department,
        supplements=tuple(_supplement_row(case, s) for s in case.supplements),
    )


def _supplement_row(case: Case, request: SupplementRequest) -> SupplementRow:
    if request.supplied_at is not None:
        supplied = _time(request.supplied_at)
    elif case.state is CaseState.CLOSED_UNSUPPLEMENTED and request is case.supplements[-1]:
        supplied = "未补正（补正不来办结）"
    elif case.closed_at is not None or case.decided_at is not None:
        supplied = "未补正"
    else:
        supplied = "待补正"
    return SupplementRow(
        items="、".join(request.items),
        requested_text=_time(request.requested_at),
        due_text=request.due_on.isoformat(),
        supplied_text=supplied,
        stage="受理后（特殊环节）" if request.after_acceptance else "受理前",
    )


def _collect_opinion(case: Case) -> str:
    text = "材料齐全，符合法定形式，同意收件"
    if case.ious:
        text += "；容缺受理：" + "、".join(
            f"{i.material}（{local_date(i.fulfilled_at).isoformat()} 已补交）"
            if i.fulfilled_at
            else f"{i.material}（{i.due_on.isoformat()} 前补交）"
            for i in case.ious
        )
    return text


def _flow_opinion(package: Package | None) -> str:
    if package is None:
        return ""
    if package.medium is Medium.ELECTRONIC:
        text = "电子材料推送"
    else:
        carrier = CARRIER_ZH.get(package.carrier or "", package.carrier or "")
        text = f"纸质材料经{carrier}寄递" if carrier else "纸质材料寄递"
        if package.waybill:
            text += f"（运单号 {package.waybill}）"
    signed = next((e for e in reversed(package.custody) if e.kind is CustodyKind.SIGNED), None)
    if signed is not None:
        text += "，审批部门已签收"
        if signed.discrepancies:
            text += f"，登记差异 {len(signed.discrepancies)} 项"
    return text


def _review_opinion(case: Case) -> str:
    if case.decided_at is not None:
        verdict = "准予许可" if case.outcome is Outcome.APPROVED else "不予许可"
        return f"{verdict}。{case.opinion}"
    if case.state is CaseState.REJECTED:
        return f"不予受理：{case.closed_reason}"
    if case.state is CaseState.WITHDRAWN:
        return f"申请人撤回：{case.closed_reason}"
    if case.state is CaseState.CLOSED_UNSUPPLEMENTED:
        return f"补正不来办结：{case.closed_reason}"
    if case.received_at is None:
        return ""
    return STATE_ZH[case.state.value]


ENDED_BY = {
    CaseState.REJECTED: "case.rejected",
    CaseState.WITHDRAWN: "case.withdrawn",
    CaseState.CLOSED_UNSUPPLEMENTED: "case.closed_unsupplemented",
}


def _review_actor(case: Case, actors: Mapping[str, str]) -> str | None:
    if case.decided_at is not None:
        return actors.get("case.decided")
    return actors.get(ENDED_BY.get(case.state, "case.accepted"))


def _delivery_row(case: Case, offices: Offices, department: str, actors: Mapping[str, str], names: Names) -> StageRow:
    how = DELIVERY_ZH[case.delivery.value]
    started = case.result_shipped_at
    if started is None and case.delivery is Delivery.PICKUP_AT_DEPARTMENT:
        started = case.decided_at
    pickup = case.pickup
    opinion, who = "", ""
    if pickup is not None:
        receiver = "代领人" if pickup.by_proxy else "申请人本人"
        opinion = f"{how}：{receiver} {pickup.name} 领取"
        who = f"{office_name(offices, pickup.office_id)}\n{person(names, pickup.actor)}"
    elif case.delivered_at is not None:
        opinion = f"{how}，已送达"
        who = f"{department}\n{person(names, actors.get('case.delivered') or actors.get('case.result_shipped'))}"
    elif case.result_shipped_at is not None:
        where = "寄往代收窗口，待领取" if case.delivery is Delivery.PICKUP_AT_WINDOW else "寄出"
        opinion = f"{how}，结果已{where}"
        who = f"{department}\n{person(names, actors.get('case.result_shipped'))}"
    elif started is not None:
        opinion = f"{how}，待领取"
    return StageRow("送达", _time(started), _time(case.delivered_at), opinion, who.strip())


def _instant_promise(matter: Matter) -> str:
    """A 即办件 is done on its acceptance date, or (承诺期限 1, as seed 002's 防雷装置竣工验收) by the
    next working day."""
    if matter.promised_limit == 0:
        return "受理当日办结"
    return f"受理后 {matter.promised_limit} 个工作日内办结"


def _promised_text(case: Case) -> str:
    matter = case.matter
    if matter.kind is CaseKind.INSTANT:
        text = f"即办件，{_instant_promise(matter)}（法定 {matter.legal_limit} 个工作日）"
    else:
        text = f"{matter.promised_limit} 个工作日（法定 {matter.legal_limit} 个工作日）"
    if case.extension_days:
        text += f"，延期 {case.extension_days} 个工作日"
    return text


def _used_text(case: Case, reading: ClockReading | None) -> str:
    if reading is None:
        return "尚未受理，办理时限尚未开始计算。"
    if reading.decided_on is not None:
        text = f"实际用时 {reading.used} 个工作日（不含特殊环节），承诺 {reading.promised} 个工作日，"
        if reading.early:
            text += f"提前 {reading.remaining} 个工作日办结。"
        elif reading.overdue:
            text += f"超期 {-reading.remaining} 个工作日办结。"
        else:
            text += "按期办结。"
    else:
        text = (
            f"截至 {reading.as_of.isoformat()}，已用 {reading.used} 个工作日（不含特殊环节），"
            f"承诺 {reading.promised} 个工作日，"
        )
        if case.closed_at is not None:
            text += f"办件已终止（{STATE_ZH[case.state.value]}）。"
        elif reading.overdue:
            text += f"已超期 {-reading.remaining} 个工作日。"
        else:
            text += f"剩余 {reading.remaining} 个工作日，到期日 {reading.due_date.isoformat()}。"
            if reading.paused:
                text += "特殊环节进行中，计时暂停。"
    for n, extension in enumerate(case.extensions, start=1):
        text += f"延期（第 {n} 次）{extension.days} 个工作日，{extension.approver}批准：{extension.reason}。"
    if reading.provisional_reason:
        text += reading.provisional_reason + "。"
    return text


# =========================================================================== 特别程序告知书


@dataclass(frozen=True)
class Notice:
    """One written notice of a case (行政许可法 §45 stage or §42 extension)."""

    id: str
    """The stage id, or ``ext-N`` for the N-th extension (from 1)."""
    title: str
    issued_at: datetime


def notices(case: Case) -> tuple[Notice, ...]:
    """Every written notice a case has — one per special stage, one per extension — in the
    order they were issued."""
    found = [
        Notice(stage.id, f"特别程序告知书（{STAGE_TYPE_ZH[stage.type.value]}）", stage.opened_at)
        for stage in case.stages
    ]
    found += [
        Notice(f"{EXTENSION_PREFIX}{n}", f"特别程序告知书（延长办理期限 {e.days} 个工作日）", e.at)
        for n, e in enumerate(case.extensions, start=1)
    ]
    return tuple(sorted(found, key=lambda notice: notice.issued_at))


def stage_notice_data(
    case: Case,
    notice_id: str,
    *,
    offices: Offices,
    reading: ClockReading | None,
    tracking_url: str,
    public: bool = False,
) -> StageNoticeData:
    """特别程序告知书 of one special stage (``notice_id`` = its id) or one extension (``ext-N``),
    with the applicant's tracking QR. ``reading`` is the clock today (``clock_day``): the due
    date printed is the current one. ``public`` masks a person's name as the tracking page does."""
    phone = _contact_phone(offices, case.department_office_id, case.window_office_id)
    common = dict(
        applicant_name=applicant_title(case, public),
        matter_name=case.matter.name,
        case_no=case_no(case),
        accepted_text=date_zh(case.accepted_on) if case.accepted_on else "",
        unit=office_name(offices, case.department_office_id),
        contact_phone=phone,
        tracking_url=tracking_url,
    )
    for n, stage in enumerate(case.stages, start=1):
        if stage.id == notice_id:
            tally = reading.stages[n - 1] if reading and len(reading.stages) >= n else None
            name = STAGE_TYPE_ZH[stage.type.value]
            promised = f"{case.matter.promised_limit} 个工作日（{name}时间不计算在内）"
            return StageNoticeData(
                notice_no=f"{case_no(case)}-特{n}",
                is_extension=False,
                stage_name=name,
                reason=stage.reason,
                legal_basis=stage.legal_basis,
                started_text=date_zh(stage.start_on),
                expected_text=_expected_text(case, stage, tally.working_days if tally else None),
                promised_text=promised + (f"，依法延期 {case.extension_days} 个工作日" if case.extension_days else ""),
                due_text=_due_text(reading, f"{name}结束后按实际用时顺延" if stage.is_open else ""),
                date_text=date_zh(local_date(stage.opened_at)),
                **common,
            )
    index = _extension_index(notice_id)
    if index is None or not 1 <= index <= len(case.extensions):
        raise NotFound(f"办件 {case_no(case)} 没有编号为 {notice_id} 的告知书")
    extension = case.extensions[index - 1]
    limit = case.matter.promised_limit
    extended = limit + sum(e.days for e in case.extensions[:index])
    return StageNoticeData(
        notice_no=f"{case_no(case)}-延{index}",
        is_extension=True,
        stage_name=f"延长办理期限 {extension.days} 个工作日",
        reason=extension.reason,
        legal_basis=EXTENSION_BASIS,
        started_text=date_zh(extension.on),
        expected_text=f"延长 {extension.days} 个工作日（经{extension.approver}批准）",
        promised_text=f"原承诺 {limit} 个工作日，延长后共 {extended} 个工作日",
        due_text=_due_text(reading, ""),
        date_text=date_zh(extension.on),
        **common,
    )


def _extension_index(notice_id: str) -> int | None:
    digits = notice_id.removeprefix(EXTENSION_PREFIX)
    if notice_id.startswith(EXTENSION_PREFIX) and digits.isdigit() and digits.isascii() and len(digits) <= 3:
        return int(digits)
    return None


def _expected_text(case: Case, stage: Stage, working_days: int | None) -> str:
    if stage.end_on is not None:
        days = f"，共 {working_days} 个工作日" if working_days is not None else ""
        return f"已于 {date_zh(stage.end_on)}结束{days}"
    if stage.type is StageType.SUPPLEMENT:
        request = next((s for s in case.supplements if s.stage_id == stage.id), None)
        if request is not None:
            return f"请于 {date_zh(request.due_on)}前补正材料，补正期间不计算在承诺时限内"
    if stage.expected_days:
        return f"预计不超过 {stage.expected_days} 个工作日（结束后按实际用时计算并告知）"
    if stage.limit:
        return f"不超过 {stage.limit} 个工作日（本事项规定的时限）"
    return "以实际用时为准，结束后告知"


def _due_text(reading: ClockReading | None, moving: str) -> str:
    if reading is None:
        return ""
    if reading.decided_on is not None:
        return f"已于 {date_zh(reading.decided_on)}办结"
    text = date_zh(reading.due_date)
    notes = [n for n in (moving, reading.provisional_reason or "") if n]
    return text + (f"（{'；'.join(notes)}）" if notes else "")


# =========================================================================== pickup, manifest, label


def pickup_receipt_data(
    case: Case, *, offices: Offices, names: Names, result_package: Package | None, scan_payload: str
) -> PickupReceiptData:
    """发放登记 of a case whose result was picked up. The identity number is printed masked, never
    in clear; ``scan_payload`` signs ``result_package`` (empty when the result had no package)."""
    pickup = case.pickup
    if pickup is None:
        raise NotApplicable("该办件尚未发放登记，领取办理结果后才有发放登记回执")
    item = result_package.items[0] if result_package is not None and result_package.items else None
    return PickupReceiptData(
        case_no=case_no(case),
        matter_name=case.matter.name,
        applicant_name=applicant_title(case),
        result_name=item.name if item else f"{case.matter.name}办理结果",
        result_copies=item.copies if item else 1,
        receiver_name=pickup.name,
        receiver_relation="受托人（代领）" if pickup.by_proxy else "申请人本人",
        receiver_id_type=ID_TYPES.get(pickup.id_type, pickup.id_type) if pickup.id_number else "未登记证件",
        receiver_id_masked=mask_id_number(pickup.id_number) if pickup.id_number else "",
        receiver_phone_masked="" if pickup.by_proxy else mask_phone(case.applicant.phone),
        window=office_name(offices, pickup.office_id),
        clerk=person(names, pickup.actor),
        picked_up_text=local_text(pickup.at),
        package_code=str(result_package.code) if result_package is not None else "",
        scan_payload=scan_payload if result_package is not None else "",
        method=PICKUP_METHODS.get(pickup.method, pickup.method),
        note=pickup.note,
    )


def manifest_data(
    manifest: Manifest,
    *,
    packages: Sequence[Package],
    cases: Mapping[str, Case],
    offices: Offices,
    names: Names,
    scan_payload: str,
) -> ManifestData:
    """材料交接单 of one hand-over batch: its packages in the order handed over, under the batch
    QR (``ScanSigner.sign_manifest``)."""
    rows = []
    for package in packages:
        case = cases.get(package.case_id)
        remarks = ["办理结果"] if package.direction is Direction.RESULT else []
        if case is not None and case.outstanding_ious():
            remarks.append(f"容缺 {len(case.outstanding_ious())} 项待补交")
        rows.append(
            ManifestRow(
                package_code=str(package.code),
                case_no=case_no(case) if case else "",
                matter_name=case.matter.name if case else "",
                applicant_name=applicant_title(case) if case else "",
                items=len(package.items),
                pages=sum(i.pages for i in package.items),
                remarks="；".join(remarks),
            )
        )
    destinations = dict.fromkeys(party_name(offices, p.to_party) for p in packages)
    carriers = dict.fromkeys(CARRIER_ZH.get(p.carrier, p.carrier) for p in packages if p.carrier)
    courier = f"快递员 {person(names, manifest.courier)}"
    return ManifestData(
        batch_no=manifest.id,
        scan_payload=scan_payload,
        from_unit=office_name(offices, manifest.office_id),
        to_unit="、".join(destinations),
        carrier_text="，".join(part for part in ("、".join(carriers), courier) if part),
        rows=tuple(rows),
        date_text=local_text(manifest.created_at),
    )


def party_address(
    party: str, *, case: Case, offices: Offices, region_names: Mapping[str, str] | None = None
) -> PostalAddress:
    """The postal address of a package's sender or receiver — an office (its name, phone and
    address, with province / city / district from its region code and ``region_names``, the
    regions table) or the applicant (as registered: their own words, no divisions guessed) — for
    booking a carrier and for the label."""
    if party == APPLICANT:
        a = case.applicant
        return PostalAddress(a.name, a.phone, "", "", "", a.address, company=a.organisation)
    kind, _, office_id = party.partition(":")
    office = offices.get(office_id) if kind == "office" else None
    if office is None:
        raise NotApplicable(f"“{party}”不是可以寄递的地址")
    province, city, district = divisions(office.region_code, region_names or {})
    return PostalAddress(
        office.name,
        office.phone,
        province,
        city,
        district,
        office.address or office.name,
        company=office.name,
        region_code=office.region_code,
    )


def courier_label_data(
    package: Package,
    *,
    sender: PostalAddress,
    receiver: PostalAddress,
    scan_payload: str,
    printed_at: datetime,
) -> CourierLabelData:
    """The 100×150 mm courier label (热敏面单) of a package whose carrier has booked the pickup.

    The logistics worker calls it right after booking, with the same ``sender`` and ``receiver``
    it booked with (:func:`party_address` makes them from the package's parties), and the API
    calls it to reprint. ``scan_payload`` is the package's signed QR (``ScanSigner.sign_package``),
    so the department can scan the package on arrival without the waybill; ``printed_at`` is
    printed on the label. A person (an address without a company) is printed as on a privacy
    waybill (隐私面单): name and mobile number masked; an office's name and landline print as they
    are. Raises :class:`NotApplicable` while the package has no carrier or no waybill."""
    if not package.carrier or not package.waybill:
        raise NotApplicable(f"材料包 {package.code} 还没有运单号，承运商接单后才能打印快递面单")
    what = "申请材料" if package.direction is Direction.OUTBOUND else "办理结果"
    pages = sum(i.pages for i in package.items)
    return CourierLabelData(
        carrier_name=CARRIER_ZH.get(package.carrier, package.carrier),
        waybill_no=package.waybill,
        service_text=f"政务专递　{what}",
        sender_name=_label_name(sender),
        sender_phone=_label_phone(sender),
        sender_address=_label_address(sender),
        receiver_name=_label_name(receiver),
        receiver_phone=_label_phone(receiver),
        receiver_address=_label_address(receiver),
        package_code=str(package.code),
        scan_payload=scan_payload,
        contents_text=f"{what} {len(package.items)} 项" + (f" {pages} 页" if pages else "") + "（纸质）",
        printed_text=local_text(printed_at),
    )


def _label_name(address: PostalAddress) -> str:
    if not address.company:
        return mask_name(address.name)
    return address.company if address.name in ("", address.company) else f"{address.company} {address.name}"


def _label_phone(address: PostalAddress) -> str:
    return mask_phone(address.phone) if MOBILE_RE.match(address.phone) else address.phone


def _label_address(address: PostalAddress) -> str:
    """Province, city and district before the street address, unless it already names them."""
    parts = [p for p in (address.province, address.city, address.district) if p and p not in address.detail]
    return "".join([*parts, address.detail])


# =========================================================================== custody: checkpoint and report

CUSTODY_KIND_ZH: dict[str, str] = {
    "created": "创建",
    "sealed": "封装",
    "picked_up": "揽收",
    "in_transit": "运输中",
    "delivered": "送达",
    "pushed": "电子推送",
    "signed": "签收",
    "exception": "异常",
}
METHOD_ZH: dict[str, str] = {
    "scan": "扫码",
    "courier_api": "快递员接口",
    "carrier_push": "承运商推送",
    "electronic_push": "电子推送",
    "manual": "人工登记",
}
DISCREPANCY_ZH: dict[str, str] = {
    "missing": "缺失",
    "damaged": "破损",
    "pages_differ": "页数不符",
    "unreadable": "无法识读",
    "incomplete": "内容不完整",
    "not_matching_paper": "纸质材料与电子材料不符",
}
DIRECTION_ZH: dict[str, str] = {"outbound": "申请材料（窗口转审批部门）", "result": "办理结果"}


def checkpoint_stamp(checkpoint: Checkpoint | None) -> CheckpointStamp | None:
    """A checkpoint in the short form documents print."""
    if checkpoint is None:
        return None
    return CheckpointStamp(
        n=checkpoint.n,
        root=checkpoint.root,
        signature=checkpoint.signature.hex(),
        made_text=local_text(checkpoint.made_at),
    )


def _seconds(at: datetime | None) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def custody_row(event: CustodyEvent, offices: Offices, names: Names) -> CustodyRow:
    def side(party: str) -> str:
        return party_name(offices, party, names) if party else "—"

    discrepancies = "；".join(
        f"第 {d.item_seq} 项{DISCREPANCY_ZH.get(d.kind.value, d.kind.value)}"
        + (f"（实收 {d.actual_pages} 页）" if d.actual_pages is not None else "")
        + (f"：{d.note}" if d.note else "")
        for d in event.discrepancies
    )
    return CustodyRow(
        seq=event.seq,
        time_text=_seconds(event.server_time),
        kind=CUSTODY_KIND_ZH.get(event.kind.value, event.kind.value),
        parties=f"{side(event.from_party)} → {side(event.to_party)}",
        actor=person(names, event.actor),
        method=METHOD_ZH.get(event.method.value, event.method.value),
        place="；".join(p for p in (event.place, event.note) if p),
        client_time_text=_seconds(event.client_time),
        discrepancies=discrepancies,
        evidence="、".join(ref[:12] for ref in event.evidence),
        hash_short=event.hash[:16],
    )


def custody_report_data(
    package: Package,
    *,
    case: Case | None,
    offices: Offices,
    names: Names,
    problem: str | None,
    checkpoint: Checkpoint | None,
    printed_at: datetime,
) -> CustodyReportData:
    """监管链报告 of one package. ``problem``: why its history does not verify (its own chain, its
    anchor, or the newest checkpoint), None when it does; ``checkpoint``: the newest checkpoint
    that covers the chain (handoff.custody.covering_number), if any."""
    head = package.custody[-1].hash if package.custody else ""
    if checkpoint is None:
        checkpoint_text = "尚无覆盖本材料包当前监管链的存证检查点（检查点每日生成）"
    else:
        checkpoint_text = (
            f"本材料包的监管链已由第 {checkpoint.n} 号存证检查点固定（{local_text(checkpoint.made_at)}，"
            f"共 {checkpoint.count} 个材料包，默克尔根 {checkpoint.root}）"
        )
    return CustodyReportData(
        package_code=str(package.code),
        case_no=case_no(case) if case else "",
        matter_name=case.matter.name if case else "",
        direction_text=DIRECTION_ZH.get(package.direction.value, package.direction.value),
        route_text=f"{party_name(offices, package.from_party, names)} → {party_name(offices, package.to_party, names)}",
        state_text=STATE_ZH.get(package.state.value, package.state.value),
        holder_text=party_name(offices, package.holder, names) if package.holder else "",
        rows=tuple(custody_row(e, offices, names) for e in package.custody),
        verified=problem is None,
        verification_text=f"验证通过：{len(package.custody)} 条记录首尾相接，哈希、链长、链头与状态一致"
        if problem is None
        else f"验证未通过：{problem}",
        head_hash=head,
        checkpoint=checkpoint_stamp(checkpoint),
        checkpoint_text=checkpoint_text,
        printed_text=local_text(printed_at),
    )


# =========================================================================== written decisions

REJECTION_BASIS = "《中华人民共和国行政许可法》第三十二条第一款"
DENIAL_BASIS = "《中华人民共和国行政许可法》第三十八条第二款"
REVIEW_BODY_UNKNOWN = "依法有管辖权的行政复议机关"
COURT_UNKNOWN = "依法有管辖权的人民法院"
ANY_OFFICE = "*"

ACCEPTANCE_NOTICE = "acceptance-notice"
IOU_RECEIPT = "iou-receipt"
SUPPLEMENT_NOTICE = "supplement-notice"
REJECTION_DECISION = "rejection-decision"
DENIAL_DECISION = "denial-decision"


def requirement_text(requirement: MaterialRequirement | None) -> str:
    """What the matter asks of a material, as a notice prints it: ``原件 1 份，加盖公章``."""
    if requirement is None:
        return ""
    kind = "原件" if requirement.original else "复印件"
    return "，".join(part for part in (f"{kind} {requirement.copies} 份", requirement.notes) if part)


def _base_name(item: str) -> str:
    """A missing-list entry without the window's note: ``授权委托书（该材料不可容缺）`` → ``授权委托书``."""
    return item.split("（", 1)[0].strip() if not item.startswith("（") else item.strip()


def _contact_phone(offices: Offices, *office_ids: str, unknown: str = "见受理窗口") -> str:
    """The first office's telephone with its opening hours (办公时间); without any telephone, the
    first office's address and hours that are known, else ``unknown``."""
    for office_id in office_ids:
        office = offices.get(office_id)
        if office is not None and office.phone:
            return f"{office.phone}（{office.hours}）" if office.hours else office.phone
    if unknown:
        for office_id in office_ids:
            office = offices.get(office_id)
            if office is not None and (office.address or office.hours):
                return "，".join(part for part in (office.address, office.hours and f"办公时间 {office.hours}") if part)
    return unknown


def one_time_notice_data(
    matter: Matter,
    *,
    applicant_name: str,
    missing: Sequence[str],
    window: Office,
    deciding_unit: str,
    on: date,
    tracking_url: str = "",
) -> OneTimeNoticeData:
    """一次性告知书 at the window: every item of ``missing`` (the list a refused registration
    answers, notes in brackets allowed) with what the matter asks of it. Nothing is registered;
    ``on`` is the day it is handed over."""
    items = [item.strip() for item in missing if item.strip()]
    if not items:
        raise NotApplicable("没有缺少的材料，无需出具一次性告知书")
    return OneTimeNoticeData(
        applicant_name=applicant_name.strip(),
        matter_name=matter.name,
        deciding_unit=deciding_unit,
        missing=tuple(
            RequirementRow(item, requirement_text(matter.requirement(_base_name(item))) or "按事项办事指南要求提交")
            for item in dict.fromkeys(items)
        ),
        unit=window.name,
        contact_phone=window.phone or "见本窗口",
        date_text=date_zh(on),
        tracking_url=tracking_url,
    )


def iou_receipt_data(case: Case, *, offices: Offices, tracking_url: str, public: bool = False) -> IouReceiptData:
    """容缺受理凭证 of a case collected with 容缺 items: each item and the date it is due (or the
    date it came)."""
    if not case.ious:
        raise NotApplicable("该办件没有容缺材料，没有容缺受理凭证")
    collected = date_zh(local_date(case.collected_at))
    return IouReceiptData(
        notice_no=f"{case_no(case)}-容",
        applicant_name=applicant_title(case, public),
        matter_name=case.matter.name,
        case_no=case_no(case),
        deciding_unit=office_name(offices, case.department_office_id),
        collected_text=collected,
        items=tuple(
            RequirementRow(
                iou.material,
                f"{date_zh(iou.due_on)}前补交"
                + (f"（已于 {date_zh(local_date(iou.fulfilled_at))}补交）" if iou.fulfilled_at else ""),
            )
            for iou in case.ious
        ),
        unit=office_name(offices, case.window_office_id),
        contact_phone=_contact_phone(offices, case.window_office_id, case.department_office_id, unknown=""),
        date_text=collected,
        tracking_url=tracking_url,
    )


def supplement_notice_data(
    case: Case, number: int, *, offices: Offices, tracking_url: str, public: bool = False
) -> SupplementNoticeData:
    """补正告知书 of the ``number``-th supplement request of a case (from 1)."""
    if not case.supplements:
        raise NotApplicable("该办件没有补正告知")
    if not 1 <= number <= len(case.supplements):
        raise NotFound(f"办件 {case_no(case)} 没有第 {number} 次补正告知")
    request: SupplementRequest = case.supplements[number - 1]
    return SupplementNoticeData(
        notice_no=f"{case_no(case)}-补{number}",
        applicant_name=applicant_title(case, public),
        matter_name=case.matter.name,
        case_no=case_no(case),
        received_text=date_zh(local_date(case.collected_at)),
        items=tuple(
            RequirementRow(item, requirement_text(case.matter.requirement(_base_name(item))) or "按审查意见补正")
            for item in request.items
        ),
        due_text=date_zh(request.due_on),
        after_acceptance=request.after_acceptance,
        unit=office_name(offices, case.department_office_id),
        contact_phone=_contact_phone(offices, case.department_office_id, case.window_office_id),
        date_text=date_zh(local_date(request.requested_at)),
        tracking_url=tracking_url,
    )


def promised_reading(case: Case, calendar: Calendar) -> ClockReading | None:
    """The clock as it stood when the case was accepted: the due date promised then, before any
    special stage or extension moved it. None before acceptance."""
    if case.accepted_on is None:
        return None
    return read_clock(calendar, accepted_on=case.accepted_on, limit=case.matter.clock_limit, at=case.accepted_on)


def acceptance_notice_data(
    case: Case, *, offices: Offices, promised: ClockReading | None, tracking_url: str, public: bool = False
) -> AcceptanceNoticeData:
    """受理通知书 of an accepted case, with the promised limit and the due date promised at
    acceptance (``promised`` is :func:`promised_reading`)."""
    if case.accepted_at is None or promised is None:
        raise NotApplicable("该办件尚未受理，没有受理通知书")
    accepted_at = case.accepted_at
    matter = case.matter
    if matter.kind is CaseKind.INSTANT:
        limit = f"即办件，{_instant_promise(matter)}（法定 {matter.legal_limit} 个工作日）"
    else:
        limit = f"{matter.promised_limit} 个工作日（法定 {matter.legal_limit} 个工作日；不含特别程序时间）"
    due = date_zh(promised.due_date)
    if promised.provisional_reason:
        due += f"（{promised.provisional_reason}）"
    return AcceptanceNoticeData(
        notice_no=f"{case_no(case)}-受",
        applicant_name=applicant_title(case, public),
        matter_name=matter.name,
        case_no=case_no(case),
        received_text=date_zh(local_date(case.collected_at)),
        accepted_text=local_text(accepted_at),
        promised_text=limit,
        due_text=due,
        delivery_text=DELIVERY_ZH[case.delivery.value],
        owed=tuple(
            RequirementRow(i.material, f"{date_zh(i.due_on)}前补交")
            for i in case.ious
            if i.fulfilled_at is None or i.fulfilled_at > accepted_at
        ),
        unit=office_name(offices, case.department_office_id),
        contact_phone=_contact_phone(offices, case.department_office_id, case.window_office_id),
        date_text=date_zh(local_date(accepted_at)),
        tracking_url=tracking_url,
    )


def local_government(region_code: str, region_names: Mapping[str, str]) -> str:
    """The name of the people's government of a region as a document names it: 汕尾市, 海丰县,
    陆丰市, 汕尾市城区 (a district with its city), 广东省; empty when the name is not known."""
    if region_code[2:] == "0000":
        return PROVINCES.get(region_code[:2], "")
    name = region_names.get(region_code, "")
    if not name or region_code[4:] == "00":
        return name
    city = (
        PROVINCES.get(region_code[:2], "")
        if region_code[:2] in MUNICIPALITIES
        else region_names.get(region_code[:4] + "00", "")
    )
    return city + name if name.endswith("区") and city and not name.startswith(city) else name


def appeal_bodies(
    office: Office | None,
    *,
    region_names: Mapping[str, str],
    review_bodies: Mapping[str, str],
    courts: Mapping[str, str],
) -> tuple[str, str]:
    """(行政复议机关, 人民法院) for the decisions of ``office``: as configured for the office (or for
    every office under ``"*"``), else derived from its region. The derived body is the region's own
    people's government (行政复议法 §24, which does not hold for vertically managed bodies such as
    tax or customs) and the court that of a county-level seat; for a city-level seat only "the
    competent court in the city" can be said. A deployment must configure both."""
    office_id = office.id if office else ""
    review = review_bodies.get(office_id) or review_bodies.get(ANY_OFFICE, "")
    court = courts.get(office_id) or courts.get(ANY_OFFICE, "")
    place = local_government(office.region_code, region_names) if office else ""
    if not review:
        review = f"{place}人民政府" if place else REVIEW_BODY_UNKNOWN
    if not court:
        county_level = office is not None and office.region_code[4:] != "00"
        court = (f"{place}人民法院" if county_level else f"{place}辖区内有管辖权的人民法院") if place else COURT_UNKNOWN
    return review, court


def rejection_decision_data(
    case: Case, *, offices: Offices, review_body: str, court: str, tracking_url: str, public: bool = False
) -> RejectionDecisionData:
    """不予受理决定书 of a rejected case: the reason given at rejection; the case keeps no legal
    basis of its own, so the article of the 行政许可法 that governs 不予受理 is printed."""
    if case.state is not CaseState.REJECTED or case.closed_at is None:
        raise NotApplicable("该办件未被决定不予受理，没有不予受理决定书")
    return RejectionDecisionData(
        decision_no=f"{case_no(case)}-不受",
        legal_basis=REJECTION_BASIS,
        reason=case.closed_reason,
        date_text=date_zh(local_date(case.closed_at)),
        **_refusal_common(case, offices, review_body, court, tracking_url, public),
    )


def denial_decision_data(
    case: Case, *, offices: Offices, review_body: str, court: str, tracking_url: str, public: bool = False
) -> DenialDecisionData:
    """不予许可决定书 of a case decided ``denied``: the decision's opinion is the reason; the legal
    basis printed is 行政许可法 §38 第二款 (the case keeps no article of its own)."""
    if case.outcome is not Outcome.DENIED or case.decided_at is None:
        raise NotApplicable("该办件没有作出不予许可的决定，没有不予许可决定书")
    return DenialDecisionData(
        decision_no=f"{case_no(case)}-不许",
        legal_basis=DENIAL_BASIS,
        reason=case.opinion,
        date_text=date_zh(local_date(case.decided_at)),
        **_refusal_common(case, offices, review_body, court, tracking_url, public),
    )


def _refusal_common(
    case: Case, offices: Offices, review_body: str, court: str, tracking_url: str, public: bool
) -> dict[str, str]:
    return {
        "applicant_name": applicant_title(case, public),
        "matter_name": case.matter.name,
        "case_no": case_no(case),
        "applied_text": date_zh(local_date(case.collected_at)),
        "review_body": review_body,
        "court": court,
        "unit": office_name(offices, case.department_office_id),
        "contact_phone": _contact_phone(offices, case.department_office_id, case.window_office_id),
        "tracking_url": tracking_url,
    }


def decisions(case: Case) -> tuple[Notice, ...]:
    """Every written decision a case has so far, in the order issued: the 容缺受理凭证, each
    补正告知书 (``supplement-notice-N``), the 受理通知书, and the 不予受理 or 不予许可决定书."""
    found = []
    if case.ious:
        found.append(Notice(IOU_RECEIPT, "容缺受理凭证", case.collected_at))
    found += [
        Notice(f"{SUPPLEMENT_NOTICE}-{n}", f"补正告知书（第 {n} 次）" if n > 1 else "补正告知书", s.requested_at)
        for n, s in enumerate(case.supplements, start=1)
    ]
    if case.accepted_at is not None:
        found.append(Notice(ACCEPTANCE_NOTICE, "受理通知书", case.accepted_at))
    if case.state is CaseState.REJECTED and case.closed_at is not None:
        found.append(Notice(REJECTION_DECISION, "不予受理决定书", case.closed_at))
    if case.outcome is Outcome.DENIED and case.decided_at is not None:
        found.append(Notice(DENIAL_DECISION, "不予许可决定书", case.decided_at))
    return tuple(sorted(found, key=lambda notice: notice.issued_at))


def supplement_number(decision_id: str) -> int | None:
    """``supplement-notice-2`` → 2; None for anything else."""
    digits = decision_id.removeprefix(f"{SUPPLEMENT_NOTICE}-")
    if decision_id.startswith(f"{SUPPLEMENT_NOTICE}-") and digits.isascii() and digits.isdigit() and len(digits) <= 3:
        return int(digits)
    return None
