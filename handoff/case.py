"""The Case aggregate (办件): every state and transition of DESIGN §3.

Each command is a method with an imperative name. It checks its preconditions, raises a named
:class:`~handoff.errors.DomainError` (with the state and the command) when they fail, changes the
case, and records a past-tense event in ``events`` for the unit of work to put in the outbox.
Times come in as aware datetimes; nothing here asks for the current time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import NoReturn

from handoff import events as ev
from handoff.clock import ClockReading, StagePeriod, add_working_days, previous_workday, read_clock
from handoff.errors import IllegalTransition, InvalidInput, MissingMaterials
from handoff.labels_zh import MODE_ZH, STAGE_TYPE_ZH
from handoff.matter import CaseKind, Delivery, Matter, Mode, StageType
from handoff.ports import Calendar
from handoff.privacy import mask_phone, normalize_id_number, normalize_phone
from handoff.regions import check_region_code
from handoff.timeutil import local_date, require_aware


class CaseState(StrEnum):
    COLLECTED = "collected"
    FORWARDED = "forwarded"
    RECEIVED = "received"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    ACCEPTED = "accepted"
    IN_REVIEW = "in_review"
    DECIDED = "decided"
    RESULT_SHIPPED = "result_shipped"
    READY_FOR_PICKUP = "ready_for_pickup"
    DELIVERED = "delivered"
    ARCHIVED = "archived"
    REJECTED = "rejected"
    CLOSED_UNSUPPLEMENTED = "closed_unsupplemented"
    WITHDRAWN = "withdrawn"


TERMINAL = frozenset({CaseState.ARCHIVED, CaseState.REJECTED, CaseState.CLOSED_UNSUPPLEMENTED, CaseState.WITHDRAWN})
UNDER_REVIEW = (CaseState.ACCEPTED, CaseState.IN_REVIEW)
BEFORE_DECISION = (
    CaseState.COLLECTED,
    CaseState.FORWARDED,
    CaseState.RECEIVED,
    CaseState.SUPPLEMENT_REQUESTED,
    CaseState.ACCEPTED,
    CaseState.IN_REVIEW,
)
FINISHED = (  # states in which the applicant may rate the service
    CaseState.DECIDED,
    CaseState.RESULT_SHIPPED,
    CaseState.READY_FOR_PICKUP,
    CaseState.DELIVERED,
    CaseState.ARCHIVED,
    CaseState.REJECTED,
    CaseState.CLOSED_UNSUPPLEMENTED,
)

MAX_EXTENSION_DAYS = 10  # 行政许可法 §42
PREREVIEW_DAYS = 3
"""预审 (seed 000): working days from signing for the materials to accept / reject / supplement;
the default of the ``HANDOFF_PREREVIEW_DAYS`` setting (the domain takes the number as a parameter)."""
STOPPED = (CaseState.WITHDRAWN, CaseState.CLOSED_UNSUPPLEMENTED)
"""Terminal states reached without a decision: the clock freezes on their date."""
BAD_RATING_MAX = 2  # 1 非常不满意, 2 不满意


class Outcome(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"


@dataclass(frozen=True)
class Applicant:
    name: str
    phone: str
    id_number: str | None = None
    address: str = ""
    organisation: str = ""
    region_code: str = ""
    """The applicant's jurisdiction (属地) chosen at the window; empty when none was given."""

    @classmethod
    def create(
        cls,
        name: str,
        phone: str,
        id_number: str | None = None,
        address: str = "",
        organisation: str = "",
        region_code: str | None = None,
    ) -> Applicant:
        if not name.strip():
            raise InvalidInput("申请人姓名不能为空")
        return cls(
            name=name.strip(),
            phone=normalize_phone(phone),
            id_number=normalize_id_number(id_number) if id_number else None,
            address=address.strip(),
            organisation=organisation.strip(),
            region_code=check_region_code(region_code, "申请人所属区划") if region_code else "",
        )


@dataclass(frozen=True)
class MaterialSubmission:
    """One material handed in, as Appendix A/B list it."""

    name: str
    copies: int = 1
    pages: int = 0
    original: bool = True
    remarks: str = ""
    electronic: bool = False

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidInput("材料名称不能为空")
        if not 1 <= self.copies <= 999:
            raise InvalidInput(f"材料“{self.name}”的份数 {self.copies} 不合理")
        if not 0 <= self.pages <= 99999:
            raise InvalidInput(f"材料“{self.name}”的页数 {self.pages} 不合理")


@dataclass(frozen=True)
class Iou:
    """容缺: a required material accepted as missing, with the date by which it must come."""

    material: str
    due_on: date
    fulfilled_at: datetime | None = None


@dataclass(frozen=True)
class Stage:
    id: str
    type: StageType
    start_on: date
    reason: str
    legal_basis: str
    opened_by: str
    opened_at: datetime
    expected_days: int | None = None
    limit: int | None = None
    end_on: date | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    approved_by: str | None = None
    """The department lead who approved a start date earlier than the working day before the
    stage was recorded (补登); None when no approval was needed."""

    @property
    def is_open(self) -> bool:
        return self.end_on is None

    def period(self) -> StagePeriod:
        return StagePeriod(type=self.type.value, start=self.start_on, end=self.end_on, limit=self.limit)


@dataclass(frozen=True)
class Extension:
    days: int
    approver: str
    reason: str
    on: date
    at: datetime


@dataclass(frozen=True)
class SupplementRequest:
    items: tuple[str, ...]
    due_on: date
    requested_at: datetime
    after_acceptance: bool
    supplied_at: datetime | None = None
    stage_id: str | None = None
    reason: str = ""
    """Why the applicant is asked again: required for every request after the first (一次性告知)."""


