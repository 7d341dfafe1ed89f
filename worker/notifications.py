"""The notifications consumer group: the SMS of each step, to the applicant and to the staff.

Who gets what is one table, :data:`PLANS`: per event type, the SMS to send (template, parameters)
and to whom — the applicant (their phone on the case), the staff of an office with given roles (the
users whose scope covers that office and who have a phone), or one named user (the lead a case was
copied to).

Exactly one SMS per event and recipient, whatever the redeliveries: in the inbox transaction the
handler writes one ``notifications`` row per (event, recipient, template) — unique — in state
``created``, with our own reference and without the tracking link (recomputed from the case when
sending); after the commit it claims each row (``created`` → ``sending``, conditional) and only then
calls the provider (adapters/sms/dispatch.py). A batch of packages handed over together gives each
receiving clerk one SMS for the batch, not one per package.

No SMS stays in limbo. The sweeper (:meth:`Notifier.sweep`, at start and every
``HANDOFF_SMS_SWEEP_SECONDS``) sends rows still ``created`` after a grace (a crash right after the
commit), each claimed first so that two sweepers never send one twice; and settles ``sending`` rows
whose provider call was cut off (a crash or a timeout: no provider id) by asking the provider
(Alibaba QuerySendDetails, Tencent PullSmsSendStatusByPhoneNumber, by our reference) what became of
them. Such a row is never sent again automatically — a second SMS is worse than a missing one:
when the provider cannot tell, it becomes ``technical_failure``, shown on the case and in the
staff's queue (``GET /api/v1/sms/failed``), where a clerk can resend it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.broker.bus import Incoming, Park
from adapters.db import domain_tables as t
from adapters.db import notifications as notification_rows
from adapters.db.tables import inbox
from adapters.sms.dispatch import CountedSms, SmsCounter, SmsDispatch
from handoff.access import Role, Scope
from handoff.clock import StagePeriod, read_clock
from handoff.codes import PackageCode
from handoff.errors import DomainError, InvalidInput
from handoff.labels_zh import STAGE_TYPE_ZH
from handoff.package import APPLICANT, Direction
from handoff.ports import Calendar, ProviderError, SmsStatus, SmsStatusQuery
from handoff.timeutil import local_date
from worker.consumer import envelope_of

log = logging.getLogger("handoff.notifications")
ORDER_PATIENCE_SECONDS = 3.0
"""How long a new SMS waits for an earlier one of its case and recipient still unsettled (being
sent by another process) before it is left to the sweeper, which sends them oldest first."""
CONSUMER = "notifications"
BATCH_NAMESPACE = uuid.UUID("6f1c2d9e-6a57-4c1e-9a43-2b0c7c5e8d11")


# =========================================================================== who, and what


@dataclass(frozen=True)
class Applicant:
    pass


@dataclass(frozen=True)
class StaffOf:
    """The users with one of ``roles`` whose scope covers ``office_id`` (and who have a phone)."""

    office_id: str
    roles: tuple[Role, ...]


@dataclass(frozen=True)
class User:
    user_id: str


Audience = Applicant | StaffOf | User
APPLICANT_ = Applicant()


@dataclass(frozen=True)
class Planned:
    template: str
    to: Audience
    params: dict[str, str] = field(default_factory=dict)
    key: str | None = None
    """Deduplication key in place of the event id: one SMS per key and recipient."""


@dataclass(frozen=True)
class PackageFacts:
    direction: str
    from_office: str | None
    to_office: str | None
    to_applicant: bool
    carrier: str | None
    code: str


@dataclass(frozen=True)
class Facts:
    """What the planners may read besides the event: the case and, for package events, the package."""

    phone: str
    case_no: str
    delivery: str
    window_office_id: str
    department_office_id: str
    offices: Mapping[str, str]
    """office id → name (the window and the department of the case)."""
    accepted_on: date | None
    limit: int
    extensions: tuple[tuple[int, datetime], ...]
    """(days, granted at) of each extension."""
    stages: tuple[tuple[StagePeriod, datetime, datetime | None], ...]
    """(period, opened at, closed at) of each special stage."""
    today: date
    package: PackageFacts | None = None
    result_carrier: str | None = None
    """The carrier of the case's result package, when there is one."""
    batch_count: int = 1
    """For a package handed over in a batch: how many of the batch go to the same party."""


Planner = Callable[[Mapping[str, Any], Facts, Calendar], list[Planned]]

