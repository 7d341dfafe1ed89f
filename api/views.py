"""JSON views of the aggregates: staff see what their job needs; the applicant sees masked data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from handoff.case import FINISHED, ID_TYPES, PICKUP_METHODS, Case, CaseState
from handoff.clock import ClockReading, forwarding_due
from handoff.labels_zh import CASE_KIND_ZH, DELIVERY_ZH, MODE_ZH, STAGE_TYPE_ZH, STATE_ZH
from handoff.package import CustodyEvent, Package, PackageState
from handoff.ports import Calendar
from handoff.privacy import mask_id_number, mask_name, mask_phone
from handoff.timeutil import local_date, local_text
from labels.from_domain import decisions, notices

JSON = dict[str, Any]


def iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def clock_view(reading: ClockReading | None) -> JSON | None:
    if reading is None:
        return None
    return {
        "accepted_on": iso(reading.accepted_on),
        "as_of": iso(reading.as_of),
        "promised": reading.promised,
        "extension_days": reading.extension_days,
        "due_date": iso(reading.due_date),
        "used": reading.used,
        "remaining": reading.remaining,
        "excluded_days": reading.excluded_days,
        "paused": reading.paused,
        "early": reading.early,
        "overdue": reading.overdue,
        "ever_overdue": reading.ever_overdue,
        "stopped_on": iso(reading.stopped_on),
        "legal_limit": reading.legal_limit,
        "legal_due_date": iso(reading.legal_due_date),
        "legal_used": reading.legal_used,
        "legal_remaining": reading.legal_remaining,
        "legal_overdue": reading.legal_overdue,
        "provisional": reading.provisional,
        "provisional_reason": reading.provisional_reason,
        "stages": [
            {
                "type": s.type,
                "type_zh": STAGE_TYPE_ZH.get(s.type, s.type),
                "start": iso(s.start),
                "end": iso(s.end),
                "working_days": s.working_days,
                "calendar_days": s.calendar_days,
                "limit": s.limit,
                "over_limit": s.over_limit,
            }
            for s in reading.stages
        ],
    }


NEXT_ACTIONS: dict[CaseState, list[str]] = {
    CaseState.COLLECTED: ["seal_package", "withdraw"],
    CaseState.FORWARDED: ["withdraw"],
    CaseState.RECEIVED: ["accept", "request_supplement", "reject", "withdraw"],
    CaseState.SUPPLEMENT_REQUESTED: ["supplement_supplied", "reject", "withdraw"],
    CaseState.ACCEPTED: ["open_stage", "request_supplement", "extend", "decide", "withdraw"],
    CaseState.IN_REVIEW: ["open_stage", "close_stage", "request_supplement", "extend", "decide", "withdraw"],
    CaseState.DECIDED: ["ship_result", "rate"],
    CaseState.RESULT_SHIPPED: ["deliver", "rate"],
    CaseState.READY_FOR_PICKUP: ["register_pickup", "rate"],
    CaseState.DELIVERED: ["archive", "rate"],
}


def case_view(case: Case, calendar: Calendar, today: date, tracking_url: str | None = None) -> JSON:
    id_number = case.applicant.id_number
    view: JSON = {
        "id": case.id,
        "case_no": case.case_no,
        "state": case.state.value,
        "state_zh": STATE_ZH[case.state.value],
        "version": case.version,
        "matter": {
            "id": case.matter.id,
            "name": case.matter.name,
            "kind": case.matter.kind.value,
            "kind_zh": CASE_KIND_ZH[case.matter.kind.value],
            "legal_limit": case.matter.legal_limit,
            "promised_limit": case.matter.promised_limit,
            "version": case.matter.version,
        },
        "mode": case.mode.value,
        "mode_zh": MODE_ZH[case.mode.value],
        "delivery": case.delivery.value,
        "delivery_zh": DELIVERY_ZH[case.delivery.value],
        "applicant": {
            "name": case.applicant.name,
            "phone": case.applicant.phone,
            "id_number_masked": mask_id_number(id_number) if id_number else None,
            "address": case.applicant.address,
            "organisation": case.applicant.organisation,
            "region_code": case.applicant.region_code,
        },
        "window_office_id": case.window_office_id,
        "department_office_id": case.department_office_id,
        "home_office_id": case.home_office_id,
        "materials": [
            {
                "name": m.name,
                "copies": m.copies,
                "pages": m.pages,
                "original": m.original,
                "remarks": m.remarks,
                "electronic": m.electronic,
            }
            for m in case.materials
        ],
        "ious": [
            {"material": i.material, "due_on": iso(i.due_on), "fulfilled_at": iso(i.fulfilled_at)} for i in case.ious
        ],
        "supplements": [
            {
                "items": list(s.items),
                "due_on": iso(s.due_on),
                "requested_at": iso(s.requested_at),
                "after_acceptance": s.after_acceptance,
                "supplied_at": iso(s.supplied_at),
                "reason": s.reason,
            }
            for s in case.supplements
        ],
        "supplement_count": case.supplement_count,
        "prereview": {
            "due_on": iso(case.prereview_due_on(calendar)),
            "overdue": case.prereview_overdue(calendar, today),
        }
        if case.received_at is not None
        else None,
        "stages": [
            {
                "id": s.id,
                "type": s.type.value,
                "type_zh": STAGE_TYPE_ZH[s.type.value],
                "start_on": iso(s.start_on),
                "end_on": iso(s.end_on),
                "reason": s.reason,
                "legal_basis": s.legal_basis,
                "expected_days": s.expected_days,
                "opened_by": s.opened_by,
                "approved_by": s.approved_by,
            }
            for s in case.stages
        ],
        "extensions": [
            {"days": e.days, "approver": e.approver, "reason": e.reason, "on": iso(e.on)} for e in case.extensions
        ],
        "collected_at": iso(case.collected_at),
        "forwarding_due": iso(forwarding_due(calendar, local_date(case.collected_at)).due),
        "accepted_at": iso(case.accepted_at),
        "decided_at": iso(case.decided_at),
        "outcome": case.outcome.value if case.outcome else None,
        "opinion": case.opinion,
        "closed_reason": case.closed_reason,
        "pickup": {
            "office_id": case.pickup.office_id,
            "by_proxy": case.pickup.by_proxy,
            "name": case.pickup.name,
            "id_number_masked": mask_id_number(case.pickup.id_number) if case.pickup.id_number else None,
            "id_type": case.pickup.id_type,
            "id_type_zh": ID_TYPES.get(case.pickup.id_type, case.pickup.id_type),
            "method": case.pickup.method,
            "method_zh": PICKUP_METHODS.get(case.pickup.method, case.pickup.method),
            "note": case.pickup.note,
            "at": iso(case.pickup.at),
        }
        if case.pickup
        else None,
        "rating": {
            "score": case.rating.score,
            "comment": case.rating.comment,
            "bad": case.rating.bad,
            "rectified": case.rating.rectified_at is not None,
        }
        if case.rating
        else None,
        "lead_copies": [
            {
                "lead": c.lead,
                "note": c.note,
                "copied_at": iso(c.copied_at),
                "remark": c.remark,
                "remarked_at": iso(c.remarked_at),
            }
            for c in case.lead_copies
        ],
        "clock": clock_view(case.clock(calendar, today)),
        "next_actions": NEXT_ACTIONS.get(case.state, []),
        "documents": case_documents(case),
    }
    if tracking_url is not None:
        view["tracking_url"] = tracking_url
    return view


def case_documents(case: Case) -> list[JSON]:
    """The written notices and decisions the case has so far (in the order issued), each with the
    path of its PDF under /api/v1/cases/{id}/documents/: what the console offers to print."""
    found = [(n, f"stage-notice/{n.id}") for n in notices(case)]
    for d in decisions(case):
        number = d.id.removeprefix("supplement-notice-")
        found.append((d, f"supplement-notice/{number}" if number != d.id else d.id))
    found.sort(key=lambda item: item[0].issued_at)
    return [{"id": n.id, "title": n.title, "path": path} for n, path in found]


def custody_view(c: CustodyEvent) -> JSON:
    return {
        "seq": c.seq,
        "kind": c.kind.value,
        "from_party": c.from_party,
        "to_party": c.to_party,
        "actor": c.actor,
        "server_time": iso(c.server_time),
        "client_time": iso(c.client_time),
        "method": c.method.value,
        "place": c.place,
        "evidence": list(c.evidence),
        "discrepancies": [
            {"item_seq": d.item_seq, "kind": d.kind.value, "note": d.note, "actual_pages": d.actual_pages}
            for d in c.discrepancies
        ],
        "note": c.note,
        "prev_hash": c.prev_hash,
        "hash": c.hash,
    }


PACKAGE_NEXT: dict[PackageState, list[str]] = {
    PackageState.SEALED: ["picked_up", "report_exception"],
    PackageState.WITH_COURIER: ["in_transit", "delivered", "sign", "report_exception"],
    PackageState.IN_TRANSIT: ["in_transit", "delivered", "sign", "report_exception"],
    PackageState.ARRIVED: ["sign", "report_exception"],
    PackageState.PUSHED: ["sign", "report_exception"],
}


def package_view(package: Package, scan_payload: str) -> JSON:
    return {
        "id": package.id,
        "code": str(package.code),
        "case_id": package.case_id,
        "direction": package.direction.value,
        "purpose": package.purpose.value,
        "medium": package.medium.value,
        "state": package.state.value,
        "state_zh": STATE_ZH[package.state.value],
        "from_party": package.from_party,
        "to_party": package.to_party,
        "holder": package.holder,
        "carrier": package.carrier,
        "waybill": package.waybill,
        "scan_payload": scan_payload,
        "items": [
            {
                "seq": i.seq,
                "name": i.name,
                "copies": i.copies,
                "pages": i.pages,
                "original": i.original,
                "remarks": i.remarks,
            }
            for i in package.items
        ],
        "last_movement_at": iso(package.last_movement_at),
        "custody_events": len(package.custody),
        "next_actions": PACKAGE_NEXT.get(package.state, []),
    }


TIMELINE_ZH = {
    "collected_at": "窗口收件",
    "forwarded_at": "材料已流转至审批部门",
    "received_at": "审批部门已签收材料",
    "accepted_at": "已受理",
    "decided_at": "已办结",
    "result_shipped_at": "办理结果已寄出",
    "ready_at": "办理结果已到领取地点，可以领取",
    "delivered_at": "已送达",
    "archived_at": "已归档",
    "closed_at": "办件已终止",
}


def tracking_view(
    case: Case, packages: list[Package], calendar: Calendar, today: date, token: str | None = None
) -> JSON:
    """What the applicant's phone shows: no ID number, name and phone masked. ``notices`` lists the
    written notice of every special stage and extension and every written decision (容缺受理凭证,
    补正告知书, 受理通知书, 不予受理 / 不予许可决定书), in the order issued; given the tracking
    ``token``, each has the ``url`` of its PDF, and ``receipt_notice_url`` is that of the receipt
    notice."""
    timeline: list[tuple[datetime, str]] = []
    for attr, text in TIMELINE_ZH.items():
        value = getattr(case, attr)
        if value is not None:
            timeline.append((value, text))
    for s in case.supplements:
        timeline.append((s.requested_at, "需要补正材料：" + "、".join(s.items) + f"（请于 {s.due_on} 前补交）"))
    for stage in case.stages:
        timeline.append(
            (stage.opened_at, f"进入特殊环节：{STAGE_TYPE_ZH[stage.type.value]}（{stage.reason}），不计入承诺时限")
        )
        if stage.closed_at:
            timeline.append((stage.closed_at, f"特殊环节结束：{STAGE_TYPE_ZH[stage.type.value]}"))
    for e in case.extensions:
        timeline.append((e.at, f"依法延期 {e.days} 个工作日：{e.reason}"))
    timeline.sort(key=lambda item: item[0])
    reading = case.clock(calendar, today)
    base = f"/api/v1/track/{token}" if token else None
    current = next((p for p in reversed(packages) if p.state not in (PackageState.SIGNED,)), None)
    return {
        "case_no": case.case_no,
        "matter_name": case.matter.name,
        "state": case.state.value,
        "state_zh": STATE_ZH[case.state.value],
        "applicant_name": mask_name(case.applicant.name),
        "applicant_phone": mask_phone(case.applicant.phone),
        "closed_reason": case.closed_reason,
        "timeline": [{"at": iso(at), "at_local": local_text(at), "text": text} for at, text in timeline],
        "due_date": iso(reading.due_date) if reading else None,
        "clock": {
            "used": reading.used,
            "remaining": reading.remaining,
            "promised": reading.promised,
            "paused": reading.paused,
            "provisional": reading.provisional,
            "provisional_reason": reading.provisional_reason,
        }
        if reading
        else None,
        "stages": [
            {
                "type_zh": STAGE_TYPE_ZH[s.type.value],
                "start_on": iso(s.start_on),
                "end_on": iso(s.end_on),
                "reason": s.reason,
                "legal_basis": s.legal_basis,
            }
            for s in case.stages
        ],
        "notices": [
            {"id": n.id, "title": n.title, **({"url": f"{base}/{folder}/{n.id}"} if base else {})}
            for n, folder in sorted(
                [*((n, "notices") for n in notices(case)), *((n, "decisions") for n in decisions(case))],
                key=lambda listed: listed[0].issued_at,
            )
        ],
        **({"receipt_notice_url": f"{base}/receipt-notice"} if base else {}),
        "package": {
            "code": str(current.code),
            "state_zh": STATE_ZH[current.state.value],
            "waybill": current.waybill,
            "last_movement_at": iso(current.last_movement_at),
        }
        if current
        else None,
        "rating": {"score": case.rating.score, "comment": case.rating.comment, "at": iso(case.rating.at)}
        if case.rating
        else None,
        "can_rate": case.rating is None and case.state in FINISHED,
    }
