"""The admin's writes and lists: regions, offices, matters, entrustments (异地委托审批) and users.

Every reference is checked before it is written, so a person gets "区划 441599 不存在" rather than
a foreign-key error; a duplicate id is :class:`Conflict`. Matters are updated in place (cases
refer to them), and an update never touches a case: a case keeps its own copy of the matter's
terms (``cases.matter_terms``), taken when it was registered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db import domain_tables as t
from adapters.db.repositories import save_matter
from handoff.errors import DomainError
from handoff.matter import Matter, Mode
from handoff.ports import Office
from handoff.regions import Region, parent_cycle


class Conflict(DomainError):
    """The id is taken, or the change would contradict what already refers to the object."""

    code = "conflict"


class UnknownReference(DomainError):
    """A field names an object that does not exist (or is not of the kind the field needs)."""

    code = "unknown_reference"

    def __init__(self, field: str, title: str) -> None:
        super().__init__(title)
        self.field = field


async def _exists(conn: AsyncConnection, column: Any, value: str) -> bool:
    return (await conn.execute(select(literal(1)).where(column == value).limit(1))).first() is not None


async def _insert(conn: AsyncConnection, statement: Any, taken: str) -> None:
    """Insert; a concurrent insert of the same id (between our check and this) is a Conflict too."""
    try:
        await conn.execute(statement)
    except IntegrityError as exc:
        raise Conflict(taken) from exc


# =========================================================================== regions


async def regions(conn: AsyncConnection) -> list[Region]:
    rows = (await conn.execute(select(t.regions).order_by(t.regions.c.code))).mappings()
    return [Region(**r) for r in rows]


async def region(conn: AsyncConnection, code: str) -> Region | None:
    row = (await conn.execute(select(t.regions).where(t.regions.c.code == code))).mappings().first()
    return Region(**row) if row else None


async def _check_parent(conn: AsyncConnection, item: Region) -> None:
    if item.parent_code is None:
        return
    if not await _exists(conn, t.regions.c.code, item.parent_code):
        raise UnknownReference("parent_code", f"上级区划 {item.parent_code} 不存在")
    parents = {r[0]: r[1] for r in await conn.execute(select(t.regions.c.code, t.regions.c.parent_code))}
    loop = parent_cycle(item.code, item.parent_code, parents)
    if loop is not None:
        raise UnknownReference(
            "parent_code", f"上级区划 {item.parent_code} 会造成循环：{' → '.join(loop)}，上级只能是更高一级的区划"
        )


async def add_region(conn: AsyncConnection, item: Region) -> None:
    if await _exists(conn, t.regions.c.code, item.code):
        raise Conflict(f"区划 {item.code} 已存在")
    await _check_parent(conn, item)
    await _insert(conn, insert(t.regions).values(**_region_row(item)), f"区划 {item.code} 已存在")


async def update_region(conn: AsyncConnection, item: Region) -> None:
    await _check_parent(conn, item)
    await conn.execute(update(t.regions).where(t.regions.c.code == item.code).values(**_region_row(item)))


def _region_row(item: Region) -> dict[str, Any]:
    return {"code": item.code, "name": item.name, "parent_code": item.parent_code, "lat": item.lat, "lon": item.lon}


# =========================================================================== offices


async def offices(
    conn: AsyncConnection, *, kind: str | None = None, region_prefix: str | None = None, name_contains: str = ""
) -> list[Office]:
    query = select(t.offices).order_by(t.offices.c.region_code, t.offices.c.id)
    if kind:
        query = query.where(t.offices.c.kind == kind)
    if region_prefix:
        query = query.where(t.offices.c.region_code.startswith(region_prefix, autoescape=True))
    if name_contains.strip():
        query = query.where(t.offices.c.name.contains(name_contains.strip(), autoescape=True))
    return [Office(**r) for r in (await conn.execute(query)).mappings()]


async def office(conn: AsyncConnection, office_id: str) -> Office | None:
    row = (await conn.execute(select(t.offices).where(t.offices.c.id == office_id))).mappings().first()
    return Office(**row) if row else None


async def add_office(conn: AsyncConnection, item: Office) -> None:
    if await _exists(conn, t.offices.c.id, item.id):
        raise Conflict(f"单位 {item.id} 已存在")
    await _check_office_region(conn, item)
    await _insert(conn, insert(t.offices).values(**_office_row(item)), f"单位 {item.id} 已存在")


async def update_office(conn: AsyncConnection, item: Office, was: Office) -> None:
    await _check_office_region(conn, item)
    if item.kind != was.kind:
        uses = await office_uses(conn, item.id)
        if uses:
            raise Conflict(f"单位 {item.id} 已被{'、'.join(uses)}使用，不能更改类型（窗口/审批部门）")
    await conn.execute(update(t.offices).where(t.offices.c.id == item.id).values(**_office_row(item)))


async def office_uses(conn: AsyncConnection, office_id: str) -> list[str]:
    """What refers to the office (in words), for refusing a change of its kind."""
    checks = [
        ("办件", t.cases.c.window_office_id),
        ("办件", t.cases.c.department_office_id),
        ("事项", t.matters.c.department_office_id),
        ("异地委托", t.entrustments.c.office_id),
    ]
    found: list[str] = []
    for what, column in checks:
        if what not in found and await _exists(conn, column, office_id):
            found.append(what)
    return found


async def _check_office_region(conn: AsyncConnection, item: Office) -> None:
    if not await _exists(conn, t.regions.c.code, item.region_code):
        raise UnknownReference("region_code", f"区划 {item.region_code} 不存在")


def _office_row(item: Office) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "kind": item.kind,
        "region_code": item.region_code,
        "lat": item.lat,
        "lon": item.lon,
        "address": item.address,
        "phone": item.phone,
        "carrier": item.carrier,
    }


# =========================================================================== matters


async def _check_department(conn: AsyncConnection, matter: Matter) -> None:
    found = await office(conn, matter.department_office_id)
    if found is None or found.kind != "department":
        raise UnknownReference("department_office_id", f"审批部门 {matter.department_office_id} 不存在")
    for n, implementation in enumerate(matter.implementations):
        unit = await office(conn, implementation.department_office_id)
        if unit is None or unit.kind != "department":
            raise UnknownReference(
                f"implementations[{n}].department_office_id", f"审批部门 {implementation.department_office_id} 不存在"
            )
        for code in (implementation.region_code, *implementation.scope):
            if not await _exists(conn, t.regions.c.code, code):
                raise UnknownReference(f"implementations[{n}]", f"区划 {code} 不存在")


async def add_matter(conn: AsyncConnection, matter: Matter, *, at: datetime, actor: str) -> None:
    if await _exists(conn, t.matters.c.id, matter.id):
        raise Conflict(f"事项 {matter.id} 已存在")
    await _check_department(conn, matter)
    await save_matter(conn, matter, at=at, actor=actor)


async def update_matter(conn: AsyncConnection, matter: Matter, *, at: datetime, actor: str) -> None:
    """Write the matter's next version (terms, material list, implementations). Cases already
    registered keep the terms they were registered under; the version before stays in
    ``matter_versions``. Two admins writing the same version: the second is a Conflict."""
    await _check_department(conn, matter)
    try:
        await save_matter(conn, matter, at=at, actor=actor)
    except IntegrityError as exc:
        raise Conflict(f"事项 {matter.id} 的第 {matter.version} 版已由他人保存，请刷新后再修改") from exc


async def retire_matter(conn: AsyncConnection, matter_id: str, at: datetime) -> bool:
    """停止办理: no new case; False when it was retired already."""
    done = await conn.execute(
        update(t.matters).where(t.matters.c.id == matter_id, t.matters.c.retired_at.is_(None)).values(retired_at=at)
    )
    return bool(done.rowcount)


@dataclass(frozen=True)
class MatterVersion:
    version: int
    at: datetime
    actor: str
    terms: dict[str, Any]


async def matter_versions(conn: AsyncConnection, matter_id: str) -> list[MatterVersion]:
    rows = await conn.execute(
        select(t.matter_versions)
        .where(t.matter_versions.c.matter_id == matter_id)
        .order_by(t.matter_versions.c.version.desc())
    )
    return [MatterVersion(r.version, r.at, r.actor, r.terms) for r in rows]


async def catalogue_ids(conn: AsyncConnection, *, retired: bool = False) -> list[str]:
    """The matters of the catalogue by name; the retired ones only when asked."""
    query = select(t.matters.c.id).order_by(t.matters.c.name, t.matters.c.id)
    if not retired:
        query = query.where(t.matters.c.retired_at.is_(None))
    return list((await conn.execute(query)).scalars())


# =========================================================================== entrustments (异地委托审批)


@dataclass(frozen=True)
class Entrustment:
    region_code: str
    region_name: str
    matter_id: str
    matter_name: str
    office_id: str
    office_name: str


async def entrustments(
    conn: AsyncConnection, *, region_prefix: str | None = None, matter_id: str | None = None
) -> list[Entrustment]:
    e = t.entrustments
    query = (
        select(e.c.region_code, t.regions.c.name, e.c.matter_id, t.matters.c.name, e.c.office_id, t.offices.c.name)
        .join(t.regions, t.regions.c.code == e.c.region_code)
        .join(t.matters, t.matters.c.id == e.c.matter_id)
        .join(t.offices, t.offices.c.id == e.c.office_id)
        .order_by(e.c.region_code, e.c.matter_id)
    )
    if region_prefix:
        query = query.where(e.c.region_code.startswith(region_prefix, autoescape=True))
    if matter_id:
        query = query.where(e.c.matter_id == matter_id)
    return [Entrustment(*row) for row in await conn.execute(query)]


async def set_entrustment(conn: AsyncConnection, region_code: str, matter_id: str, office_id: str) -> None:
    """Entrust ``office_id`` with ``matter_id`` for windows in ``region_code`` (replacing any
    earlier choice). The unit must be a department in that very region, and the matter must
    allow 异地委托审批."""
    if not await _exists(conn, t.regions.c.code, region_code):
        raise UnknownReference("region_code", f"区划 {region_code} 不存在")
    row = (await conn.execute(select(t.matters.c.name, t.matters.c.modes).where(t.matters.c.id == matter_id))).first()
    if row is None:
        raise UnknownReference("matter_id", f"事项 {matter_id} 不存在")
    if Mode.DELEGATED.value not in row[1]:
        raise UnknownReference("matter_id", f"事项“{row[0]}”不支持异地委托审批，请先在事项中允许该办理方式")
    unit = await office(conn, office_id)
    if unit is None or unit.kind != "department":
        raise UnknownReference("office_id", f"审批部门 {office_id} 不存在")
    if unit.region_code != region_code:
        raise UnknownReference(
            "office_id", f"受委托单位 {unit.name} 不在区划 {region_code} 内（它属于 {unit.region_code}）"
        )
    await conn.execute(delete(t.entrustments).where(_entrustment_key(region_code, matter_id)))
    await conn.execute(insert(t.entrustments).values(region_code=region_code, matter_id=matter_id, office_id=office_id))


async def remove_entrustment(conn: AsyncConnection, region_code: str, matter_id: str) -> bool:
    done = await conn.execute(delete(t.entrustments).where(_entrustment_key(region_code, matter_id)))
    return bool(done.rowcount)


def _entrustment_key(region_code: str, matter_id: str) -> Any:
    return and_(t.entrustments.c.region_code == region_code, t.entrustments.c.matter_id == matter_id)


# =========================================================================== users and tokens


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: str
    scope: str
    phone: str
    created_at: datetime
    active_tokens: int
    """Tokens neither revoked nor expired."""
    active: bool = True


def _users_query(now: datetime | None) -> Any:
    """Users with their count of active tokens: not revoked and not expired at ``now``."""
    active = (
        select(t.api_tokens.c.user_id, func.count().label("n"))
        .where(t.api_tokens.c.revoked_at.is_(None), t.api_tokens.c.expires_at > (now or datetime.now(UTC)))
        .group_by(t.api_tokens.c.user_id)
        .subquery()
    )
    return (
        select(
            t.users.c.id,
            t.users.c.name,
            t.users.c.role,
            t.users.c.scope,
            t.users.c.phone,
            t.users.c.created_at,
            func.coalesce(active.c.n, 0),
            t.users.c.active,
        )
        .outerjoin(active, active.c.user_id == t.users.c.id)
        .order_by(t.users.c.role, t.users.c.id)
    )


async def users(conn: AsyncConnection, *, role: str | None = None, now: datetime | None = None) -> list[User]:
    query = _users_query(now)
    if role:
        query = query.where(t.users.c.role == role)
    return [User(*row) for row in await conn.execute(query)]


async def user(conn: AsyncConnection, user_id: str, *, now: datetime | None = None) -> User | None:
    row = (await conn.execute(_users_query(now).where(t.users.c.id == user_id))).first()
    return User(*row) if row else None


async def add_user(
    conn: AsyncConnection, *, user_id: str, name: str, role: str, scope: str, phone: str, at: datetime
) -> None:
    if await _exists(conn, t.users.c.id, user_id):
        raise Conflict(f"用户 {user_id} 已存在")
    await _insert(
        conn,
        insert(t.users).values(id=user_id, name=name, role=role, scope=scope, phone=phone, created_at=at),
        f"用户 {user_id} 已存在",
    )


async def update_user(conn: AsyncConnection, user_id: str, **values: str | bool) -> None:
    """Change a user; the tokens' cached principals are dropped when the transaction commits."""
    await conn.execute(update(t.users).where(t.users.c.id == user_id).values(**values))
    await bump_auth_version(conn)