DEPT_CLERKS = (Role.DEPT_CLERK,)
WINDOW_CLERKS = (Role.WINDOW_CLERK,)


def _due(envelope: Mapping[str, Any], facts: Facts, calendar: Calendar) -> str:
    """The due date as the clock had it when the event happened (stages opened by then excluded,
    extensions granted by then added) — not as it is when the SMS goes out, which may be later."""
    if facts.accepted_on is None:
        return ""
    at = datetime.fromisoformat(str(envelope["occurred_at"]))
    stages = [
        StagePeriod(type=s.type, start=s.start, end=s.end if closed is not None and closed <= at else None)
        for s, opened, closed in facts.stages
        if opened <= at
    ]
    reading = read_clock(
        calendar,
        accepted_on=facts.accepted_on,
        limit=facts.limit,
        at=max(local_date(at), facts.accepted_on),
        stages=stages,
        extensions=[days for days, granted in facts.extensions if granted <= at],
    )
    return reading.due_date.isoformat()


def _stage(envelope: Mapping[str, Any]) -> str:
    return STAGE_TYPE_ZH.get(str(_data(envelope).get("stage_type", "")), "特殊环节")


def _data(envelope: Mapping[str, Any]) -> Mapping[str, Any]:
    data = envelope.get("data")
    return data if isinstance(data, Mapping) else {}


def _staff_of_office(office_id: str, facts: Facts) -> StaffOf:
    roles = DEPT_CLERKS if office_id == facts.department_office_id else WINDOW_CLERKS
    return StaffOf(office_id, roles)


def _applicant(template: str, **params: str) -> list[Planned]:
    return [Planned(template, APPLICANT_, dict(params))]


def _staff_action(office_id: str | None, facts: Facts, action: str) -> list[Planned]:
    if office_id is None:
        return []
    return [Planned("action_needed", _staff_of_office(office_id, facts), {"case_no": facts.case_no, "action": action})]


def _on_result_shipped(e: Mapping[str, Any], f: Facts, c: Calendar) -> list[Planned]:
    if f.delivery == "mail_to_applicant":
        if f.result_carrier in (None, "internal"):
            # our own courier carries it: the package code is the number to quote
            return _applicant("result_shipped", waybill=f.package.code if f.package else "")
        return []  # a carrier's waybill comes with package.booked
    return []


def _on_booked(e: Mapping[str, Any], f: Facts, c: Calendar) -> list[Planned]:
    p = f.package
    if p is None or p.direction != Direction.RESULT.value or not p.to_applicant:
        return []
    return _applicant("result_shipped", waybill=str(_data(e).get("waybill", "")))


def _on_left(e: Mapping[str, Any], f: Facts, c: Calendar) -> list[Planned]:
    """A package left its sender (picked up by a courier, or pushed electronically)."""
    p = f.package
    if p is None:
        return []
    planned: list[Planned] = []
    if p.direction == Direction.OUTBOUND.value:
        planned += _applicant("pushed" if e.get("type") == "package.pushed" else "forwarded")
    if p.to_office is not None:
        manifest = _data(e).get("manifest_id")
        key = str(uuid.uuid5(BATCH_NAMESPACE, f"{manifest}:{p.to_office}")) if manifest else None
        count = str(f.batch_count)
        planned.append(
            Planned(
                "incoming_package",
                _staff_of_office(p.to_office, f),
                {"count": count, "office": f.offices.get(p.to_office, "本单位")},
                key=key,
            )
        )
    return planned


def _on_signed(e: Mapping[str, Any], f: Facts, c: Calendar) -> list[Planned]:
    p = f.package
    if p is None:
        return []
    planned: list[Planned] = []
    if int(_data(e).get("discrepancies", 0) or 0) > 0:
        planned += _staff_action(p.from_office, f, "核对材料差异")
    return planned


def _on_package_trouble(action: str) -> Planner:
    def plan(e: Mapping[str, Any], f: Facts, c: Calendar) -> list[Planned]:
        return _staff_action(f.package.from_office if f.package else None, f, action)

    return plan


def _materials(envelope: Mapping[str, Any], budget: int = 20) -> str:
    """The 容缺 materials an SMS names: all of them when they fit, else the first and a count."""
    names = [str(n) for n in _data(envelope).get("materials", [])]
    joined = "、".join(names)
    if len(joined) <= budget or len(names) <= 1:
        return joined
    return f"{names[0]}等{len(names)}项"


