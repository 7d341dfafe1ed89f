"""Read-side queries and small admin writes that are not aggregates (tokens, calendar,
idempotency keys, the ledger). SQLAlchemy Core, PostgreSQL and SQLite alike."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, literal, or_, select, true, tuple_, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db import domain_tables as t
from adapters.db import package_step
from adapters.db.admin import Conflict
from adapters.db.repositories import STORE_ANSWER, JsonRows, SqlUnitOfWork, case_statement, package_statement
from adapters.db.tables import outbox
from adapters.db.worker_tables import consumer_gaps
from handoff.access import Scope
from handoff.calendar import Schedule
from handoff.case import Case
from handoff.errors import DomainError
from handoff.package import Manifest
from handoff.ports import Office


@dataclass(frozen=True)
class TokenOwner:
    user_id: str
    name: str
    role: str
    scope: str
    expires_at: datetime


class UserDiffers(Conflict):
    """A token was asked for an existing user with another role or scope: issuing a token never
    changes a user (that is the audited user update's job)."""

    def __init__(self, user_id: str) -> None:
        super().__init__(
            f"用户 {user_id} 已存在，其角色或范围与申请的不同；签发令牌不会修改用户，"
            f"请先通过 PATCH /api/v1/admin/users/{user_id} 修改该用户"
        )
        self.user_id = user_id


async def token_owner(conn: AsyncConnection, token_hash: str) -> TokenOwner | None:
    """The user of an unrevoked token, and when the token expires (the caller compares it with
    its own clock)."""
    row = (await conn.execute(_TOKEN_OWNER, {"token_hash": token_hash})).first()
    return TokenOwner(*row) if row else None


_TOKEN_OWNER = (
    select(t.users.c.id, t.users.c.name, t.users.c.role, t.users.c.scope, t.api_tokens.c.expires_at)
    .join(t.api_tokens, t.api_tokens.c.user_id == t.users.c.id)
    .where(
        t.api_tokens.c.token_hash == bindparam("token_hash"),
        t.api_tokens.c.revoked_at.is_(None),
        t.users.c.active.is_(True),
    )
)


async def add_token(
    conn: AsyncConnection, *, user_id: str, token_hash: str, at: datetime, expires_at: datetime
) -> None:
    """A token for a user who exists, as the user is."""
    await conn.execute(
        insert(t.api_tokens).values(token_hash=token_hash, user_id=user_id, created_at=at, expires_at=expires_at)
    )


def _same_scope(stored: str, asked: str) -> bool:
    try:
        return str(Scope.parse(stored)) == str(Scope.parse(asked))
    except DomainError:
        return False


async def create_user_token(
    conn: AsyncConnection,
    *,
    user_id: str,
    name: str,
    role: str,
    scope: str,
    phone: str,
    token_hash: str,
    at: datetime,
    expires_at: datetime,
) -> bool:
    """A token for the user, creating the user if there is none; True if the user was created.

    An existing user is never changed: asked with another role or scope it is :class:`UserDiffers`
    (the name and phone given are used only for a new user)."""
    found = (await conn.execute(select(t.users.c.role, t.users.c.scope).where(t.users.c.id == user_id))).first()
    if found is not None and (found.role != role or not _same_scope(found.scope, scope)):
        raise UserDiffers(user_id)
    if found is None:
        try:
            await conn.execute(
                insert(t.users).values(id=user_id, name=name, role=role, scope=scope, phone=phone, created_at=at)
            )
        except IntegrityError as exc:  # created by a concurrent request between the check and here
            raise Conflict(f"用户 {user_id} 正在被同时创建，请重试") from exc
    await add_token(conn, user_id=user_id, token_hash=token_hash, at=at, expires_at=expires_at)
    return found is None


async def offices(conn: AsyncConnection) -> dict[str, Office]:
    rows = (await conn.execute(select(t.offices))).mappings()
    return {r["id"]: Office(**r) for r in rows}


async def region_names(conn: AsyncConnection) -> dict[str, str]:
    return {code: name for code, name in (await conn.execute(select(t.regions.c.code, t.regions.c.name))).all()}


IN_CHUNK = 500
"""Ids per ``IN (…)`` list: well under SQLite's and asyncpg's limits on bound parameters."""


async def user_names(conn: AsyncConnection, user_ids: Iterable[str]) -> dict[str, str]:
    """Staff names by user id, for the documents' 责任人 and 办理人员 (unknown ids are left out)."""
    wanted = sorted(set(user_ids))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        query = select(t.users.c.id, t.users.c.name).where(t.users.c.id.in_(wanted[start : start + IN_CHUNK]))
        found.update({user_id: name for user_id, name in (await conn.execute(query)).all()})
    return found


# --------------------------------------------------------------------------- who did each step


async def case_actors(conn: AsyncConnection, case_id: str) -> dict[str, str]:
    """Who did each step of a case: event type (``case.accepted``) → the actor of its latest event.

    Read from the outbox, which keeps every committed event with its envelope (a case's events,
    its packages' included, share the case id as ordering key): the aggregates keep the times of
    their steps but not who took them."""
    query = select(outbox.c.type, outbox.c.payload).where(outbox.c.ordering_key == case_id).order_by(outbox.c.seq)
    return {kind: str(payload.get("actor", "")) for kind, payload in (await conn.execute(query)).all()}


async def collectors(conn: AsyncConnection, case_ids: Sequence[str]) -> dict[str, str]:
    """The actor who registered each case (its ``case.collected`` event), by case id."""
    found: dict[str, str] = {}
    for start in range(0, len(case_ids), IN_CHUNK):
        query = select(outbox.c.ordering_key, outbox.c.payload).where(
            outbox.c.type == "case.collected", outbox.c.ordering_key.in_(case_ids[start : start + IN_CHUNK])
        )
        found.update({case_id: str(payload.get("actor", "")) for case_id, payload in (await conn.execute(query)).all()})
    return found


async def manifest(conn: AsyncConnection, manifest_id: str) -> Manifest | None:
    """A hand-over batch (交接单) with its packages in the order they were listed."""
    row = (await conn.execute(select(t.manifests).where(t.manifests.c.id == manifest_id))).mappings().first()
    if row is None:
        return None
    package_ids = (
        await conn.execute(
            select(t.manifest_packages.c.package_id)
            .where(t.manifest_packages.c.manifest_id == manifest_id)
            .order_by(t.manifest_packages.c.seq)
        )
    ).scalars()
    return Manifest(
        id=row["id"],
        office_id=row["office_id"],
        courier=row["courier"],
        package_ids=tuple(package_ids),
        created_at=row["created_at"],
    )


async def save_schedule(conn: AsyncConnection, schedule: Schedule, actor: str, at: datetime) -> None:
    await conn.execute(t.calendar_schedules.delete().where(t.calendar_schedules.c.year == schedule.year))
    await conn.execute(
        insert(t.calendar_schedules).values(
            year=schedule.year,
            source=schedule.source,
            holidays=sorted(d.isoformat() for d in schedule.holidays),
            workdays=sorted(d.isoformat() for d in schedule.workdays),
            loaded_at=at,
            loaded_by=actor,
        )
    )


async def schedules_fingerprint(conn: AsyncConnection) -> tuple[object, ...]:
    """Changes whenever a schedule is stored (count, newest load time): cheap to poll."""
    row = (
        await conn.execute(
            select(func.count(), func.max(t.calendar_schedules.c.loaded_at)).select_from(t.calendar_schedules)
        )
    ).one()
    return (int(row[0]), row[1])


@dataclass(frozen=True)
class StoredSchedule:
    schedule: Schedule
    loaded_by: str
    loaded_at: datetime


async def schedule_records(conn: AsyncConnection) -> list[StoredSchedule]:
    """The uploaded schedules with who loaded each and when, by year."""
    rows = (await conn.execute(select(t.calendar_schedules).order_by(t.calendar_schedules.c.year))).mappings()
    return [
        StoredSchedule(
            Schedule(
                year=r["year"],
                source=r["source"],
                holidays=frozenset(date.fromisoformat(d) for d in r["holidays"]),
                workdays=frozenset(date.fromisoformat(d) for d in r["workdays"]),
            ),
            r["loaded_by"],
            r["loaded_at"],
        )
        for r in rows
    ]


async def schedules(conn: AsyncConnection) -> list[Schedule]:
    return [r.schedule for r in await schedule_records(conn)]


async def reserve_idempotency_key(
    conn: AsyncConnection, actor: str, key: str, request_hash: str, at: datetime
) -> tuple[str, int, str] | None:
    """Reserve (actor, key) in the request's transaction, before its command runs. None: reserved
    for this request. Otherwise the row already there: (request hash, status, answer).

    A second transaction reserving the same key waits on the first one's uncommitted row
    (PostgreSQL's unique index; SQLite has one writer) and then finds its answer — stored in the
    same transaction as the command's effects by :func:`store_idempotent_answer` — or, if the
    first rolled back, reserves the key itself."""
    reserved = await conn.execute(
        _reserve_key(conn.dialect.name),
        {"actor": actor, "key": key, "request_hash": request_hash, "status": 0, "body": "", "created_at": at},
    )
    if reserved.rowcount == 1:
        return None
    row = (await conn.execute(_READ_KEY, {"actor": actor, "key": key})).one()
    return (row[0], row[1], row[2])


async def reserve_idempotency_key_loading_package(
    uow: SqlUnitOfWork, actor: str, key: str, request_hash: str, at: datetime, package_id: str
) -> tuple[str, int, str] | None:
    """:func:`reserve_idempotency_key`, and on PostgreSQL in the same statement the package
    ``package_id`` (with its items and chain) into the unit of work, where the request's
    visibility check, command and answer then find it: one round trip instead of two. A key
    reserved by another request is read afterwards (a statement of its own, with a snapshot taken
    after the wait), as there; the package read then is not used."""
    conn = uow.conn
    if conn.dialect.name != "postgresql":
        return await reserve_idempotency_key(conn, actor, key, request_hash, at)
    values = {"i_actor": actor, "i_key": key, "i_hash": request_hash, "i_at": at, "key": package_id}
    sql, names, defaults = _reserve_loading_package_sql(conn)
    # asyncpg directly (the request's first statement, its BEGIN before it): the statement is
    # prepared once per connection and its row read as asyncpg gives it — aware UTC datetimes,
    # JSON decoded by the dialect's codec, as SQLAlchemy's processing would give them
    row = await package_step.fetchrow(conn, sql, [values.get(n, defaults.get(n)) for n in names], begin=True)
    if row is package_step.CANNOT:
        row = (await conn.execute(_reserve_loading_package(), values)).mappings().one()
    if not row["reserved"]:
        found = (await conn.execute(_READ_KEY, {"actor": actor, "key": key})).one()
        return (found[0], found[1], found[2])
    if row["id"] is not None:
        uow.packages.from_row(row)
    return None


_RESERVE_LOADING_PACKAGE: list[Any] = []
_RESERVE_LOADING_PACKAGE_SQL: list[tuple[str, Sequence[str], dict[str, Any]]] = []


def _reserve_loading_package_sql(conn: AsyncConnection) -> tuple[str, Sequence[str], dict[str, Any]]:
    """:func:`_reserve_loading_package` compiled once for asyncpg: its SQL, the names of its
    positional parameters, and the values of those the statement carries (its literals)."""
    if not _RESERVE_LOADING_PACKAGE_SQL:
        compiled = _reserve_loading_package().compile(dialect=conn.dialect)
        _RESERVE_LOADING_PACKAGE_SQL.append((str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params)))
    return _RESERVE_LOADING_PACKAGE_SQL[0]