@dataclass(frozen=True)
class PickupRecord:
    office_id: str
    by_proxy: bool
    name: str
    id_number: str | None
    at: datetime
    actor: str
    id_type: str = "resident_id"
    """证件类型: one of :data:`ID_TYPES`."""
    method: str = "window"
    """领取方式: one of :data:`PICKUP_METHODS`."""
    note: str = ""
    """The clerk's 意见."""


ID_TYPES = {
    "resident_id": "居民身份证",
    "hk_macao_permit": "港澳居民来往内地通行证",
    "taiwan_permit": "台湾居民来往大陆通行证",
    "passport": "护照",
    "other": "其他有效证件",
}
PICKUP_METHODS = {"window": "窗口现场领取", "self_service": "自助终端领取"}
OTHER_ID_RE = re.compile(r"^[A-Z0-9]{5,20}$")


def _receiver_id(number: str | None, id_type: str) -> str | None:
    """A resident ID number with its check digit, or another document's 5–20 letters and digits."""
    if not number:
        return None
    if id_type == "resident_id":
        return normalize_id_number(number)
    value = re.sub(r"[\s-]", "", number).upper()
    if not OTHER_ID_RE.match(value):
        raise InvalidInput(f"{ID_TYPES.get(id_type, '证件')}号码格式不正确（5–20 位字母或数字）")
    return value


@dataclass(frozen=True)
class Rating:
    score: int
    comment: str
    at: datetime
    rectified_at: datetime | None = None
    rectification: str = ""

    @property
    def bad(self) -> bool:
        return self.score <= BAD_RATING_MAX


@dataclass(frozen=True)
class LeadCopy:
    lead: str
    note: str
    copied_at: datetime
    remark: str = ""
    remarked_at: datetime | None = None