def _on_stage_opened(e: Mapping[str, Any], f: Facts, c: Calendar) -> list[Planned]:
    if _data(e).get("stage_type") == "supplement":
        return []  # the supplement request's own SMS says it (with its due date)
    return _applicant("stage_opened", stage=_stage(e))


PLANS: dict[str, Planner] = {
    # the applicant's steps
    "case.collected": lambda e, f, c: _applicant("receipt"),
    "case.received": lambda e, f, c: _applicant("signed"),
    "case.accepted": lambda e, f, c: _applicant("accepted", due=_due(e, f, c)),
    "case.supplement_requested": lambda e, f, c: _applicant("supplement_requested", due=str(_data(e)["due_on"])),
    "case.closed_unsupplemented": lambda e, f, c: _applicant("closed_unsupplemented"),
    "case.rejected": lambda e, f, c: _applicant("rejected"),
    "stage.opened": _on_stage_opened,
    "stage.closed": lambda e, f, c: _applicant("stage_closed", stage=_stage(e)),
    "case.extended": lambda e, f, c: _applicant("extended", due=_due(e, f, c)),
    "case.decided": lambda e, f, c: _applicant("decided"),
    "case.result_shipped": _on_result_shipped,
    "case.ready_for_pickup": lambda e, f, c: _applicant(
        "ready_for_pickup", place=f.offices.get(str(_data(e)["office_id"]), "领取地点")
    ),
    "package.booked": _on_booked,
    "case.delivered": lambda e, f, c: [
        *_applicant("result_electronic" if f.delivery == "electronic" else "delivered"),
        *_applicant("rating_request"),
    ],
    "case.pickup_registered": lambda e, f, c: [*_applicant("delivered"), *_applicant("rating_request")],
    # packages on the move: the applicant, and the clerks who will receive them
    "package.picked_up": _on_left,
    "package.pushed": _on_left,
    "package.signed": _on_signed,
    "package.exception": _on_package_trouble("处理材料包异常"),
    "package.stalled": _on_package_trouble("追查滞留材料包"),
    # the staff's work and deadlines
    "case.copied_to_lead": lambda e, f, c: [
        Planned("action_needed", User(str(_data(e)["lead"])), {"case_no": f.case_no, "action": "阅示办件"})
    ],
    "case.forwarding_overdue": lambda e, f, c: _staff_action(f.window_office_id, f, "逾期未转报"),
    "case.deadline_near": lambda e, f, c: [
        Planned(
            "deadline_warning",
            StaffOf(f.department_office_id, DEPT_CLERKS),
            {"case_no": f.case_no, "due": str(_data(e)["due_on"]), "days": str(_data(e)["remaining"])},
        )
    ],
    "case.overdue": lambda e, f, c: [
        Planned(
            "overdue",
            StaffOf(f.department_office_id, (Role.DEPT_CLERK, Role.DEPT_LEAD)),
            {"case_no": f.case_no, "days": str(int(_data(e)["used"]) - int(_data(e)["promised"]))},
        )
    ],
    # the watched duties (DESIGN §5): the legal limit, 预审, 容缺 IOUs, the stages' own limits
    "case.legal_overdue": lambda e, f, c: [
        Planned(
            "action_needed",
            StaffOf(f.department_office_id, (Role.DEPT_CLERK, Role.DEPT_LEAD)),
            {"case_no": f.case_no, "action": "已超法定期限"},
        )
    ],
    "case.prereview_overdue": lambda e, f, c: _staff_action(f.department_office_id, f, "预审已超时限"),
    "case.iou_due_soon": lambda e, f, c: _applicant(
        "iou_reminder", due=str(_data(e)["due_on"]), material=_materials(e)
    ),
    "case.iou_overdue": lambda e, f, c: _staff_action(f.window_office_id, f, "催交容缺材料"),
    "stage.limit_reached": lambda e, f, c: _staff_action(f.department_office_id, f, f"{_stage(e)}已达时限"),
    # the supervisor's follow-up: a bad rating's 整改 and a 督办, to the department's lead
    "case.rated": lambda e, f, c: (
        [
            Planned(
                "action_needed",
                StaffOf(f.department_office_id, (Role.DEPT_LEAD,)),
                {"case_no": f.case_no, "action": f"差评整改，{_data(e)['rectify_due_on']}前答复"},
            )
        ]
        if _data(e).get("rectify_due_on")
        else []
    ),
    "case.supervised": lambda e, f, c: [
        Planned(
            "action_needed",
            StaffOf(f.department_office_id, (Role.DEPT_LEAD,)),
            {"case_no": f.case_no, "action": "督办，请及时办理并答复"},
        )
    ],
}


