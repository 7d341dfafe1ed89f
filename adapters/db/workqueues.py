"""The console's work queues (待办) and the case archive's search (办件档案), read side.

待办: every section of a role's queue is one branch of a single ``UNION ALL`` statement; each
branch reads its own few rows (``LIMIT`` in SQL, from its own index) and its full count (a window
count computed before the limit), within the caller's offices. Rows have one shape (section, case,
package, matter, due date, time, total) whatever the section.

办件档案: cases by 受理编号, package code, the applicant's name, phone or keyed ID-number hash,
matter, state and collection dates, newest first, keyset-paged on (collected_at, id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from adapters.db import domain_tables as t
from adapters.db.domain_tables import MOVING_STATES
from adapters.db.reports import Scope, on_their_way, scope_offices
from adapters.db.types import UtcDateTime
from adapters.db.worker_tables import case_clocks
from handoff.timeutil import CHINA

ON_THE_WAY = ("with_courier", "in_transit")
TO_SIGN = ("arrived", "pushed")
IN_HAND = ("with_courier", "in_transit")
BAD_SCORE = 2
"""A rating at or below is a 差评 (adapters/db/dashboard.py)."""
DUE_SOON_DAYS = 3
"""Working days left at which a case shows among 即将到期 on the department's queue."""


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    statement: Any


def _cols(
    section: str,
    *,
    case_id: Any,
    case_no: Any,
    matter: Any,
    state: Any,
    applicant: Any,
    package_id: Any = None,
    package_code: Any = None,
    due_on: Any = None,
    at: Any = None,
    note: Any = None,
    order: Sequence[Any] = (),
) -> list[Any]:
    def typed(value: Any, kind: Any, name: str) -> Any:
        return (cast(null(), kind) if value is None else value).label(name)

    return [
        literal(section, String).label("section"),
        case_id.label("case_id"),
        func.coalesce(case_no, "").label("case_no"),
        typed(package_id, String, "package_id"),
        typed(package_code, String, "package_code"),
        matter.label("matter_name"),
        state.label("state"),
        applicant.label("applicant_name"),
        typed(due_on, Date, "due_on"),
        typed(at, UtcDateTime, "at"),
        (note if note is not None else literal("", String)).label("note"),
        func.count().over().label("total"),
        func.row_number().over(order_by=list(order)).label("n"),
    ]


def _in(column: Any, values: Sequence[str] | None) -> ColumnElement[bool] | None:
    if values is None:
        return None
    return column.in_(list(values)) if values else literal(False)


def _where(*conditions: ColumnElement[bool] | None) -> list[ColumnElement[bool]]:
    return [c for c in conditions if c is not None]


def _matter() -> Any:
    return t.cases.c.matter_terms["name"].as_string()


def _case_branch(section: str, state: str, office_column: Any, offices: Sequence[str] | None, order: Any) -> Any:
    c = t.cases.c
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=c.state,
                applicant=c.applicant_name,
                at=order,
                order=[order, c.id],
            )
        )
        .where(*_where(c.state == state, _in(office_column, offices)))
        .order_by(*[order, c.id])
    )


def _package_branch(
    section: str, party: Any, parties: Sequence[str] | None, states: Sequence[str], **extra: Any
) -> Any:
    p, c = t.packages.c, t.cases.c
    direction = extra.pop("direction", None)
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=p.state,
                applicant=c.applicant_name,
                package_id=p.id,
                package_code=p.code,
                at=p.last_movement_at,
                note=p.purpose,
                order=[p.last_movement_at, p.id],
            )
        )
        .select_from(t.packages.join(t.cases, c.id == p.case_id))
        .where(*_where(p.state.in_(list(states)), _in(party, parties), p.direction == direction if direction else None))
        .order_by(*[p.last_movement_at, p.id])
    )


def _supplements(section: str, office_column: Any, offices: Sequence[str] | None) -> Any:
    s, c = t.case_supplements.c, t.cases.c
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=c.state,
                applicant=c.applicant_name,
                due_on=s.due_on,
                at=s.requested_at,
                note=s.reason,
                order=[s.due_on, s.case_id],
            )
        )
        .select_from(t.case_supplements.join(t.cases, c.id == s.case_id))
        .where(*_where(s.supplied_at.is_(None), _in(office_column, offices), c.state.not_in(TERMINAL_STATES)))
        .order_by(*[s.due_on, s.case_id])
    )