def _reserve_loading_package() -> Any:
    """WITH reserved AS (INSERT … ON CONFLICT DO NOTHING RETURNING 1) SELECT the count of
    ``reserved`` beside the package's row, outer-joined so that a row comes back either way."""
    if not _RESERVE_LOADING_PACKAGE:
        reserved = (
            pg_insert(_KEYS)
            .values(
                actor=bindparam("i_actor"),
                key=bindparam("i_key"),
                request_hash=bindparam("i_hash"),
                status=0,
                body="",
                created_at=bindparam("i_at"),
            )
            .on_conflict_do_nothing(index_elements=[_KEYS.c.actor, _KEYS.c.key])
            .returning(literal(1).label("one"))
            .cte("reserved")
        )
        package = package_statement("postgresql", "id").subquery("package")
        one = select(literal(1).label("one")).subquery("one")
        count = select(func.count()).select_from(reserved).scalar_subquery().label("reserved")
        _RESERVE_LOADING_PACKAGE.append(select(count, *package.c).select_from(one.outerjoin(package, true())))
    return _RESERVE_LOADING_PACKAGE[0]


async def store_idempotent_answer(conn: AsyncConnection, actor: str, key: str, status: int, body: str) -> None:
    """The answer of the request that reserved the key, in the transaction of its effects."""
    await conn.execute(_STORE_ANSWER, {"w_actor": actor, "w_key": key, "w_status": status, "w_body": body})