# =========================================================================== the consumer


@dataclass(frozen=True)
class Recipient:
    phone: str
    audience: str
    user_id: str | None = None


@dataclass(frozen=True)
class SweepSettings:
    """The sweeper of SMS left in limbo (``HANDOFF_SMS_*``, adapters/settings.py)."""

    interval: float = 60.0
    """Seconds between two sweeps."""
    created_grace: timedelta = timedelta(minutes=2)
    """A row still ``created`` this long after its commit lost its sender (a crash): send it."""
    sending_grace: timedelta = timedelta(minutes=10)
    """A ``sending`` row without a provider id this long: its call was cut off; ask the provider."""
    give_up: timedelta = timedelta(hours=24)
    """A provider that cannot be asked for this long: the outcome stays unknown (technical_failure)."""
    batch: int = 100


UNKNOWN_NO_RECORD = "发送结果无法确认：服务商查无此短信记录（发送中断），未自动重发，请核实后人工重发"
UNKNOWN_NO_QUERY = "发送结果无法确认：该服务商不能查询发送结果（发送中断），未自动重发，请核实后人工重发"
UNKNOWN_UNREACHABLE = "发送结果无法确认：长时间无法向服务商查询（发送中断），未自动重发，请核实后人工重发"


class Notifier:
    """The ``notifications`` consumer group (a :class:`worker.group.Worker`), and its sweeper.

    Messages that arrive together (:meth:`handle_batch`) are planned and written in one
    transaction, and their SMS are then sent case by case — each case's one after another, in
    order, and up to ``concurrency`` cases at once in the process: a provider's answer takes tens to
    hundreds of milliseconds, and the cases need not wait for each other's. (Each send holds a
    database connection a moment to claim its row and record the answer: with the consumer's
    lanes, the default keeps well within the pool of ``make_engine``.)"""

    def __init__(
        self,
        engine: AsyncEngine,
        sender: Any,
        calendar: Callable[[], Calendar],
        tracking_url: Callable[[str], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        counter: SmsCounter | None = None,
        staff_ttl: float = 60.0,
        queries: Mapping[str, SmsStatusQuery] | None = None,
        sweep: SweepSettings | None = None,
        concurrency: int = 6,
    ) -> None:
        self.engine = engine
        self._sending = asyncio.Semaphore(concurrency)
        self.calendar = calendar
        self.clock = clock
        self.counter: SmsCounter = counter or CountedSms()
        self.dispatch = SmsDispatch(engine, sender, tracking_url, clock, self.counter)
        self.queries: Mapping[str, SmsStatusQuery] = queries or {}
        self.sweep_settings = sweep or SweepSettings()
        self.interval: float | None = self.sweep_settings.interval
        self.staff_ttl = staff_ttl
        self._staff: list[tuple[str, Role, Scope, str]] = []
        self._staff_at = -1.0

    # The Worker protocol (worker/group.py): at start and every ``interval``, sweep.

    async def recover(self) -> None:
        """At start, whatever a crash left ``created`` is sent at once, without waiting for the
        grace: the claim keeps a live process that still holds one of them from sending it too."""
        await self.send_leftovers(grace=timedelta(0))
        await self.resolve_cut_off()

    async def tick(self) -> None:
        await self.sweep()

    async def handle(self, message: Incoming) -> None:
        await self.handle_batch([message])

    async def handle_batch(self, messages: Sequence[Incoming]) -> None:
        """Plan and write the SMS of every message in one transaction (each message once: the
        inbox), then send them: per case in order, different cases at once (at most
        ``concurrency`` in the process). A message that cannot be planned parks the whole batch's
        transaction (the consumer then takes the messages one by one). A send that fails after the
        commit leaves its row to the sweeper, as with one message."""
        staff = await self._staff_directory()
        written: dict[str, list[dict[str, Any]]] = {}
        async with self.engine.begin() as conn:
            regions: dict[str, str] | None = None
            at: datetime | None = None
            for message in messages:
                envelope: Mapping[str, Any] = envelope_of(message)
                planner = PLANS.get(str(envelope.get("type")))
                case_id = envelope.get("case_id")
                if planner is None or not case_id:
                    continue
                if not await _first_delivery(conn, message.message_id):
                    continue
                facts = await _facts(conn, str(case_id), envelope.get("package_id"), local_date(self.clock()))
                if facts is None:
                    raise Park(f"case {case_id} not found")
                manifest_id = _data(envelope).get("manifest_id")
                if manifest_id and envelope.get("package_id"):
                    facts = replace(
                        facts, batch_count=await _batch_count(conn, str(manifest_id), str(envelope["package_id"]))
                    )
                try:
                    planned = planner(envelope, facts, self.calendar())
                except (KeyError, ValueError, InvalidInput) as exc:
                    raise Park(f"cannot plan SMS for {envelope.get('type')}: {exc!r}") from exc
                if regions is None:
                    regions = await _office_regions(conn)
                rows, at = await self._write(conn, envelope, str(case_id), facts, planned, staff, regions, after=at)
                written.setdefault(str(case_id), []).extend(rows)
        if len(written) == 1:
            [rows] = written.values()
            await self._send_in_order(rows)
        elif written:
            await asyncio.gather(*(self._send_in_order(rows) for rows in written.values()))

    async def _send_in_order(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """One case's new rows, one after another; a recipient with an earlier SMS of the case
        still unsettled (being sent by another process) is left to the sweeper, which sends them
        oldest first."""
        left: set[str] = set()
        async with self._sending:
            for row in rows:
                if row["recipient"] in left or await self._waits_behind(row, patience=ORDER_PATIENCE_SECONDS):
                    left.add(str(row["recipient"]))  # still ``created``: the sweeper sends it after its predecessor
                    continue
                await self.dispatch.send(row)

    async def _waits_behind(self, row: Mapping[str, Any], patience: float = 0.0) -> bool:
        """Whether an earlier SMS of the case to this recipient is still unsettled after waiting
        up to ``patience`` seconds (another process may be sending it this very moment)."""
        deadline = time.monotonic() + patience
        while True:
            async with self.engine.connect() as conn:
                if not await notification_rows.waits_behind(conn, row):
                    return False
            if time.monotonic() >= deadline:
                return True
            await asyncio.sleep(0.1)

    async def _write(
        self,
        conn: AsyncConnection,
        envelope: Mapping[str, Any],
        case_id: str,
        facts: Facts,
        planned: Sequence[Planned],
        staff: Sequence[tuple[str, Role, Scope, str]],
        regions: Mapping[str, str],
        after: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], datetime]:
        """One ``created`` row per SMS, its parameters without the tracking link (recomputed from
        the case when sending: a link is a bearer secret, never kept at rest); and the time of the
        last. Rows are timed after ``after`` (the rows of the batch's earlier messages)."""
        now = self.clock()
        if after is not None and now <= after:
            now = after
        written = []
        for item in planned:
            for recipient in _recipients(item.to, facts, staff, regions):
                now += timedelta(microseconds=1)  # the rows of one event in their planned order
                row = {
                    "id": str(uuid.uuid4()),
                    "event_id": item.key or str(envelope["id"]),
                    "case_id": case_id,
                    "recipient": recipient.phone,
                    "audience": recipient.audience,
                    "user_id": recipient.user_id,
                    "template_key": item.template,
                    "params": notification_rows.storable(item.params),
                    "status": SmsStatus.CREATED.value,
                    "reason": "",
                    "reference": notification_rows.new_reference(),
                    "created_at": now,
                    "updated_at": now,
                }
                if await notification_rows.insert(conn, row):
                    written.append(row)
        return written, now

    # ----------------------------------------------------------------------- the sweeper

    async def sweep(self) -> tuple[int, int]:
        """(rows left ``created`` now sent, cut-off ``sending`` rows settled). Safe with any number
        of sweepers at once: every row is claimed by a conditional update before anything is done."""
        return await self.send_leftovers(), await self.resolve_cut_off()

    async def send_leftovers(self, grace: timedelta | None = None) -> int:
        """Send the rows left ``created`` for longer than the grace (a crash between the commit and
        the send), each exactly once whoever else sweeps."""
        before = self.clock() - (self.sweep_settings.created_grace if grace is None else grace)
        async with self.engine.connect() as conn:
            leftovers = await notification_rows.created_before(conn, before, self.sweep_settings.batch)
        sent = 0
        for row in leftovers:  # oldest first: a predecessor is sent before the row behind it
            if await self._waits_behind(row):
                continue  # its predecessor was cut off: it goes once that one is settled
            status = await self.dispatch.send(row)
            if status is not None:
                sent += 1
                self.counter.swept(status)
                log.info(
                    "sms left created was sent",
                    extra={"case_id": row["case_id"], "notification": row["id"], "status": status},
                )
        return sent

    async def resolve_cut_off(self) -> int:
        """Settle the ``sending`` rows whose provider call was cut off by asking the provider what
        became of the SMS (by our reference). Never sends again: when the provider cannot tell, the
        row becomes ``technical_failure`` for a person to resend. One the provider took but has no
        final word on yet stays ``sending`` (its id recorded when the provider gives one, so that
        the delivery report finds it; otherwise it is asked again a grace later)."""
        settings = self.sweep_settings
        before = self.clock() - settings.sending_grace
        async with self.engine.connect() as conn:
            stuck = await notification_rows.cut_off_before(conn, before, settings.batch)
        settled = 0
        for row in stuck:
            async with self.engine.begin() as conn:
                if not await notification_rows.take_for_resolution(conn, row, self.clock()):
                    continue
            values = await self._ask_providers(row)
            if values is None:
                continue
            async with self.engine.begin() as conn:
                done = await notification_rows.resolve(conn, str(row["id"]), values, self.clock())
            if done:
                settled += 1
                self.counter.resolved(str(values["status"]))
                log.info(
                    "sms cut off was resolved",
                    extra={"case_id": row["case_id"], "notification": row["id"], "status": values["status"]},
                )
        return settled

    async def _ask_providers(self, row: Mapping[str, Any]) -> dict[str, Any] | None:
        """The new values of a cut-off row, or None to ask again at the next sweep."""
        provider = row.get("provider")
        if provider:
            asked = {provider: self.queries[provider]} if provider in self.queries else {}
        else:  # the process died during the call: it may have gone to any provider
            asked = dict(self.queries)
        reference = str(row.get("reference") or "")
        if not asked or not reference:
            return _unknown(UNKNOWN_NO_QUERY)
        claimed = row.get("claimed_at") or row["created_at"]
        unreachable: list[str] = []
        for name, query in asked.items():
            try:
                found = await query.query(str(row["recipient"]), reference, claimed - timedelta(minutes=1))
            except ProviderError as exc:
                unreachable.append(f"{name}: {exc.raw_code} {exc.reason}")
                continue
            if found is not None:
                values: dict[str, Any] = {
                    "status": found.status.value,
                    "provider": found.provider,
                    "reason": f"{found.raw_code} {found.reason}（向服务商核实）".strip(),
                }
                if found.message_id:
                    values["provider_message_id"] = found.message_id
                return values
        if unreachable:
            if self.clock() - claimed < self.sweep_settings.give_up:
                log.warning(
                    "sms provider could not be asked; asking again later",
                    extra={"case_id": row["case_id"], "notification": row["id"], "errors": "; ".join(unreachable)},
                )
                return None
            return _unknown(UNKNOWN_UNREACHABLE)
        return _unknown(UNKNOWN_NO_RECORD)

    async def _staff_directory(self) -> list[tuple[str, Role, Scope, str]]:
        """(user id, role, scope, phone) of the staff who have a phone; read at most every minute."""
        now = time.monotonic()
        if self._staff_at < 0 or now - self._staff_at > self.staff_ttl:
            async with self.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(t.users.c.id, t.users.c.role, t.users.c.scope, t.users.c.phone).where(
                            t.users.c.phone != ""
                        )
                    )
                ).all()
            directory = []
            for user_id, role, scope, phone in rows:
                try:
                    directory.append((user_id, Role(role), Scope.parse(scope), phone))
                except (ValueError, InvalidInput):
                    log.warning("user with an unreadable role or scope skipped", extra={"user_id": user_id})
            self._staff, self._staff_at = directory, now
        return self._staff