def _ious(section: str, offices: Sequence[str] | None) -> Any:
    i, c = t.case_ious.c, t.cases.c
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=c.state,
                applicant=c.applicant_name,
                due_on=i.due_on,
                note=i.material,
                order=[i.due_on, i.case_id, i.seq],
            )
        )
        .select_from(t.case_ious.join(t.cases, c.id == i.case_id))
        .where(*_where(i.fulfilled_at.is_(None), _in(c.window_office_id, offices), c.state.not_in(TERMINAL_STATES)))
        .order_by(*[i.due_on, i.case_id, i.seq])
    )


def _stages(section: str, offices: Sequence[str] | None) -> Any:
    s, c = t.case_stages.c, t.cases.c
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=c.state,
                applicant=c.applicant_name,
                due_on=s.start_on,
                at=s.opened_at,
                note=s.type,
                order=[s.start_on, s.case_id, s.seq],
            )
        )
        .select_from(t.case_stages.join(t.cases, c.id == s.case_id))
        .where(*_where(s.end_on.is_(None), _in(c.department_office_id, offices)))
        .order_by(*[s.start_on, s.case_id, s.seq])
    )


def _clock_branch(
    section: str, offices: Sequence[str] | None, *conditions: ColumnElement[bool], due: Any, rank: Any
) -> Any:
    """The watched clocks matching ``conditions``, by the due date ``due`` — ordered by its working-
    day ``rank`` (the same order; the key of the deadline boards' indexes)."""
    k, c = case_clocks.c, t.cases.c
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=c.state,
                applicant=c.applicant_name,
                due_on=due,
                note=func.coalesce(k.remaining, 0).cast(String),
                order=[rank, k.case_id],
            )
        )
        .select_from(case_clocks.join(t.cases, c.id == k.case_id))
        .where(k.watching.is_(True), *conditions, *_where(_in(k.department_office_id, offices)))
        .order_by(*[rank, k.case_id])
    )


def _prereview(section: str, offices: Sequence[str] | None) -> Any:
    c, k = t.cases.c, case_clocks.c
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=c.state,
                applicant=c.applicant_name,
                due_on=k.prereview_due_on,
                at=c.received_at,
                order=[c.received_at, c.id],
            )
        )
        .select_from(t.cases.outerjoin(case_clocks, k.case_id == c.id))
        .where(*_where(c.state == "received", _in(c.department_office_id, offices)))
        .order_by(*[c.received_at, c.id])
    )


def _copies(section: str, lead: str, remarked: bool, offices: Sequence[str] | None) -> Any:
    lc, c = t.case_lead_copies.c, t.cases.c
    order = lc.remarked_at.desc() if remarked else lc.copied_at
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=c.state,
                applicant=c.applicant_name,
                at=lc.remarked_at if remarked else lc.copied_at,
                note=lc.remark if remarked else lc.note,
                order=[order, lc.case_id, lc.seq],
            )
        )
        .select_from(t.case_lead_copies.join(t.cases, c.id == lc.case_id))
        .where(
            lc.lead == lead,
            lc.remarked_at.is_not(None) if remarked else lc.remarked_at.is_(None),
            *_where(
                (
                    or_(c.window_office_id.in_(offices), c.department_office_id.in_(offices))
                    if offices
                    else literal(False)
                )
                if offices is not None
                else None
            ),
        )
        .order_by(*[order, lc.case_id, lc.seq])
    )


def _courier_branch(section: str, where: Sequence[ColumnElement[bool]], order: Any, *, reported: bool = False) -> Any:
    """A courier's packages (to pick up, in hand) or its 送达 reports of the day (``reported``)."""
    p, c, ce = t.packages.c, t.cases.c, t.custody_events.c
    at = ce.server_time if reported else p.last_movement_at
    source = t.packages.join(t.cases, c.id == p.case_id)
    if reported:
        source = t.custody_events.join(t.packages, p.id == ce.package_id).join(t.cases, c.id == p.case_id)
    keys = [order, p.id]
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=p.state,
                applicant=c.applicant_name,
                package_id=p.id,
                package_code=p.code,
                at=at,
                note=p.purpose,
                order=keys,
            )
        )
        .select_from(source)
        .where(*where)
        .order_by(*keys)
    )