# Per-request statements built once (bound parameters), so that SQLAlchemy does not rebuild them
# and recompute their cache keys on every request.
_KEYS = t.idempotency_keys
_RESERVE_KEY: dict[str, Any] = {}
_READ_KEY = select(_KEYS.c.request_hash, _KEYS.c.status, _KEYS.c.body).where(
    _KEYS.c.actor == bindparam("actor"), _KEYS.c.key == bindparam("key")
)
_STORE_ANSWER = STORE_ANSWER


def _reserve_key(dialect: str) -> Any:
    found = _RESERVE_KEY.get(dialect)
    if found is None:
        dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
        found = _RESERVE_KEY[dialect] = dialect_insert(_KEYS).on_conflict_do_nothing(
            index_elements=[_KEYS.c.actor, _KEYS.c.key]
        )
    return found


# --------------------------------------------------------------------------- the ledger (Appendix C)


def encode_cursor(collected_at: datetime, case_id: str) -> str:
    raw = json.dumps([collected_at.isoformat(), case_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    padded = cursor + "=" * (-len(cursor) % 4)
    at, case_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    return _aware(datetime.fromisoformat(at)), str(case_id)


def _aware(moment: datetime) -> datetime:
    """Cursors carry aware times; a forged naive one must be refused here, not by the column type
    in the middle of a query."""
    if moment.tzinfo is None:
        raise ValueError("cursor time without a timezone")
    return moment


async def ledger_page(
    conn: AsyncConnection,
    *,
    office_ids: Sequence[str] | None,
    region_prefixes: Sequence[str] | None,
    states: Sequence[str] = (),
    matter_id: str | None = None,
    collected_from: datetime | None = None,
    collected_to: datetime | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Cases newest first, filtered by the caller's scope (offices or region prefixes, or
    everything when both are None) and the filters; keyset pagination on (collected_at, id), the
    page read with LIMIT from the matching index (per office for a narrow scope). The matter comes
    as ``matter_name`` and ``matter_kind``, read out of its terms in SQL."""
    from adapters.db.reports import Scope, keyset_page, scope_offices

    c = t.cases.c
    conditions: list[Any] = []
    if states:
        conditions.append(c.state.in_(states))
    if matter_id:
        conditions.append(c.matter_id == matter_id)
    if collected_from:
        conditions.append(c.collected_at >= collected_from)
    if collected_to:
        conditions.append(c.collected_at < collected_to)
    if after:
        at, case_id = after
        conditions.append(tuple_(c.collected_at, c.id) < tuple_(literal(at, c.collected_at.type), literal(case_id)))
    offices = await scope_offices(conn, Scope(office_ids, region_prefixes))
    order = [(c.collected_at, True), (c.id, True)]
    page = keyset_page(
        [c.id, c.collected_at], order, conditions, offices, c.window_office_id, c.department_office_id, limit
    )
    window = t.offices.alias("window")
    dept = t.offices.alias("dept")
    query = (
        select(
            c.id,
            c.case_no,
            c.collected_at,
            c.state,
            c.applicant_name,
            c.applicant_phone,
            c.matter_terms["name"].as_string().label("matter_name"),
            c.matter_terms["kind"].as_string().label("matter_kind"),
            c.window_office_id,
            c.department_office_id,
            c.accepted_at,
            c.decided_at,
            window.c.name.label("window_name"),
            dept.c.name.label("department_name"),
        )
        .select_from(page)
        .join(t.cases, c.id == page.c.id)
        .join(window, window.c.id == c.window_office_id)
        .join(dept, dept.c.id == c.department_office_id)
        .order_by(page.c.collected_at.desc(), page.c.id.desc())
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


def _case_scope(window: Any, dept: Any, office_ids: Sequence[str] | None, region_prefixes: Sequence[str] | None) -> Any:
    """Cases whose window or department is one of ``office_ids`` or lies in a region under one of
    ``region_prefixes`` (``window`` and ``dept`` are the joined offices)."""
    scope: list[Any] = []
    if office_ids:
        scope += [t.cases.c.window_office_id.in_(office_ids), t.cases.c.department_office_id.in_(office_ids)]
    for prefix in region_prefixes or ():
        scope += [window.c.region_code.startswith(prefix), dept.c.region_code.startswith(prefix)]
    return or_(*scope) if scope else t.cases.c.id.is_(None)


def encode_inbox_cursor(remarked: bool, copied_at: datetime, case_id: str, seq: int) -> str:
    raw = json.dumps([int(remarked), copied_at.isoformat(), case_id, seq]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_inbox_cursor(cursor: str) -> tuple[bool, datetime, str, int]:
    padded = cursor + "=" * (-len(cursor) % 4)
    remarked, at, case_id, seq = json.loads(base64.urlsafe_b64decode(padded.encode()))
    if not isinstance(seq, int) or remarked not in (0, 1):
        raise ValueError("bad cursor")
    return bool(remarked), _aware(datetime.fromisoformat(at)), str(case_id), seq


async def lead_inbox(
    conn: AsyncConnection,
    *,
    lead: str,
    office_ids: Sequence[str] | None,
    region_prefixes: Sequence[str] | None,
    after: tuple[bool, datetime, str, int] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """待阅: the copies of cases sent to ``lead``, within the scope (as :func:`ledger_page`);
    unremarked first, then newest copy first; keyset pagination on (remarked, copied_at, case, seq).
    Each part is read in the order of its own index (unremarked / remarked copies by lead)."""
    from adapters.db.reports import Scope, scope_offices

    copies = t.case_lead_copies
    offices = await scope_offices(conn, Scope(office_ids, region_prefixes))
    keys = (copies.c.copied_at, copies.c.case_id, copies.c.seq)

    def part(remarked: bool) -> Any:
        query = (
            select(copies.c.case_id, copies.c.seq, copies.c.copied_at, literal(int(remarked)).label("remarked"))
            .where(copies.c.lead == lead)
            .where(copies.c.remarked_at.is_not(None) if remarked else copies.c.remarked_at.is_(None))
            .order_by(*(k.desc() for k in keys))
            .limit(limit)
        )
        if offices is not None:
            query = query.join(t.cases, t.cases.c.id == copies.c.case_id).where(
                or_(t.cases.c.window_office_id.in_(offices), t.cases.c.department_office_id.in_(offices))
                if offices
                else literal(False)
            )
        if after is not None:
            was_remarked, at, case_id, seq = after
            if was_remarked and not remarked:
                query = query.where(literal(False))
            elif was_remarked == remarked:
                bound = tuple_(literal(at, copies.c.copied_at.type), literal(case_id), literal(seq))
                query = query.where(tuple_(*keys) < bound)
        return select(*query.subquery().c)

    both = union_all(part(False), part(True)).subquery()
    page = (
        select(*both.c)
        .order_by(both.c.remarked, both.c.copied_at.desc(), both.c.case_id.desc(), both.c.seq.desc())
        .limit(limit)
        .subquery("page")
    )
    query = (
        select(
            copies.c.case_id,
            copies.c.seq,
            copies.c.note,
            copies.c.copied_at,
            copies.c.remark,
            copies.c.remarked_at,
            t.cases.c.case_no,
            t.cases.c.state,
            t.cases.c.matter_terms["id"].as_string().label("matter_id"),
            t.cases.c.matter_terms["name"].as_string().label("matter_name"),
        )
        .select_from(page)
        .join(copies, and_(copies.c.case_id == page.c.case_id, copies.c.seq == page.c.seq))
        .join(t.cases, t.cases.c.id == copies.c.case_id)
        .order_by(page.c.remarked, page.c.copied_at.desc(), page.c.case_id.desc(), page.c.seq.desc())
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def unremarked_count(
    conn: AsyncConnection, *, lead: str, office_ids: Sequence[str] | None, region_prefixes: Sequence[str] | None
) -> int:
    copies = t.case_lead_copies
    window = t.offices.alias("window")
    dept = t.offices.alias("dept")
    query = (
        select(func.count())
        .select_from(copies)
        .join(t.cases, t.cases.c.id == copies.c.case_id)
        .join(window, window.c.id == t.cases.c.window_office_id)
        .join(dept, dept.c.id == t.cases.c.department_office_id)
        .where(copies.c.lead == lead, copies.c.remarked_at.is_(None))
    )
    if office_ids is not None or region_prefixes is not None:
        query = query.where(_case_scope(window, dept, office_ids, region_prefixes))
    return int((await conn.execute(query)).scalar_one())


async def case_ids_in_scope(
    conn: AsyncConnection, office_ids: Sequence[str] | None, region_prefixes: Sequence[str] | None, limit: int
) -> list[str]:
    rows = await ledger_page(conn, office_ids=office_ids, region_prefixes=region_prefixes, limit=limit)
    return [r["id"] for r in rows]


async def matter_ids(conn: AsyncConnection, name_contains: str = "") -> list[str]:
    query = select(t.matters.c.id).order_by(t.matters.c.name)
    if name_contains.strip():
        query = query.where(t.matters.c.name.contains(name_contains.strip(), autoescape=True))
    return list((await conn.execute(query.limit(1000))).scalars())


async def first_receipt(conn: AsyncConnection, key: str, source: str, at: datetime) -> bool:
    """Record a provider push by its key; False when it was seen before (a retried push)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    from adapters.db.tables import callback_receipts

    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    done = await conn.execute(
        dialect_insert(callback_receipts)
        .values(key=key, source=source, received_at=at)
        .on_conflict_do_nothing()
        .returning(callback_receipts.c.key)
    )
    return done.first() is not None


async def record_sms_report(
    conn: AsyncConnection, provider: str, message_id: str, status: str, reason: str, at: datetime
) -> int:
    """Update the notification the report is about; how many rows matched (0 for an SMS we did not
    send, or one whose row the notifications worker has not written yet)."""
    done = await conn.execute(
        update(t.notifications)
        .where(t.notifications.c.provider == provider, t.notifications.c.provider_message_id == message_id)
        .values(status=status, reason=reason, updated_at=at)
    )
    return int(done.rowcount or 0)


async def forget_receipt(conn: AsyncConnection, key: str) -> None:
    from adapters.db.tables import callback_receipts

    await conn.execute(callback_receipts.delete().where(callback_receipts.c.key == key))


async def case_notifications(conn: AsyncConnection, case_id: str) -> list[dict[str, Any]]:
    """The SMS of one case, oldest first (phones as stored: the caller masks them)."""
    n = t.notifications
    rows = await conn.execute(
        select(n.c.recipient, n.c.audience, n.c.template_key, n.c.status, n.c.reason, n.c.created_at, n.c.updated_at)
        .where(n.c.case_id == case_id)
        .order_by(n.c.created_at, n.c.id)
    )
    return [dict(r) for r in rows.mappings()]


async def case_messages(conn: AsyncConnection, case_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """In one statement: the case's SMS as :func:`case_notifications` gives them, and its gaps
    as ``adapters.db.positions.gaps(case_id=…)`` does."""
    row = (await conn.execute(_case_messages(conn.dialect.name), {"case_id": case_id})).one()
    return _CASE_SMS.rows(row[0]), _CASE_GAPS.rows(row[1])


_CASE_SMS = JsonRows(
    t.notifications,
    bindparam("case_id"),
    "case_id",
    columns=["id", "recipient", "audience", "template_key", "status", "reason", "created_at", "updated_at"],
    order=["created_at", "id"],
)
_CASE_GAPS = JsonRows(consumer_gaps, bindparam("case_id"), "case_id", order=["parked_at", "seq"])
_CASE_MESSAGES: dict[str, Any] = {}


async def case_with_messages(
    uow: SqlUnitOfWork, case_id: str
) -> tuple[Case | None, list[dict[str, Any]], list[dict[str, Any]]]:
    """The case view's one statement: the case with its children and its packages (a unit opened
    for reading, see ``SqlCases.get``), its SMS and its gaps as :func:`case_messages` gives them."""
    known = uow.known("case", case_id)
    if isinstance(known, Case) or not uow.is_reading:
        case = await uow.cases.get(case_id)
        sms, gaps = await case_messages(uow.conn, case_id) if case is not None else ([], [])
        return case, sms, gaps
    dialect = uow.dialect
    statement = _CASE_VIEW.get(dialect)
    if statement is None:
        statement = _CASE_VIEW[dialect] = case_statement(dialect, "id", packages=True).add_columns(
            _CASE_SMS_OF_CASE.column(dialect, "case_sms"), _CASE_GAPS_OF_CASE.column(dialect, "case_gaps")
        )
    row = await uow.fetch_row(statement, {"key": case_id})
    if row is None:
        return None, [], []
    return (
        uow.cases.from_row(row, packages=True),
        _CASE_SMS_OF_CASE.rows(row["case_sms"]),
        _CASE_GAPS_OF_CASE.rows(row["case_gaps"]),
    )


_CASE_VIEW: dict[str, Any] = {}
_CASE_SMS_OF_CASE = JsonRows(
    t.notifications, t.cases.c.id, "case_id", columns=_CASE_SMS.names, order=["created_at", "id"]
)
_CASE_GAPS_OF_CASE = JsonRows(consumer_gaps, t.cases.c.id, "case_id", order=["parked_at", "seq"])


def _case_messages(dialect: str) -> Any:
    found = _CASE_MESSAGES.get(dialect)
    if found is None:
        found = _CASE_MESSAGES[dialect] = select(_CASE_SMS.column(dialect, "sms"), _CASE_GAPS.column(dialect, "gaps"))
    return found


async def shipment_label(conn: AsyncConnection, package_id: str) -> str | None:
    """The sha256 of the courier label printed when the carrier took the package's order."""
    return (
        await conn.execute(select(t.shipments.c.label_sha256).where(t.shipments.c.package_id == package_id))
    ).scalar_one_or_none()


# --------------------------------------------------------------------------- staff named in commands


@dataclass(frozen=True)
class StaffMember:
    id: str
    name: str
    role: str
    scope: str
    active: bool


async def staff_member(conn: AsyncConnection, user_id: str) -> StaffMember | None:
    u = t.users
    row = (
        await conn.execute(select(u.c.id, u.c.name, u.c.role, u.c.scope, u.c.active).where(u.c.id == user_id))
    ).first()
    return StaffMember(*row) if row else None


async def staff_by_role(conn: AsyncConnection, role: str) -> list[StaffMember]:
    """The active users of ``role``, by name (the callers filter by scope)."""
    u = t.users
    rows = await conn.execute(
        select(u.c.id, u.c.name, u.c.role, u.c.scope, u.c.active)
        .where(u.c.role == role, u.c.active.is_(True))
        .order_by(u.c.name, u.c.id)
    )
    return [StaffMember(*r) for r in rows]


async def add_evidence_usage(conn: AsyncConnection, user_id: str, day: date, size: int) -> int:
    """Count ``size`` bytes of evidence against the user's day; the day's total after it."""
    usage = t.evidence_usage
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    upsert = (
        dialect_insert(usage)
        .values(user_id=user_id, day=day, bytes=size)
        .on_conflict_do_update(index_elements=[usage.c.user_id, usage.c.day], set_={"bytes": usage.c.bytes + size})
        .returning(usage.c.bytes)
    )
    return int((await conn.execute(upsert)).scalar_one())
