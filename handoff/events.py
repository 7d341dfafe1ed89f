"""The message contracts: one frozen, past-tense, versioned type per transition.

An event is published as a JSON envelope (DESIGN §8)::

    {"id": UUID, "type": "case.accepted", "version": 1, "occurred_at": ISO-8601 UTC,
     "case_id": …, "package_id": …, "actor": …, "data": {…the event's own fields…},
     "ordering_key": …, "seq": 7}

Routing key = ``type``.

Order (DESIGN §8): ``ordering_key`` is the case (:func:`ordering_key`): a case's own events *and*
the events of its packages form one stream, because what the applicant follows — the SMS of a
case — is driven by both. ``seq`` is the event's place in that stream: 1, 2, 3… without gaps,
allocated when the event is committed (adapters/db/outbox.py), so seq order is commit order. The
aggregate versions cannot serve: a case's version orders its own events only, each package counts
its own, and two counters cannot order one merged stream. An event with neither case nor package
(``calendar.updated``) is a stream of its own, keyed by its id, with ``seq`` 1. Both fields are
added by the outbox writer, not by the domain; envelopes committed before they existed lack them
and are handled unordered. Events never carry an identity number or a phone number: consumers that
need them read them from the database (PIPL; DESIGN §10). Adding a field with a default is
compatible; removing or changing one means a new ``version``.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar

from handoff.errors import InvalidInput


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all events. Subclasses set ``type`` and ``version`` and add their own fields."""

    type: ClassVar[str] = ""
    version: ClassVar[int] = 1

    occurred_at: datetime
    actor: str
    case_id: str | None = None
    package_id: str | None = None
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def data(self) -> dict[str, Any]:
        """The event's own fields (everything but the envelope's), JSON-ready."""
        envelope = {"occurred_at", "actor", "case_id", "package_id", "event_id"}
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name not in envelope}


E = TypeVar("E", bound=type[Event])
EVENT_TYPES: dict[str, type[Event]] = {}


def event(cls: E) -> E:
    """Register an event type under its routing key (one type, one class)."""
    if not cls.type or cls.type in EVENT_TYPES:
        raise TypeError(f"event type {cls.type!r} missing or registered twice")
    EVENT_TYPES[cls.type] = cls
    return cls


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def ordering_key(event: Event) -> str:
    """The stream an event is ordered in: its case; a package's without one; else its own."""
    return event.case_id or event.package_id or event.event_id


def to_envelope(ev: Event) -> dict[str, Any]:
    return {
        "id": ev.event_id,
        "type": ev.type,
        "version": ev.version,
        "occurred_at": ev.occurred_at.isoformat(),
        "case_id": ev.case_id,
        "package_id": ev.package_id,
        "actor": ev.actor,
        "data": ev.data(),
    }