async def revoke_tokens(conn: AsyncConnection, user_id: str, at: datetime) -> int:
    """Revoke every active token of the user; how many were active. The tokens' cached
    principals are dropped when the transaction commits."""
    done = await conn.execute(
        update(t.api_tokens)
        .where(t.api_tokens.c.user_id == user_id, t.api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    await bump_auth_version(conn)
    return int(done.rowcount or 0)


AUTH_CHANNEL = "handoff_auth"
"""PostgreSQL channel on which every API process listens to drop its cached principals."""


async def bump_auth_version(conn: AsyncConnection) -> int:
    """Count a change that can take authority away from a token, in the caller's transaction;
    on PostgreSQL also ``NOTIFY handoff_auth, '<version>'``, delivered to every listening API
    process when (and only if) the transaction commits. The new version."""
    row = t.auth_version
    done = await conn.execute(
        update(row).where(row.c.id == 1).values(version=row.c.version + 1).returning(row.c.version)
    )
    version = done.scalar()
    if version is None:
        await conn.execute(insert(row).values(id=1, version=1))
        version = 1
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(AUTH_CHANNEL, str(version))))
    return int(version)


async def auth_version(conn: AsyncConnection) -> int:
    """How many authority changes were committed (0 before the first)."""
    found = (await conn.execute(select(t.auth_version.c.version).where(t.auth_version.c.id == 1))).scalar()
    return int(found or 0)


async def known_offices(conn: AsyncConnection, office_ids: Sequence[str]) -> set[str]:
    if not office_ids:
        return set()
    return set((await conn.execute(select(t.offices.c.id).where(t.offices.c.id.in_(office_ids)))).scalars())