@dataclass
class Case:
    id: str
    matter: Matter
    mode: Mode
    delivery: Delivery
    applicant: Applicant
    window_office_id: str
    department_office_id: str
    materials: tuple[MaterialSubmission, ...]
    collected_at: datetime
    tracking_token_hash: str
    home_office_id: str = ""
    """The department of the applicant's own jurisdiction, where they would otherwise have gone
    (少跑距离): the deciding department, or for 委托审批 the one the entrusted unit stands in for."""
    case_no: str = ""
    """受理编号, printed on the notices and named in staff SMS: ``RRRRRR-YYYYMMDD-SSSS-C`` in the
    scheme of package codes (the window's region, the collection date, the same daily sequence)."""
    state: CaseState = CaseState.COLLECTED
    ious: list[Iou] = field(default_factory=list)
    forwarded_at: datetime | None = None
    received_at: datetime | None = None
    accepted_at: datetime | None = None
    supplements: list[SupplementRequest] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    decided_at: datetime | None = None
    outcome: Outcome | None = None
    opinion: str = ""
    result_shipped_at: datetime | None = None
    result_package_id: str | None = None
    ready_at: datetime | None = None
    delivered_at: datetime | None = None
    pickup: PickupRecord | None = None
    archived_at: datetime | None = None
    closed_reason: str = ""
    closed_at: datetime | None = None
    rating: Rating | None = None
    lead_copies: list[LeadCopy] = field(default_factory=list)
    version: int = 0
    events: list[ev.Event] = field(default_factory=list, repr=False, compare=False)

    # ------------------------------------------------------------------ registration

    @classmethod
    def register(
        cls,
        *,
        case_id: str,
        matter: Matter,
        mode: Mode,
        delivery: Delivery,
        applicant: Applicant,
        window_office_id: str,
        department_office_id: str,
        submitted: Sequence[MaterialSubmission],
        tolerated: Sequence[str] = (),
        iou_due_on: date | None = None,
        tracking_token_hash: str,
        at: datetime,
        actor: str,
        case_no: str = "",
        home_office_id: str = "",
    ) -> Case:
        """收件: check the materials against the matter's list. Everything missing is reported at
        once (一次性告知); required items the applicant will bring later are accepted as 容缺
        IOUs when the matter allows it for that item."""
        at = require_aware(at)
        if mode not in matter.modes:
            raise InvalidInput(f"事项“{matter.name}”不支持“{_mode_zh(mode)}”办理方式")
        if mode is Mode.ONLINE and any(not m.electronic for m in submitted):
            raise InvalidInput("全程网办只接收电子材料")
        if delivery is Delivery.MAIL_TO_APPLICANT and not applicant.address.strip():
            raise InvalidInput("结果邮寄给申请人，必须填写申请人的收件地址")
        names = [m.name.strip() for m in submitted]
        if len(set(names)) != len(names):
            raise InvalidInput("同一材料登记了两次，请合并为一行并填写份数")
        handed_in = set(names)
        wanted_later = {t.strip() for t in tolerated} - handed_in
        missing: list[str] = []
        iou_names: list[str] = []
        for req in matter.materials:
            if not req.required or req.exempt or req.name in handed_in:
                continue
            if req.name in wanted_later and req.tolerable:
                iou_names.append(req.name)
            elif req.name in wanted_later:
                missing.append(f"{req.name}（该材料不可容缺）")
            else:
                missing.append(req.name)
        unknown = sorted(wanted_later - {r.name for r in matter.materials})
        missing.extend(f"{name}（不在本事项材料清单中，不能容缺）" for name in unknown)
        if missing:
            raise MissingMaterials(missing)
        if iou_names and iou_due_on is None:
            raise InvalidInput("容缺受理必须给出容缺材料的补交期限")
        if iou_due_on is not None and iou_names and iou_due_on <= local_date(at):
            raise InvalidInput("容缺材料的补交期限必须晚于今天")
        if not submitted:
            raise InvalidInput("没有登记任何材料")
        case = cls(
            id=case_id,
            matter=matter,
            mode=mode,
            delivery=delivery,
            applicant=applicant,
            window_office_id=window_office_id,
            department_office_id=department_office_id,
            materials=tuple(replace(m, name=m.name.strip()) for m in submitted),
            collected_at=at,
            tracking_token_hash=tracking_token_hash,
            home_office_id=home_office_id
            or (matter.department_office_id if mode is Mode.DELEGATED else department_office_id),
            case_no=case_no,
            ious=[Iou(material=n, due_on=iou_due_on) for n in iou_names if iou_due_on is not None],
        )
        case._record(
            ev.CaseCollected(
                occurred_at=at,
                actor=actor,
                matter_id=matter.id,
                matter_name=matter.name,
                mode=mode.value,
                window_office_id=window_office_id,
                department_office_id=department_office_id,
                delivery=delivery.value,
                materials=tuple(m.name for m in case.materials),
                ious=tuple((i.material, i.due_on.isoformat()) for i in case.ious),
                case_no=case_no,
            )
        )
        return case

    # ------------------------------------------------------------------ forwarding and review

    def forward(self, *, at: datetime, actor: str) -> None:
        """流转: the materials left the window — their package was taken by a courier or carrier,
        or pushed electronically. Sealing alone does not forward a case."""
        self._require("forward", CaseState.COLLECTED)
        self.forwarded_at = at = require_aware(at)
        self.state = CaseState.FORWARDED
        self._record(ev.CaseForwarded(occurred_at=at, actor=actor, to_office_id=self.department_office_id))

    def receive(self, *, at: datetime, actor: str) -> None:
        """The department signed for the materials: pre-review (预审) starts."""
        self._require("receive", CaseState.FORWARDED)
        self.received_at = at = require_aware(at)
        self.state = CaseState.RECEIVED
        self._record(ev.CaseReceived(occurred_at=at, actor=actor, office_id=self.department_office_id))

    def accept(self, *, at: datetime, actor: str) -> None:
        """受理: the clock starts; the acceptance date itself is not counted."""
        self._require("accept", CaseState.RECEIVED)
        self.accepted_at = at = require_aware(at)
        self.state = CaseState.ACCEPTED
        self._record(
            ev.CaseAccepted(
                occurred_at=at,
                actor=actor,
                accepted_on=local_date(at),
                promised_limit=self.matter.clock_limit,
                tolerated=bool(self.outstanding_ious()),
            )
        )

    def reject(self, *, reason: str, at: datetime, actor: str) -> None:
        """不予受理: the materials go back to the applicant with the reason."""
        self._require("reject", CaseState.RECEIVED, CaseState.SUPPLEMENT_REQUESTED)
        reason = _text(reason, "不予受理的理由")
        self.closed_at = at = require_aware(at)
        self.closed_reason = reason
        self.state = CaseState.REJECTED
        self._record(ev.CaseRejected(occurred_at=at, actor=actor, reason=reason))

    # ------------------------------------------------------------------ supplements (补正)

    def request_supplement(
        self,
        *,
        items: Sequence[str],
        due_on: date,
        at: datetime,
        actor: str,
        calendar: Calendar,
        reason: str = "",
    ) -> None:
        """补正告知. Before acceptance the case waits in SUPPLEMENT_REQUESTED; after acceptance the
        request is a special stage of type ``supplement`` (the clock pauses), which, like every
        stage, may not start once the case is overdue. Everything missing is asked at once
        (一次性告知): a further request needs its reason, and the case counts them."""
        self._require("request_supplement", CaseState.RECEIVED, *UNDER_REVIEW)
        clean = tuple(dict.fromkeys(i.strip() for i in items if i.strip()))
        if not clean:
            raise InvalidInput("补正告知必须列出需要补正的材料")
        at = require_aware(at)
        today = local_date(at)
        if due_on <= today:
            raise InvalidInput("补正期限必须晚于今天")
        if any(s.is_open and s.type is StageType.SUPPLEMENT for s in self.stages):
            self._fail("request_supplement", "已有未结束的补正环节")
        why = (reason or "").strip()
        if self.supplements and not why:
            raise InvalidInput(f"一次性告知：本件已补正告知 {len(self.supplements)} 次，再次要求补正必须说明理由")
        if len(why) > 2000:
            raise InvalidInput("补正理由过长（最多 2000 字）")
        after = self.state in UNDER_REVIEW
        stage_id = None
        if after:
            self._require_in_time("request_supplement", calendar, start=today, today=today)
            stage_id = self._open_stage(
                StageType.SUPPLEMENT,
                start_on=today,
                reason="补正材料：" + "、".join(clean),
                legal_basis="《中华人民共和国行政许可法》第三十二条",
                expected_days=None,
                at=at,
                actor=actor,
            )
        else:
            self.state = CaseState.SUPPLEMENT_REQUESTED
        self.supplements.append(
            SupplementRequest(
                items=clean, due_on=due_on, requested_at=at, after_acceptance=after, stage_id=stage_id, reason=why
            )
        )
        self._record(
            ev.SupplementRequested(
                occurred_at=at,
                actor=actor,
                items=clean,
                due_on=due_on,
                after_acceptance=after,
                reason=why,
                count=len(self.supplements),
            )
        )

    def supplement_supplied(self, *, at: datetime, actor: str) -> None:
        """补正受理: the applicant brought what was asked; review resumes."""
        at = require_aware(at)
        request = self.open_supplement()
        if request is None:
            self._fail("supplement_supplied", "没有待补正的材料")
        self.supplements[-1] = replace(request, supplied_at=at)
        if request.after_acceptance and request.stage_id is not None:
            self._close_stage(request.stage_id, end_on=local_date(at), at=at, actor=actor)
        else:
            self.state = CaseState.RECEIVED
        self._record(ev.SupplementSupplied(occurred_at=at, actor=actor, after_acceptance=request.after_acceptance))

    def close_unsupplemented(self, *, at: datetime, actor: str, opinion: str | None = None) -> None:
        """补正不来办结: the supplement's due date passed and nothing came. Before acceptance (the
        case waits in SUPPLEMENT_REQUESTED) or after it (an open ``supplement`` stage, which ends on
        its due date: the days the department took after that are its own). The watcher closes
        without ``opinion``; a department closing by hand gives its 意见."""
        self._require("close_unsupplemented", CaseState.SUPPLEMENT_REQUESTED, *UNDER_REVIEW)
        request = self.open_supplement()
        if request is None:
            self._fail("close_unsupplemented", "没有待补正的材料")
        text = None if opinion is None else _text(opinion, "补正不来办结意见")
        at = require_aware(at)
        today = local_date(at)
        if today <= request.due_on:
            self._fail("close_unsupplemented", f"补正期限 {request.due_on} 尚未届满，申请人仍可补正")
        if request.after_acceptance and request.stage_id is not None:
            stage = self._stage(request.stage_id)
            self._close_stage(stage.id, end_on=max(stage.start_on, request.due_on), at=at, actor=actor)
        self.closed_at = at
        self.closed_reason = text or f"申请人未在 {request.due_on} 前补正材料"
        self.state = CaseState.CLOSED_UNSUPPLEMENTED
        self._record(
            ev.CaseClosedUnsupplemented(
                occurred_at=at,
                actor=actor,
                due_on=request.due_on,
                opinion=text or "",
                after_acceptance=request.after_acceptance,
            )
        )

    def open_supplement(self) -> SupplementRequest | None:
        if (
            self.supplements
            and self.supplements[-1].supplied_at is None
            and self.state
            in (
                CaseState.SUPPLEMENT_REQUESTED,
                *UNDER_REVIEW,
            )
        ):
            return self.supplements[-1]
        return None

    # ------------------------------------------------------------------ special stages and extension

    def open_stage(
        self,
        *,
        stage_type: StageType,
        reason: str,
        legal_basis: str,
        at: datetime,
        actor: str,
        calendar: Calendar,
        start_on: date | None = None,
        expected_days: int | None = None,
        approved_by: str | None = None,
    ) -> str:
        """启动特殊环节 (勘验, 专家评审, …): the clock pauses until it closes. Returns the stage id.

        Nobody bends the clock (DESIGN §5): the stage starts no earlier than the working day
        before the day it is recorded, unless the department lead ``approved_by`` a later record
        (kept in the event), and never on or after a date on which the case was overdue."""
        self._require("open_stage", *UNDER_REVIEW)
        if stage_type is StageType.SUPPLEMENT:
            raise InvalidInput("受理后的补正请使用“补正告知”，它会自动作为特殊环节计时")
        if any(s.is_open and s.type is stage_type for s in self.stages):
            self._fail("open_stage", f"已有未结束的“{_stage_zh(stage_type)}”环节")
        if expected_days is not None and not 1 <= expected_days <= 3650:
            raise InvalidInput("预计时长必须是 1 到 3650 个工作日")
        at = require_aware(at)
        today = local_date(at)
        start = start_on or today
        self._check_stage_date(start, at, "open_stage")
        lead = (approved_by or "").strip() or None
        earliest = previous_workday(calendar, today)
        if start < earliest and lead is None:
            raise InvalidInput(
                f"特殊环节的开始日期最早为登记日的前一个工作日（{earliest}）；"
                f"补登更早的开始日期（{start}）须经分管领导批准"
            )
        self._require_in_time("open_stage", calendar, start=start, today=today)
        stage_id = self._open_stage(
            stage_type,
            start_on=start,
            reason=_text(reason, "特殊环节的理由"),
            legal_basis=_text(legal_basis, "法律依据"),
            expected_days=expected_days,
            at=at,
            actor=actor,
            approved_by=lead,
            backdated=start < earliest,
        )
        return stage_id

    def close_stage(self, *, stage_id: str, at: datetime, actor: str, end_on: date | None = None) -> None:
        """结束特殊环节: the clock runs again from the day after ``end_on``."""
        self._require("close_stage", *UNDER_REVIEW)
        stage = self._stage(stage_id)
        if not stage.is_open:
            self._fail("close_stage", "该特殊环节已经结束")
        if stage.type is StageType.SUPPLEMENT:
            self._fail("close_stage", "补正环节在补正受理时自动结束")
        at = require_aware(at)
        end = end_on or local_date(at)
        if end < stage.start_on:
            raise InvalidInput(f"结束日期 {end} 早于开始日期 {stage.start_on}")
        self._check_stage_date(end, at, "close_stage")
        self._close_stage(stage_id, end_on=end, at=at, actor=actor)

    def extend(self, *, days: int, approver: str, reason: str, at: datetime, actor: str, calendar: Calendar) -> None:
        """延期 (行政许可法 §42): only within the period (``used ≤ promised``), up to 10 working
        days in all, approved by the head, and never beyond the matter's legal limit."""
        self._require("extend", *UNDER_REVIEW)
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise InvalidInput("延期天数必须是正整数")
        at = require_aware(at)
        reading = self.clock(calendar, local_date(at))
        if reading is not None and reading.ever_overdue:
            self._fail(
                "extend",
                f"行政许可法第四十二条：延期只能在承诺期限内申请（已用 {reading.used} 个工作日，"
                f"承诺期限 {reading.promised} 个工作日，已于 {reading.due_date} 到期）",
            )
        if self.extension_days + days > MAX_EXTENSION_DAYS:
            raise InvalidInput(
                f"行政许可法第四十二条：延期累计不得超过 {MAX_EXTENSION_DAYS} 个工作日"
                f"（已延期 {self.extension_days} 个工作日）"
            )
        after = self.matter.clock_limit + self.extension_days + days
        if after > self.matter.legal_limit:
            raise InvalidInput(
                f"承诺期限加延期不得超过法定期限：延期后为 {after} 个工作日，"
                f"法定期限为 {self.matter.legal_limit} 个工作日"
            )
        extension = Extension(
            days=days,
            approver=_text(approver, "批准人"),
            reason=_text(reason, "延期理由"),
            on=local_date(at),
            at=at,
        )
        self.extensions.append(extension)
        self._record(
            ev.CaseExtended(
                occurred_at=at,
                actor=actor,
                days=days,
                approver=extension.approver,
                reason=extension.reason,
                on=extension.on,
            )
        )

    def outstanding_items(self) -> list[str]:
        """What the applicant still owes: the open 补正 request's items, then unfulfilled 容缺."""
        request = self.open_supplement()
        owed = list(request.items) if request else []
        return owed + [i.material for i in self.ious if i.fulfilled_at is None and i.material not in owed]

    def take_in_at_window(self, *, items: Sequence[str], package_id: str, at: datetime, actor: str) -> None:
        """补正 / 容缺 materials brought to the remote window: they travel to the department in a
        supplement package and count as supplied when it signs (:meth:`supplied_by_package`). Only
        what is owed may be taken in, and a 补正 request comes complete (一次性补正)."""
        if self.state in TERMINAL or self.state is CaseState.COLLECTED:
            self._fail("take_in_at_window", "办件尚未流转或已终止，材料请随办件一并提交")
        names = [_text(n, "材料名称") for n in items]
        if not names or len(set(names)) != len(names):
            raise InvalidInput("补交材料不能为空，也不能重复")
        owed = self.outstanding_items()
        unknown = [n for n in names if n not in owed]
        if unknown:
            raise InvalidInput(f"以下材料不在待补正或待补交（容缺）清单中：{'、'.join(unknown)}")
        request = self.open_supplement()
        if request is not None and any(n in request.items for n in names):
            missing = [n for n in request.items if n not in names]
            if missing:
                raise MissingMaterials(missing)
        at = require_aware(at)
        self._record(
            ev.SupplementTakenIn(occurred_at=at, actor=actor, items=tuple(names), supplement_package_id=package_id)
        )

    def supplied_by_package(self, *, items: Sequence[str], at: datetime, actor: str) -> None:
        """The department signed for a supplement package from the window: its 容缺 items are
        fulfilled and, when it carries the open 补正 request's items, the supplement is supplied.
        Items that are no longer owed (brought meanwhile at the department) change nothing."""
        if self.state in TERMINAL:
            return  # the case ended while the package travelled; the chain keeps the package's record
        request = self.open_supplement()
        if request is not None and all(n in items for n in request.items):
            self.supplement_supplied(at=at, actor=actor)
        for name in items:
            if any(i.material == name and i.fulfilled_at is None for i in self.ious):
                self.fulfil_iou(material=name, at=at, actor=actor)

    def fulfil_iou(self, *, material: str, at: datetime, actor: str) -> None:
        """A 容缺 material arrived."""
        if self.state in TERMINAL:
            self._fail("fulfil_iou")
        at = require_aware(at)
        for index, iou in enumerate(self.ious):
            if iou.material == material and iou.fulfilled_at is None:
                self.ious[index] = replace(iou, fulfilled_at=at)
                self._record(ev.IouFulfilled(occurred_at=at, actor=actor, material=material))
                return
        self._fail("fulfil_iou", f"没有待补交的容缺材料“{material}”")

    # ------------------------------------------------------------------ decision and delivery

    def decide(self, *, outcome: Outcome, opinion: str, at: datetime, actor: str) -> None:
        """办结: every stage must be closed; an approval needs every 容缺 item in hand."""
        self._require("decide", *UNDER_REVIEW)
        open_stages = [s for s in self.stages if s.is_open]
        if open_stages:
            self._fail("decide", "还有未结束的特殊环节：" + "、".join(_stage_zh(s.type) for s in open_stages))
        outstanding = self.outstanding_ious()
        if outcome is Outcome.APPROVED and outstanding:
            self._fail("decide", "容缺材料尚未补齐：" + "、".join(i.material for i in outstanding))
        self.decided_at = at = require_aware(at)
        self.outcome = outcome
        self.opinion = _text(opinion, "办理意见")
        self.state = CaseState.DECIDED
        self._record(
            ev.CaseDecided(
                occurred_at=at, actor=actor, outcome=outcome.value, decided_on=local_date(at), opinion=self.opinion
            )
        )

    def ship_result(self, *, at: datetime, actor: str, result_package_id: str | None = None) -> None:
        """The result leaves the department: its package taken by a courier or carrier (to the
        applicant or the window), or sent electronically. Sealing the result package alone does not
        ship it."""
        self._require("ship_result", CaseState.DECIDED)
        if self.delivery is Delivery.PICKUP_AT_DEPARTMENT:
            self._fail("ship_result", "申请人选择在审批部门自取，结果无需寄出，请直接发放登记")
        if self.delivery in (Delivery.MAIL_TO_APPLICANT, Delivery.PICKUP_AT_WINDOW) and not result_package_id:
            raise InvalidInput("纸质结果寄出必须关联结果材料包")
        self.result_shipped_at = at = require_aware(at)
        self.result_package_id = result_package_id
        self.state = CaseState.RESULT_SHIPPED
        self._record(
            ev.ResultShipped(
                occurred_at=at, actor=actor, delivery=self.delivery.value, result_package_id=result_package_id
            )
        )

    def deliver(self, *, at: datetime, actor: str) -> None:
        """送达 by mail or electronically (for pickups, see :meth:`register_pickup`)."""
        self._require("deliver", CaseState.RESULT_SHIPPED)
        if self.delivery in (Delivery.PICKUP_AT_WINDOW, Delivery.PICKUP_AT_DEPARTMENT):
            self._fail("deliver", "自取的结果以发放登记为送达")
        self.delivered_at = at = require_aware(at)
        self.state = CaseState.DELIVERED
        self._record(ev.CaseDelivered(occurred_at=at, actor=actor, delivery=self.delivery.value))

    def ready_for_pickup(self, *, office_id: str, at: datetime, actor: str) -> None:
        """待领取: the result waits for the applicant — the window signed for the result package,
        or (pickup at the department) the department has it ready after its decision."""
        if self.delivery is Delivery.PICKUP_AT_WINDOW:
            self._require("ready_for_pickup", CaseState.RESULT_SHIPPED)
            expected = self.window_office_id
        elif self.delivery is Delivery.PICKUP_AT_DEPARTMENT:
            self._require("ready_for_pickup", CaseState.DECIDED)
            expected = self.department_office_id
        else:
            self._fail("ready_for_pickup", "申请人选择的是邮寄或电子送达，不需要领取")
        if office_id != expected:
            self._fail("ready_for_pickup", "结果不在该单位领取")
        self.ready_at = at = require_aware(at)
        self.state = CaseState.READY_FOR_PICKUP
        self._record(ev.ResultReadyForPickup(occurred_at=at, actor=actor, office_id=office_id))

    def register_pickup(
        self,
        *,
        office_id: str,
        receiver_name: str,
        receiver_id_number: str | None,
        by_proxy: bool,
        at: datetime,
        actor: str,
        id_type: str = "resident_id",
        method: str = "window",
        note: str = "",
    ) -> None:
        """发放登记: who took the result, with which document (证件类型) and how (领取方式). The
        applicant in person must match the applicant's identity number when one is on file (left
        empty, the number on file is recorded: the clerk checked the card against the masked
        number shown); a proxy gives name and document number."""
        if self.delivery is Delivery.PICKUP_AT_WINDOW:
            self._require("register_pickup", CaseState.READY_FOR_PICKUP)
            expected_office = self.window_office_id
        elif self.delivery is Delivery.PICKUP_AT_DEPARTMENT:
            self._require("register_pickup", CaseState.READY_FOR_PICKUP)
            expected_office = self.department_office_id
        else:
            self._fail("register_pickup", "申请人选择的是邮寄或电子送达，不能发放登记")
        if office_id != expected_office:
            self._fail("register_pickup", "结果不在本单位领取")
        if id_type not in ID_TYPES:
            raise InvalidInput("证件类型无效")
        if method not in PICKUP_METHODS:
            raise InvalidInput("领取方式无效")
        name = _text(receiver_name, "领取人姓名")
        id_number = _receiver_id(receiver_id_number, id_type)
        if by_proxy:
            if id_number is None:
                raise InvalidInput("代领必须登记代领人的身份证号码（或其他有效证件号码）")
        else:
            if name != self.applicant.name:
                raise InvalidInput("本人领取时，领取人姓名必须与申请人一致；否则请按代领登记")
            if id_number is None and id_type == "resident_id":
                id_number = self.applicant.id_number
            elif self.applicant.id_number is not None and id_number != self.applicant.id_number:
                raise InvalidInput("领取人身份证号码与申请人不一致")
        at = require_aware(at)
        self.pickup = PickupRecord(
            office_id=office_id,
            by_proxy=by_proxy,
            name=name,
            id_number=id_number,
            at=at,
            actor=actor,
            id_type=id_type,
            method=method,
            note=note.strip(),
        )
        self.delivered_at = at
        self.state = CaseState.DELIVERED
        self._record(
            ev.PickupRegistered(occurred_at=at, actor=actor, office_id=office_id, by_proxy=by_proxy, receiver_name=name)
        )

    def archive(self, *, at: datetime, actor: str) -> None:
        self._require("archive", CaseState.DELIVERED)
        self.archived_at = at = require_aware(at)
        self.state = CaseState.ARCHIVED
        self._record(ev.CaseArchived(occurred_at=at, actor=actor))

    def withdraw(self, *, reason: str, at: datetime, actor: str) -> None:
        """撤回 at the applicant's request, any time before the decision. Open stages end today."""
        self._require("withdraw", *BEFORE_DECISION)
        at = require_aware(at)
        reason = _text(reason, "撤回理由")
        for stage in [s for s in self.stages if s.is_open]:
            self._close_stage(stage.id, end_on=max(local_date(at), stage.start_on), at=at, actor=actor)
        self.closed_at = at
        self.closed_reason = reason
        self.state = CaseState.WITHDRAWN
        self._record(ev.CaseWithdrawn(occurred_at=at, actor=actor, reason=reason))

    # ------------------------------------------------------------------ rating and leads

    def rate(self, *, score: int, comment: str, at: datetime, actor: str) -> None:
        """好差评: once per case, 1 (非常不满意) to 5 (非常满意), after the case has an outcome."""
        self._require("rate", *FINISHED)
        if self.rating is not None:
            self._fail("rate", "该办件已评价")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidInput("评分必须是 1 到 5 的整数")
        at = require_aware(at)
        if score <= BAD_RATING_MAX and not comment.strip():
            raise InvalidInput("差评请填写不满意的原因，以便整改")
        self.rating = Rating(score=score, comment=comment.strip(), at=at)
        self._record(ev.CaseRated(occurred_at=at, actor=actor, score=score, comment=comment.strip()))

    def rectify_rating(self, *, note: str, at: datetime, actor: str) -> None:
        """差评整改: the department answers a bad rating."""
        if self.rating is None or not self.rating.bad:
            self._fail("rectify_rating", "该办件没有差评")
        if self.rating.rectified_at is not None:
            self._fail("rectify_rating", "该差评已整改")
        at = require_aware(at)
        self.rating = replace(self.rating, rectified_at=at, rectification=_text(note, "整改说明"))
        self._record(ev.RatingRectified(occurred_at=at, actor=actor, note=self.rating.rectification))

    def copy_to_lead(self, *, lead: str, note: str, at: datetime, actor: str) -> None:
        """抄送分管领导待阅."""
        if self.state in TERMINAL:
            self._fail("copy_to_lead")
        lead = _text(lead, "领导")
        if any(c.lead == lead and not c.remark for c in self.lead_copies):
            self._fail("copy_to_lead", "已抄送该领导，尚未批阅")
        at = require_aware(at)
        self.lead_copies.append(LeadCopy(lead=lead, note=note.strip(), copied_at=at))
        self._record(ev.CaseCopiedToLead(occurred_at=at, actor=actor, lead=lead, note=note.strip()))

    def remark(self, *, lead: str, remark: str, at: datetime) -> None:
        """批阅: a lead the case was copied to leaves a remark."""
        for index, copy in enumerate(self.lead_copies):
            if copy.lead == lead and not copy.remark:
                at = require_aware(at)
                self.lead_copies[index] = replace(copy, remark=_text(remark, "批阅意见"), remarked_at=at)
                self._record(ev.LeadRemarked(occurred_at=at, actor=lead, lead=lead, remark=remark.strip()))
                return
        self._fail("remark", "该办件没有抄送给您待阅")

    def correct_phone(self, *, phone: str, reason: str, at: datetime, actor: str) -> None:
        """改正申请人手机号码: the number on record was wrong (an SMS failed, the applicant called).
        Later SMS and resends go to the new number; the event keeps both numbers masked."""
        new = normalize_phone(phone)
        if new == self.applicant.phone:
            self._fail("correct_phone", "新号码与登记的号码相同")
        reason = _text(reason, "改正原因")
        at = require_aware(at)
        old = self.applicant.phone
        self.applicant = replace(self.applicant, phone=new)
        self._record(
            ev.ApplicantPhoneCorrected(
                occurred_at=at,
                actor=actor,
                old_phone_masked=mask_phone(old),
                new_phone_masked=mask_phone(new),
                reason=reason,
            )
        )

    # ------------------------------------------------------------------ reading

    @property
    def accepted_on(self) -> date | None:
        return local_date(self.accepted_at) if self.accepted_at else None

    @property
    def decided_on(self) -> date | None:
        return local_date(self.decided_at) if self.decided_at else None

    @property
    def extension_days(self) -> int:
        return sum(e.days for e in self.extensions)

    @property
    def is_instant(self) -> bool:
        return self.matter.kind is CaseKind.INSTANT

    def outstanding_ious(self) -> list[Iou]:
        return [i for i in self.ious if i.fulfilled_at is None]

    def open_stages(self) -> list[Stage]:
        return [s for s in self.stages if s.is_open]

    @property
    def supplement_count(self) -> int:
        """How many times the applicant was asked to supplement (补正次数)."""
        return len(self.supplements)

    def clock(self, calendar: Calendar, today: date) -> ClockReading | None:
        """The clock on ``today``; None before acceptance (the clock has not started). The legal
        limit runs beside the promised one; a withdrawn or unsupplemented case's clock froze on
        the date it ended."""
        accepted_on = self.accepted_on
        if accepted_on is None:
            return None
        stopped_on = None
        if self.state in STOPPED and self.closed_at is not None and self.decided_at is None:
            stopped_on = max(local_date(self.closed_at), accepted_on)
        return read_clock(
            calendar,
            accepted_on=accepted_on,
            limit=self.matter.clock_limit,
            at=max(today, accepted_on),
            stages=[s.period() for s in self.stages],
            extensions=[e.days for e in self.extensions],
            decided_on=self.decided_on,
            legal_limit=self.matter.legal_limit,
            stopped_on=stopped_on,
            overdue_before=self._overdue_before_changes(calendar, accepted_on),
        )

    def prereview_due_on(self, calendar: Calendar, days: int = PREREVIEW_DAYS) -> date | None:
        """预审 (seed 000): the date by which the department should accept, reject or ask for a
        supplement — ``days`` working days after it signed for the materials (or after a
        supplement asked before acceptance was supplied, which starts a new pre-review). None
        before the materials arrived."""
        current = self._prereview_round()
        if current is None:
            return None
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
            raise InvalidInput(f"预审时限 {days} 个工作日不合理（1–60）")
        return add_working_days(calendar, local_date(current[0]), days).due

    def prereview_overdue(self, calendar: Calendar, on: date, days: int = PREREVIEW_DAYS) -> bool:
        """Whether the pre-review is late on ``on``: still pending after its due date, or ended
        (accepted, rejected, supplement asked) after it."""
        current = self._prereview_round()
        due = self.prereview_due_on(calendar, days)
        if current is None or due is None:
            return False
        ended = local_date(current[1]) if current[1] is not None else None
        if ended is not None and ended <= on:
            return ended > due
        return on > due

    def _prereview_round(self) -> tuple[datetime, datetime | None] | None:
        """The current pre-review: (start, end or None while it runs)."""
        if self.received_at is None:
            return None
        start, end = self.received_at, None
        for request in self.supplements:
            if request.after_acceptance:
                continue
            end = request.requested_at
            if request.supplied_at is not None:
                start, end = request.supplied_at, None
        if end is None:
            end = self.accepted_at or (self.closed_at if self.state in TERMINAL else None)
        return start, end

    def _overdue_before_changes(self, calendar: Calendar, accepted_on: date) -> bool:
        """Was the case overdue on the day a stage was opened or an extension granted, as its
        record stood just before? The guards refuse both on an overdue case; this keeps a record
        made before the guards (or bent around them) from ever counting as 提前办结."""
        moments = sorted({s.opened_at for s in self.stages} | {e.at for e in self.extensions})
        for moment in moments:
            day = max(local_date(moment), accepted_on)
            earlier = read_clock(
                calendar,
                accepted_on=accepted_on,
                limit=self.matter.clock_limit,
                at=day,
                stages=[
                    replace(s.period(), end=s.end_on if s.closed_at is not None and s.closed_at < moment else None)
                    for s in self.stages
                    if s.opened_at < moment and s.start_on <= day
                ],
                extensions=[e.days for e in self.extensions if e.at < moment],
            )
            if earlier.overdue:
                return True
        return False

    def collect_events(self) -> list[ev.Event]:
        """Hand the recorded events to the unit of work (and forget them)."""
        out, self.events = self.events, []
        return out

    # ------------------------------------------------------------------ internals

    def _record(self, event: ev.Event) -> None:
        self.version += 1
        self.events.append(replace(event, case_id=self.id))

    def _require(self, command: str, *states: CaseState) -> None:
        if self.state not in states:
            raise IllegalTransition("case", self.state.value, command)

    def _fail(self, command: str, why: str = "") -> NoReturn:
        raise IllegalTransition("case", self.state.value, command, why)

    def _stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise InvalidInput(f"没有编号为 {stage_id} 的特殊环节")

    def _require_in_time(self, command: str, calendar: Calendar, *, start: date, today: date) -> None:
        """A special stage never starts on or after a date on which the case was overdue."""
        for day, when in ((start, f"开始日期 {start}"), (today, "今天")):
            reading = self.clock(calendar, day)
            if reading is not None and (reading.overdue or reading.ever_overdue):
                self._fail(
                    command,
                    f"特殊环节只能在承诺期限内启动，办件超期后不得暂停计时（{when}已用 {reading.used} 个工作日，"
                    f"承诺期限 {reading.promised} 个工作日，已于 {reading.due_date} 到期）",
                )

    def _check_stage_date(self, day: date, at: datetime, command: str) -> None:
        accepted_on = self.accepted_on
        if accepted_on is not None and day < accepted_on:
            raise InvalidInput(f"日期 {day} 早于受理日期 {accepted_on}")
        if day > local_date(at):
            raise InvalidInput(f"日期 {day} 晚于今天，不能预先登记")

    def _open_stage(
        self,
        stage_type: StageType,
        *,
        start_on: date,
        reason: str,
        legal_basis: str,
        expected_days: int | None,
        at: datetime,
        actor: str,
        approved_by: str | None = None,
        backdated: bool = False,
    ) -> str:
        stage = Stage(
            id=str(uuid.uuid4()),
            type=stage_type,
            start_on=start_on,
            reason=reason,
            legal_basis=legal_basis,
            opened_by=actor,
            opened_at=at,
            expected_days=expected_days,
            limit=self.matter.stage_limits.get(stage_type),
            approved_by=approved_by,
        )
        self.stages.append(stage)
        self.state = CaseState.IN_REVIEW
        self._record(
            ev.StageOpened(
                occurred_at=at,
                actor=actor,
                stage_id=stage.id,
                stage_type=stage_type.value,
                start_on=start_on,
                reason=reason,
                legal_basis=legal_basis,
                expected_days=expected_days,
                approved_by=approved_by,
                backdated=backdated,
            )
        )
        return stage.id

    def _close_stage(self, stage_id: str, *, end_on: date, at: datetime, actor: str) -> None:
        for index, stage in enumerate(self.stages):
            if stage.id == stage_id:
                closed = replace(stage, end_on=end_on, closed_by=actor, closed_at=at)
                self.stages[index] = closed
                self._record(
                    ev.StageClosed(
                        occurred_at=at,
                        actor=actor,
                        stage_id=stage_id,
                        stage_type=stage.type.value,
                        start_on=stage.start_on,
                        end_on=end_on,
                    )
                )
                return
        raise InvalidInput(f"没有编号为 {stage_id} 的特殊环节")


def _text(value: str, what: str) -> str:
    clean = (value or "").strip()
    if not clean:
        raise InvalidInput(f"{what}不能为空")
    if len(clean) > 2000:
        raise InvalidInput(f"{what}过长（最多 2000 字）")
    return clean


def _mode_zh(mode: Mode) -> str:
    return MODE_ZH[mode.value]


def _stage_zh(stage_type: StageType) -> str:
    return STAGE_TYPE_ZH[stage_type.value]