def _in_scope(offices: Sequence[str] | None) -> list[ColumnElement[bool]]:
    """Either office of the case in ``offices`` (None: everywhere)."""
    c = t.cases.c
    if offices is None:
        return []
    return [or_(c.window_office_id.in_(offices), c.department_office_id.in_(offices)) if offices else literal(False)]


def _stalled(section: str, offices: Sequence[str] | None, moved_before: datetime) -> Any:
    p, c = t.packages.c, t.cases.c
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=p.state,
                applicant=c.applicant_name,
                package_id=p.id,
                package_code=p.code,
                at=p.last_movement_at,
                note=p.purpose,
                order=[p.last_movement_at, p.id],
            )
        )
        .select_from(t.packages.join(t.cases, c.id == p.case_id))
        .where(*on_their_way(), p.last_movement_at < moved_before, *_in_scope(offices))
        .order_by(p.last_movement_at, p.id)
    )


def _bad_ratings(section: str, offices: Sequence[str] | None) -> Any:
    r, c = t.ratings.c, t.cases.c
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=c.state,
                applicant=c.applicant_name,
                due_on=r.rectify_due_on,
                at=r.at,
                note=r.comment,
                order=[r.rectify_due_on, r.case_id],
            )
        )
        .select_from(t.ratings.join(t.cases, c.id == r.case_id))
        .where(r.score <= BAD_SCORE, r.rectified_at.is_(None), *_in_scope(offices))
        .order_by(r.rectify_due_on, r.case_id)
    )


def _supervised(section: str, supervisor: str, offices: Sequence[str] | None) -> Any:
    """督办 the supervisor issued, the unanswered first, then the latest; the note says the state."""
    s, c = t.case_supervisions.c, t.cases.c
    open_first = case((s.answered_at.is_(None), 0), else_=1)
    order = [open_first, s.at.desc(), s.case_id, s.seq]
    state = case((s.answered_at.is_(None), literal("待答复：")), else_=literal("已答复：")) + case(
        (s.answered_at.is_(None), s.note), else_=s.answer
    )
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=c.state,
                applicant=c.applicant_name,
                at=func.coalesce(s.answered_at, s.at),
                note=state,
                order=order,
            )
        )
        .select_from(t.case_supervisions.join(t.cases, c.id == s.case_id))
        .where(s.by == supervisor, *_in_scope(offices))
        .order_by(*order)
    )


def _locked_users(section: str, now: datetime) -> Any:
    """Users locked out by failed sign-ins, until when; the row names the user (no case)."""
    u, k = t.users.c, t.user_credentials.c
    return (
        select(
            *_cols(
                section,
                case_id=cast(null(), String),
                case_no=literal("", String),
                matter=literal("", String),
                state=u.role,
                applicant=u.name,
                at=k.locked_until,
                note=cast(k.failures, String),
                order=[k.locked_until, u.id],
            )
        )
        .select_from(t.user_credentials.join(t.users, u.id == k.user_id))
        .where(k.locked_until > now)
        .order_by(k.locked_until, u.id)
    )


def _sms_failures(section: str, offices: Sequence[str] | None) -> Any:
    """SMS the provider could not account for (技术失败), not resent yet, latest first."""
    n, c = t.notifications.c, t.cases.c
    later = t.notifications.alias("later")
    return (
        select(
            *_cols(
                section,
                case_id=c.id,
                case_no=c.case_no,
                matter=_matter(),
                state=c.state,
                applicant=c.applicant_name,
                at=n.updated_at,
                note=n.template_key,
                order=[n.updated_at.desc(), n.id],
            )
        )
        .select_from(t.notifications.join(t.cases, c.id == n.case_id))
        .where(
            n.status == "technical_failure",
            ~exists().where(later.c.resend_of == n.id),
            *_in_scope(offices),
        )
        .order_by(n.updated_at.desc(), n.id)
    )


TERMINAL_STATES = ("archived", "rejected", "closed_unsupplemented", "withdrawn")