def _unknown(reason: str) -> dict[str, Any]:
    return {"status": SmsStatus.TECHNICAL_FAILURE.value, "reason": reason}


def _recipients(
    to: Audience, facts: Facts, staff: Sequence[tuple[str, Role, Scope, str]], regions: Mapping[str, str]
) -> list[Recipient]:
    if isinstance(to, Applicant):
        return [Recipient(facts.phone, "applicant")]
    if isinstance(to, User):
        return [Recipient(phone, "staff", user_id) for user_id, _, _, phone in staff if user_id == to.user_id]
    region = regions.get(to.office_id, "")
    return [
        Recipient(phone, "staff", user_id)
        for user_id, role, scope, phone in staff
        if role in to.roles and not scope.everything and scope.covers_office(to.office_id, region)
    ]


async def _first_delivery(conn: AsyncConnection, message_id: str) -> bool:
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    done = await conn.execute(
        dialect_insert(inbox)
        .values(message_id=message_id, consumer=CONSUMER, handled_at=datetime.now(UTC))
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )
    return done.first() is not None


async def _office_regions(conn: AsyncConnection) -> dict[str, str]:
    return {r[0]: r[1] for r in await conn.execute(select(t.offices.c.id, t.offices.c.region_code))}


async def _batch_count(conn: AsyncConnection, manifest_id: str, package_id: str) -> int:
    """For a batch hand-over: how many of the batch's packages go where this one goes."""
    this = t.packages.alias("this")
    count = (
        await conn.execute(
            select(func.count())
            .select_from(t.manifest_packages)
            .join(t.packages, t.packages.c.id == t.manifest_packages.c.package_id)
            .join(this, this.c.id == package_id)
            .where(t.manifest_packages.c.manifest_id == manifest_id, t.packages.c.to_party == this.c.to_party)
        )
    ).scalar_one()
    return max(int(count), 1)