def envelope_bytes(ev: Event) -> bytes:
    return json.dumps(to_envelope(ev), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def from_envelope(envelope: Mapping[str, Any]) -> Event:
    """Rebuild an event from its envelope (nested dataclass fields stay as dicts/lists)."""
    try:
        cls = EVENT_TYPES[envelope["type"]]
        hints = {f.name: f for f in dataclasses.fields(cls)}
        data = dict(envelope.get("data") or {})
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name not in hints:
                continue  # a newer producer's extra field: ignore it
            kwargs[name] = _revive(hints[name].type, value)
        return cls(
            event_id=str(envelope["id"]),
            occurred_at=datetime.fromisoformat(envelope["occurred_at"]),
            actor=str(envelope["actor"]),
            case_id=envelope.get("case_id"),
            package_id=envelope.get("package_id"),
            **kwargs,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"消息信封无效：{exc}") from exc


def _revive(annotation: Any, value: Any) -> Any:
    text = str(annotation)
    if value is None:
        return None
    if text.startswith("datetime"):
        return datetime.fromisoformat(value)
    if text.startswith("date"):
        return date.fromisoformat(value)
    if text.startswith("tuple") and isinstance(value, list):
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return value


# =========================================================================== case events


@event
@dataclass(frozen=True, kw_only=True)
class CaseCollected(Event):
    type: ClassVar[str] = "case.collected"
    matter_id: str
    matter_name: str
    mode: str
    window_office_id: str
    department_office_id: str
    delivery: str
    materials: tuple[str, ...]
    ious: tuple[tuple[str, str], ...] = ()
    """(material name, due date ISO) for each 容缺 item."""
    case_no: str = ""


@event
@dataclass(frozen=True, kw_only=True)
class CaseForwarded(Event):
    type: ClassVar[str] = "case.forwarded"
    to_office_id: str


@event
@dataclass(frozen=True, kw_only=True)
class CaseReceived(Event):
    type: ClassVar[str] = "case.received"
    office_id: str


@event
@dataclass(frozen=True, kw_only=True)
class SupplementRequested(Event):
    type: ClassVar[str] = "case.supplement_requested"
    items: tuple[str, ...]
    due_on: date
    after_acceptance: bool
    reason: str = ""
    """Why the applicant is asked again (required from the second request on)."""
    count: int = 1
    """This request's number among the case's 补正 requests."""


@event
@dataclass(frozen=True, kw_only=True)
class SupplementSupplied(Event):
    type: ClassVar[str] = "case.supplement_supplied"
    after_acceptance: bool


@event
@dataclass(frozen=True, kw_only=True)
class CaseClosedUnsupplemented(Event):
    type: ClassVar[str] = "case.closed_unsupplemented"
    due_on: date
    opinion: str = ""
    """The department's 意见 when it closed by hand; empty for the watcher's automatic close."""
    after_acceptance: bool = False


@event
@dataclass(frozen=True, kw_only=True)
class CaseAccepted(Event):
    type: ClassVar[str] = "case.accepted"
    accepted_on: date
    promised_limit: int
    tolerated: bool


@event
@dataclass(frozen=True, kw_only=True)
class CaseRejected(Event):
    type: ClassVar[str] = "case.rejected"
    reason: str


@event
@dataclass(frozen=True, kw_only=True)
class StageOpened(Event):
    type: ClassVar[str] = "stage.opened"
    stage_id: str
    stage_type: str
    start_on: date
    reason: str
    legal_basis: str
    expected_days: int | None
    approved_by: str | None = None
    """The department lead who approved a start earlier than the working day before the record."""
    backdated: bool = False
    """Recorded more than a working day after the stage started (补登, with the lead's approval)."""


@event
@dataclass(frozen=True, kw_only=True)
class StageClosed(Event):
    type: ClassVar[str] = "stage.closed"
    stage_id: str
    stage_type: str
    start_on: date
    end_on: date


@event
@dataclass(frozen=True, kw_only=True)
class CaseExtended(Event):
    type: ClassVar[str] = "case.extended"
    days: int
    approver: str
    reason: str
    on: date


@event
@dataclass(frozen=True, kw_only=True)
class IouFulfilled(Event):
    type: ClassVar[str] = "case.iou_fulfilled"
    material: str


@event
@dataclass(frozen=True, kw_only=True)
class CaseDecided(Event):
    type: ClassVar[str] = "case.decided"
    outcome: str
    decided_on: date
    opinion: str


@event
@dataclass(frozen=True, kw_only=True)
class ResultShipped(Event):
    type: ClassVar[str] = "case.result_shipped"
    delivery: str
    result_package_id: str | None


@event
@dataclass(frozen=True, kw_only=True)
class SupplementTakenIn(Event):
    """补正 or 容缺 materials the applicant brought to the remote window, sealed into a supplement
    package for the department; they count as supplied when the department signs for it."""

    type: ClassVar[str] = "case.supplement_taken_in"
    items: tuple[str, ...]
    supplement_package_id: str


@event
@dataclass(frozen=True, kw_only=True)
class ResultReadyForPickup(Event):
    """The result waits for the applicant: signed for at the window, or kept at the department."""

    type: ClassVar[str] = "case.ready_for_pickup"
    office_id: str


@event
@dataclass(frozen=True, kw_only=True)
class CaseDelivered(Event):
    type: ClassVar[str] = "case.delivered"
    delivery: str


@event
@dataclass(frozen=True, kw_only=True)
class PickupRegistered(Event):
    type: ClassVar[str] = "case.pickup_registered"
    office_id: str
    by_proxy: bool
    receiver_name: str
    """The receiver's name only; the proxy's ID number stays in the database."""


@event
@dataclass(frozen=True, kw_only=True)
class CaseArchived(Event):
    type: ClassVar[str] = "case.archived"


@event
@dataclass(frozen=True, kw_only=True)
class CaseWithdrawn(Event):
    type: ClassVar[str] = "case.withdrawn"
    reason: str


@event
@dataclass(frozen=True, kw_only=True)
class CaseRated(Event):
    type: ClassVar[str] = "case.rated"
    score: int
    comment: str


@event
@dataclass(frozen=True, kw_only=True)
class RatingRectified(Event):
    type: ClassVar[str] = "case.rating_rectified"
    note: str


@event
@dataclass(frozen=True, kw_only=True)
class CaseCopiedToLead(Event):
    type: ClassVar[str] = "case.copied_to_lead"
    lead: str
    note: str


@event
@dataclass(frozen=True, kw_only=True)
class LeadRemarked(Event):
    type: ClassVar[str] = "case.lead_remarked"
    lead: str
    remark: str


@event
@dataclass(frozen=True, kw_only=True)
class ApplicantPhoneCorrected(Event):
    """A clerk corrected the applicant's mobile number (短信回执: the number on record was wrong).
    Only masked numbers travel: the history shows who changed which number, never the numbers."""

    type: ClassVar[str] = "case.applicant_phone_corrected"
    old_phone_masked: str
    new_phone_masked: str
    reason: str


# =========================================================================== package events


@event
@dataclass(frozen=True, kw_only=True)
class PackageCreated(Event):
    type: ClassVar[str] = "package.created"
    code: str
    direction: str
    medium: str
    from_party: str
    to_party: str
    items: int
    purpose: str = "materials"
    """``supplement``: 补正 / 容缺 materials taken in at the window after the case was registered."""


@event
@dataclass(frozen=True, kw_only=True)
class PackageSealed(Event):
    type: ClassVar[str] = "package.sealed"
    code: str
    carrier: str | None


@event
@dataclass(frozen=True, kw_only=True)
class PackagePickedUp(Event):
    type: ClassVar[str] = "package.picked_up"
    courier: str
    manifest_id: str | None


@event
@dataclass(frozen=True, kw_only=True)
class PackageInTransit(Event):
    type: ClassVar[str] = "package.in_transit"
    place: str


@event
@dataclass(frozen=True, kw_only=True)
class PackageArrived(Event):
    type: ClassVar[str] = "package.arrived"
    delivered_by: str
    to_party: str


@event
@dataclass(frozen=True, kw_only=True)
class PackagePushed(Event):
    type: ClassVar[str] = "package.pushed"
    to_party: str


@event
@dataclass(frozen=True, kw_only=True)
class PackageSigned(Event):
    type: ClassVar[str] = "package.signed"
    signed_by: str
    party: str
    discrepancies: int


@event
@dataclass(frozen=True, kw_only=True)
class PackageException(Event):
    type: ClassVar[str] = "package.exception"
    kind: str
    note: str


@event
@dataclass(frozen=True, kw_only=True)
class PackageBooked(Event):
    """A carrier accepted the pickup order: its waybill number is the package's from now on."""

    type: ClassVar[str] = "package.booked"
    carrier: str
    waybill: str


@event
@dataclass(frozen=True, kw_only=True)
class PackageBookingFailed(Event):
    """No configured carrier would take the pickup order: a person must hand the package over."""

    type: ClassVar[str] = "package.booking_failed"
    carriers: tuple[str, ...]
    reason: str


# =========================================================================== watcher events
# Raised by the workers that watch time pass (worker/deadlines.py, worker/logistics.py), not by an
# aggregate's transition: a deadline reached is a fact too. Each is raised once per case (or
# package) and occasion — the watcher's own table remembers what it has announced.


@event
@dataclass(frozen=True, kw_only=True)
class DeadlineNear(Event):
    """The promised limit is close: ``remaining`` working days left (a configured threshold)."""

    type: ClassVar[str] = "case.deadline_near"
    due_on: date
    remaining: int
    department_office_id: str


@event
@dataclass(frozen=True, kw_only=True)
class CaseOverdue(Event):
    """``used > promised``: a full working day or more past the promised limit, not decided."""

    type: ClassVar[str] = "case.overdue"
    due_on: date
    used: int
    promised: int
    department_office_id: str


@event
@dataclass(frozen=True, kw_only=True)
class ForwardingOverdue(Event):
    """The window's promise to forward the materials within 2 working days (Appendix A: "2 日内转报到
    审批部门") passed and the department has not signed for them: the promise ends at the
    department's signature, not when the package leaves the window."""

    type: ClassVar[str] = "case.forwarding_overdue"
    due_on: date
    window_office_id: str


@event
@dataclass(frozen=True, kw_only=True)
class PrereviewOverdue(Event):
    """预审 (seed 000): the department signed for the materials and has not accepted, rejected or
    asked for a supplement within its working days (``HANDOFF_PREREVIEW_DAYS``)."""

    type: ClassVar[str] = "case.prereview_overdue"
    due_on: date
    department_office_id: str


@event
@dataclass(frozen=True, kw_only=True)
class LegalOverdue(Event):
    """``used > legal_limit``: past the legal limit (法定期限), not decided."""

    type: ClassVar[str] = "case.legal_overdue"
    due_on: date
    used: int
    department_office_id: str


@event
@dataclass(frozen=True, kw_only=True)
class IouDueSoon(Event):
    """容缺 materials still owed and due within 2 working days: the applicant is reminded."""

    type: ClassVar[str] = "case.iou_due_soon"
    due_on: date
    materials: tuple[str, ...]


@event
@dataclass(frozen=True, kw_only=True)
class IouOverdue(Event):
    """容缺 materials still owed after their due date: the window that took them in is warned."""

    type: ClassVar[str] = "case.iou_overdue"
    due_on: date
    materials: tuple[str, ...]
    window_office_id: str


@event
@dataclass(frozen=True, kw_only=True)
class StageLimitReached(Event):
    """An open special stage has run the working days of its own limit (the matter's, per type)."""

    type: ClassVar[str] = "stage.limit_reached"
    stage_id: str
    stage_type: str
    start_on: date
    limit: int
    reached_on: date
    department_office_id: str


@event
@dataclass(frozen=True, kw_only=True)
class PackageStalled(Event):
    """No custody event for longer than the route allows (default 3 working days)."""

    type: ClassVar[str] = "package.stalled"
    last_movement_at: datetime
    holder: str
    from_party: str
    working_days: int


@event
@dataclass(frozen=True, kw_only=True)
class CalendarUpdated(Event):
    """An admin loaded a year's schedule: every process reloads its calendar, and the due dates
    of open cases are recomputed."""

    type: ClassVar[str] = "calendar.updated"
    year: int
    source: str