def sections(
    role: str,
    user_id: str,
    offices: Sequence[str] | None,
    today: date,
    *,
    now: datetime | None = None,
    stalled_before: datetime | None = None,
    internal_carrier: str = "internal",
) -> list[Section]:
    """The sections of ROLE's queue (keys and Chinese titles), each an unlimited, ordered select.
    ``now``: the instant (lock-outs still running); ``stalled_before``: a package whose last
    movement is older is stalled (the supervisor's queue)."""
    moment = now or datetime.combine(today, datetime.min.time(), tzinfo=CHINA)
    parties = None if offices is None else [f"office:{o}" for o in offices]
    c, p, k = t.cases.c, t.packages.c, case_clocks.c
    if role == "window_clerk":
        return [
            Section(
                "to_seal",
                "已收件待封装",
                _case_branch("to_seal", "collected", c.window_office_id, offices, c.collected_at).where(
                    ~exists().where(t.packages.c.case_id == c.id).correlate(t.cases)
                ),
            ),
            Section("sealed", "已封装待交接快递", _package_branch("sealed", p.from_party, parties, ("sealed",))),
            Section(
                "results_incoming",
                "办理结果在途（到达后签收）",
                _package_branch("results_incoming", p.to_party, parties, MOVING_STATES[1:], direction="result"),
            ),
            Section(
                "pickup",
                "结果待发放（发放登记）",
                _case_branch("pickup", "ready_for_pickup", c.window_office_id, offices, c.ready_at),
            ),
            Section("supplements", "待收补正材料", _supplements("supplements", c.window_office_id, offices)),
            Section("ious", "容缺材料待补交", _ious("ious", offices)),
        ]
    if role == "dept_clerk":
        return [
            Section("to_sign", "材料包已送达待签收", _package_branch("to_sign", p.to_party, parties, TO_SIGN)),
            Section("incoming", "材料包在途", _package_branch("incoming", p.to_party, parties, ON_THE_WAY)),
            Section("prereview", "待预审受理", _prereview("prereview", offices)),
            Section(
                "supplements", "补正中（待申请人补交）", _supplements("supplements", c.department_office_id, offices)
            ),
            Section("stages", "特殊环节进行中", _stages("stages", offices)),
            Section(
                "overdue",
                "已超承诺期限",
                _clock_branch("overdue", offices, k.overdue.is_(True), due=k.due_on, rank=k.due_rank),
            ),
            Section(
                "legal_overdue",
                "已超法定期限",
                _clock_branch(
                    "legal_overdue", offices, k.legal_overdue.is_(True), due=k.legal_due_on, rank=k.legal_due_rank
                ),
            ),
            Section(
                "due_soon",
                f"即将到期（剩余 {DUE_SOON_DAYS} 个工作日内）",
                _clock_branch(
                    "due_soon",
                    offices,
                    k.overdue.is_(False),
                    k.remaining.is_not(None),
                    k.remaining <= DUE_SOON_DAYS,
                    due=k.due_on,
                    rank=k.due_rank,
                ),
            ),
            Section(
                "to_ship",
                "已办结待寄出结果",
                _case_branch("to_ship", "decided", c.department_office_id, offices, c.decided_at),
            ),
        ]
    if role == "dept_lead":
        return [
            Section("unread", "待阅", _copies("unread", user_id, False, offices)),
            Section("read", "已阅", _copies("read", user_id, True, offices)),
        ]
    if role == "courier":
        me = f"courier:{user_id}"
        midnight = datetime.combine(today, datetime.min.time(), tzinfo=CHINA)
        senders = [] if offices is None else [p.holder.in_(parties) if parties else literal(False)]
        ce = t.custody_events.c
        return [
            Section(
                "to_pick_up",
                "待揽收",
                _courier_branch(
                    "to_pick_up",
                    [p.state == "sealed", or_(p.carrier.is_(None), p.carrier == internal_carrier), *senders],
                    p.last_movement_at,
                ),
            ),
            Section(
                "in_hand",
                "在途（在我手中）",
                _courier_branch("in_hand", [p.holder == me, p.state.in_(IN_HAND)], p.last_movement_at),
            ),
            Section(
                "delivered_today",
                "今日已送达",
                _courier_branch(
                    "delivered_today",
                    [ce.kind == "delivered", ce.from_party == me, ce.server_time >= midnight],
                    ce.server_time.desc(),
                    reported=True,
                ),
            ),
        ]
    if role == "supervisor":
        stalled = stalled_before or datetime.combine(today, datetime.min.time(), tzinfo=CHINA)
        return [
            Section(
                "overdue",
                "已超承诺期限",
                _clock_branch("overdue", offices, k.overdue.is_(True), due=k.due_on, rank=k.due_rank),
            ),
            Section(
                "due_soon",
                f"即将到期（剩余 {DUE_SOON_DAYS} 个工作日内）",
                _clock_branch(
                    "due_soon",
                    offices,
                    k.overdue.is_(False),
                    k.remaining.is_not(None),
                    k.remaining <= DUE_SOON_DAYS,
                    due=k.due_on,
                    rank=k.due_rank,
                ),
            ),
            Section("stalled", "滞留的材料包", _stalled("stalled", offices, stalled)),
            Section("bad_ratings", "差评待整改", _bad_ratings("bad_ratings", offices)),
            Section("supervised", "我发出的督办", _supervised("supervised", user_id, offices)),
        ]
    if role == "admin":
        return [
            Section("locked", "登录失败被锁定的用户", _locked_users("locked", moment)),
            Section("sms_failed", "短信技术失败（结果无法确认，待处理）", _sms_failures("sms_failed", offices)),
        ]
    return []