def _office_of(party: str) -> str | None:
    return party.split(":", 1)[1] if party.startswith("office:") else None


async def _facts(conn: AsyncConnection, case_id: str, package_id: Any, today: date) -> Facts | None:
    row = (
        await conn.execute(
            select(
                t.cases.c.applicant_phone,
                t.cases.c.case_no,
                t.cases.c.delivery,
                t.cases.c.window_office_id,
                t.cases.c.department_office_id,
                t.cases.c.accepted_at,
                t.cases.c.matter_terms,
                t.cases.c.result_package_id,
            ).where(t.cases.c.id == case_id)
        )
    ).first()
    if row is None:
        return None
    phone, case_no, delivery, window, department, accepted_at, terms, result_package_id = row
    offices = {
        r[0]: r[1]
        for r in await conn.execute(
            select(t.offices.c.id, t.offices.c.name).where(t.offices.c.id.in_([window, department]))
        )
    }
    extensions = (
        await conn.execute(
            select(t.case_extensions.c.days, t.case_extensions.c.at).where(t.case_extensions.c.case_id == case_id)
        )
    ).all()
    stages = (
        await conn.execute(
            select(
                t.case_stages.c.type,
                t.case_stages.c.start_on,
                t.case_stages.c.end_on,
                t.case_stages.c.opened_at,
                t.case_stages.c.closed_at,
            ).where(t.case_stages.c.case_id == case_id)
        )
    ).all()
    package = None
    wanted = package_id or result_package_id
    result_carrier = None
    if wanted:
        p = (
            await conn.execute(
                select(
                    t.packages.c.id,
                    t.packages.c.direction,
                    t.packages.c.from_party,
                    t.packages.c.to_party,
                    t.packages.c.carrier,
                    t.packages.c.code,
                ).where(t.packages.c.id == str(wanted))
            )
        ).first()
        if p is not None:
            package = PackageFacts(
                direction=p[1],
                from_office=_office_of(p[2]),
                to_office=_office_of(p[3]),
                to_applicant=p[3] == APPLICANT,
                carrier=p[4],
                code=_readable_code(p[5]),
            )
            if p[0] == result_package_id:
                result_carrier = p[4]
    return Facts(
        phone=phone,
        case_no=case_no or "",
        delivery=delivery,
        window_office_id=window,
        department_office_id=department,
        offices=offices,
        accepted_on=local_date(accepted_at) if accepted_at else None,
        limit=int(terms["promised_limit"]),
        extensions=tuple((days, at) for days, at in extensions),
        stages=tuple(
            (StagePeriod(type=kind, start=start, end=end), opened, closed)
            for kind, start, end, opened, closed in stages
        ),
        today=today,
        package=package,
        result_carrier=result_carrier,
    )


def _readable_code(compact: str) -> str:
    try:
        return str(PackageCode.parse(compact))
    except DomainError:
        return compact