async def queue(
    conn: AsyncConnection,
    role: str,
    user_id: str,
    scope: Scope,
    today: date,
    limit: int,
    **when: Any,
) -> dict[str, tuple[int, list[dict[str, Any]]]]:
    """section key → (how many in all, the first ``limit`` rows), for every section of ROLE; one
    statement (plus one for the offices of a region scope). ``when``: the keywords of
    :func:`sections` (now, stalled_before, internal_carrier)."""
    offices = await scope_offices(conn, scope)
    parts = sections(role, user_id, offices, today, **when)
    if not parts:
        return {}
    branches = [select(*s.statement.limit(limit).subquery().c) for s in parts]
    found: dict[str, tuple[int, list[dict[str, Any]]]] = {s.key: (0, []) for s in parts}
    for row in (await conn.execute(union_all(*branches))).mappings():
        rows = found[row["section"]][1]
        rows.append(dict(row))
        found[row["section"]] = (int(row["total"]), rows)
    for _total, rows in found.values():
        rows.sort(key=lambda r: int(r["n"]))
    return found


# --------------------------------------------------------------------------- 办件档案


@dataclass(frozen=True)
class ArchiveQuery:
    case_no: str | None = None
    package_code: str | None = None
    """The compact code (19 characters), as stored."""
    applicant_name: str | None = None
    phone: str | None = None
    id_hash: str | None = None
    matter_id: str | None = None
    states: Sequence[str] = ()
    collected_from: datetime | None = None
    collected_to: datetime | None = None


async def archive_page(
    conn: AsyncConnection, scope: Scope, q: ArchiveQuery, after: tuple[datetime, str] | None, limit: int
) -> list[dict[str, Any]]:
    """Cases matching every key given, newest first, after the keyset ``after``, within scope
    (either office of the case); at most ``limit``. Each key has its index (migration 0021)."""
    c = t.cases.c
    where: list[ColumnElement[bool]] = []
    if q.case_no:
        where.append(c.case_no == q.case_no)
    if q.applicant_name:
        where.append(c.applicant_name == q.applicant_name)
    if q.phone:
        where.append(c.applicant_phone == q.phone)
    if q.id_hash:
        where.append(c.applicant_id_hash == q.id_hash)
    if q.matter_id:
        where.append(c.matter_id == q.matter_id)
    if q.states:
        where.append(c.state.in_(list(q.states)))
    if q.collected_from:
        where.append(c.collected_at >= q.collected_from)
    if q.collected_to:
        where.append(c.collected_at < q.collected_to)
    if q.package_code:
        where.append(
            exists().where(and_(t.packages.c.case_id == c.id, t.packages.c.code == q.package_code)).correlate(t.cases)
        )
    if after is not None:
        at, case_id = after
        where.append(tuple_(c.collected_at, c.id) < tuple_(literal(at, c.collected_at.type), literal(case_id)))
    offices = None if scope.everything else await scope_offices(conn, scope)
    if offices is not None:
        where.append(
            or_(c.window_office_id.in_(offices), c.department_office_id.in_(offices)) if offices else literal(False)
        )
    window, dept = t.offices.alias("w"), t.offices.alias("d")
    query = (
        select(
            c.id,
            c.case_no,
            c.collected_at,
            c.state,
            c.applicant_name,
            c.applicant_phone,
            c.applicant_id_hash.is_not(None).label("has_id_number"),
            _matter().label("matter_name"),
            c.window_office_id,
            c.department_office_id,
            window.c.name.label("window_name"),
            dept.c.name.label("department_name"),
        )
        .select_from(
            t.cases.join(window, window.c.id == c.window_office_id).join(dept, dept.c.id == c.department_office_id)
        )
        .where(*where)
        .order_by(c.collected_at.desc(), c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


# --------------------------------------------------------------------------- 已办办件


@dataclass(frozen=True)
class HandledQuery:
    states: Sequence[str] = ()
    since: datetime | None = None
    """Steps taken at or after (the start of the first day of the range)."""
    until: datetime | None = None
    """Steps taken before (the start of the day after the range)."""


async def handled_page(
    conn: AsyncConnection,
    user_id: str,
    scope: Scope,
    q: HandledQuery,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """已办办件: the cases in scope on which ``user_id`` took a step (an event of the case or of
    its packages with the user as actor), each with the type and time of the user's last step
    (within the date range, when one is given), that step newest first; keyset-paged on (time of
    that step, case id). One statement, plus one for the offices of a region scope; the user's
    steps are read from the index of migration 0026 (actor, time)."""
    from adapters.db.tables import outbox

    o, c = outbox.c, t.cases.c
    steps = [o.actor == user_id, o.case_id.is_not(None)]
    if q.since is not None:
        steps.append(o.created_at >= q.since)
    if q.until is not None:
        steps.append(o.created_at < q.until)
    mine = (
        select(
            o.case_id,
            o.type.label("step_type"),
            o.created_at.label("step_at"),
            func.row_number().over(partition_by=o.case_id, order_by=(o.created_at.desc(), o.seq.desc())).label("k"),
        )
        .where(*steps)
        .subquery("mine")
    )
    where: list[ColumnElement[bool]] = [mine.c.k == 1]
    if q.states:
        where.append(c.state.in_(list(q.states)))
    if after is not None:
        at, case_id = after
        where.append(tuple_(mine.c.step_at, mine.c.case_id) < tuple_(literal(at, o.created_at.type), literal(case_id)))
    offices = None if scope.everything else await scope_offices(conn, scope)
    if offices is not None:
        where.append(
            or_(c.window_office_id.in_(offices), c.department_office_id.in_(offices)) if offices else literal(False)
        )
    window, dept = t.offices.alias("w"), t.offices.alias("d")
    query = (
        select(
            c.id,
            c.case_no,
            c.collected_at,
            c.state,
            c.applicant_name,
            c.applicant_phone,
            _matter().label("matter_name"),
            window.c.name.label("window_name"),
            dept.c.name.label("department_name"),
            mine.c.step_type,
            mine.c.step_at,
        )
        .select_from(
            mine.join(t.cases, c.id == mine.c.case_id)
            .join(window, window.c.id == c.window_office_id)
            .join(dept, dept.c.id == c.department_office_id)
        )
        .where(*where)
        .order_by(mine.c.step_at.desc(), mine.c.case_id.desc())
        .limit(limit)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


# --------------------------------------------------------------------------- 过程信息


async def case_history(conn: AsyncConnection, case_id: str) -> list[dict[str, Any]]:
    """Every committed event of the case and of its packages (their ordering key is the case), in
    the order committed: type, envelope (actor, occurred_at, data)."""
    from adapters.db.tables import outbox

    query = (
        select(outbox.c.seq, outbox.c.type, outbox.c.payload, outbox.c.package_id)
        .where(outbox.c.ordering_key == case_id)
        .order_by(outbox.c.seq)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def names(conn: AsyncConnection, user_ids: Sequence[str], office_ids: Sequence[str]) -> dict[str, str]:
    """Names of users and offices by id, in one statement (unknown ids are left out)."""
    users = select(t.users.c.id, t.users.c.name).where(t.users.c.id.in_(sorted(set(user_ids)) or [""]))
    offices = select(t.offices.c.id, t.offices.c.name).where(t.offices.c.id.in_(sorted(set(office_ids)) or [""]))
    return {i: n for i, n in (await conn.execute(union_all(users, offices))).all()}


__all__ = [
    "ArchiveQuery",
    "HandledQuery",
    "Section",
    "archive_page",
    "case_history",
    "handled_page",
    "names",
    "queue",
    "sections",
]
