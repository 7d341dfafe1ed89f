"""Repositories and the unit of work on SQLAlchemy Core (async engine; PostgreSQL or SQLite).

The unit of work opens one connection and one transaction. Repositories remember every aggregate
they hand out (or are given); ``commit`` saves each of them — a case with its child rows, a
package with its new custody events — writes their events into the outbox through the outbox
writer, and commits, all in that one transaction. Optimistic concurrency: a row is updated only
if its version is still the one that was read; otherwise :class:`ConcurrentUpdate` and nothing is
written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import JSON, Boolean, Date, String, Table, any_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from adapters.crypto import IdCipher
from adapters.db import domain_tables as t
from adapters.db import package_step
from adapters.db.outbox import write_outbox
from adapters.db.types import UtcDateTime
from handoff import events as ev
from handoff.case import (
    Applicant,
    Case,
    CaseState,
    Extension,
    Iou,
    LeadCopy,
    MaterialSubmission,
    Outcome,
    PickupRecord,
    Rating,
    Stage,
    Supervision,
    SupplementRequest,
)
from handoff.codes import PackageCode
from handoff.errors import DomainError
from handoff.matter import CaseKind, Delivery, Implementation, MaterialRequirement, Matter, Mode, StageType
from handoff.package import (
    Anchor,
    CustodyEvent,
    CustodyKind,
    Direction,
    Discrepancy,
    DiscrepancyKind,
    ExceptionKind,
    FileEntry,
    Item,
    Manifest,
    Medium,
    Method,
    Package,
    PackageState,
    Purpose,
)
from handoff.ports import Office

OutboxWriter = Callable[[AsyncConnection, Sequence[ev.Event]], Awaitable[None]]


class ConcurrentUpdate(DomainError):
    code = "concurrent_update"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}已被他人同时修改，请刷新后重试")


class CustodyChainBroken(DomainError):
    """A package whose stored chain no longer matches its anchor takes no new custody event:
    appending would rewrite the anchor and hide the deleted or inserted records."""

    code = "custody_chain_broken"

    def __init__(self, code: str) -> None:
        super().__init__(
            f"材料包 {code} 的监管链与登记的记录数或末条哈希不符（记录可能被删改），不能再登记交接，请核查"
        )


# =========================================================================== matters and offices


def matter_to_json(matter: Matter) -> dict[str, Any]:
    """The matter's terms as JSON: the catalogue's rows, a version's record and each case's copy."""
    return {
        "id": matter.id,
        "name": matter.name,
        "list_name": matter.listed_name,
        "matter_type": matter.matter_type,
        "department_office_id": matter.department_office_id,
        "legal_limit": matter.legal_limit,
        "promised_limit": matter.promised_limit,
        "kind": matter.kind.value,
        "modes": sorted(m.value for m in matter.modes),
        "service_objects": list(matter.service_objects),
        "visits": matter.visits,
        "conditions": matter.conditions,
        "result_name": matter.result_title,
        "result_licence": matter.result_licence,
        "stage_limits": {k.value: v for k, v in matter.stage_limits.items()},
        "iou_days": matter.iou_days,
        "version": matter.version,
        "retired": matter.retired,
        "materials": [
            {
                "name": m.name,
                "required": m.required,
                "tolerable": m.tolerable,
                "original": m.original,
                "copies": m.copies,
                "form": m.form,
                "notes": m.notes,
                "licence": m.licence,
                "exempt": m.exempt,
            }
            for m in matter.materials
        ],
        "implementations": [
            {"region_code": i.region_code, "department_office_id": i.department_office_id, "scope": list(i.scope)}
            for i in matter.implementations
        ],
    }


def matter_from_json(data: dict[str, Any]) -> Matter:
    """The inverse of :func:`matter_to_json`; terms copied before the catalogue had its
    elements (older cases) read with the elements' defaults."""
    return Matter(
        id=data["id"],
        name=data["name"],
        department_office_id=data["department_office_id"],
        legal_limit=data["legal_limit"],
        promised_limit=data["promised_limit"],
        kind=CaseKind(data["kind"]),
        modes=frozenset(Mode(m) for m in data["modes"]),
        stage_limits={StageType(k): v for k, v in data["stage_limits"].items()},
        iou_days=data["iou_days"],
        materials=tuple(MaterialRequirement(**m) for m in data["materials"]),
        list_name=data.get("list_name") or "",
        matter_type=data.get("matter_type") or "行政许可",
        service_objects=tuple(data.get("service_objects") or ()),
        visits=data.get("visits", 1),
        conditions=data.get("conditions") or "",
        result_name=data.get("result_name") or "",
        result_licence=data.get("result_licence") or "",
        implementations=tuple(
            Implementation(i["region_code"], i["department_office_id"], tuple(i.get("scope") or ()))
            for i in data.get("implementations") or ()
        ),
        version=data.get("version") or 1,
        retired=bool(data.get("retired")),
    )


_CASE_MATTERS: dict[bytes, Matter] = {}
CASE_MATTERS_KEPT = 1024


def case_matter(data: dict[str, Any]) -> Matter:
    """The matter of a case's copy of its terms (:func:`matter_from_json`), remembered by the
    terms' JSON: the cases of a matter share a handful of copies, and building a Matter from its
    JSON (its materials, modes, stage limits, implementations) was a fifth of decoding a case.
    A Matter is immutable: one object serves every case with the same terms."""
    try:
        key = orjson.dumps(data)
    except TypeError:  # not JSON's own values: nothing to remember it by
        return matter_from_json(data)
    found = _CASE_MATTERS.get(key)
    if found is None:
        found = matter_from_json(data)
        if len(_CASE_MATTERS) >= CASE_MATTERS_KEPT:
            _CASE_MATTERS.clear()
        _CASE_MATTERS[key] = found
    return found


async def save_matter(
    conn: AsyncConnection, matter: Matter, *, at: datetime | None = None, actor: str = "system"
) -> None:
    """Insert a matter, or update it in place (cases and entrustments refer to its row), with
    its material list and implementations replaced (admin, demo data). With ``at``, the version
    is also recorded in ``matter_versions`` (the admin's writes)."""
    data = matter_to_json(matter)
    materials = data.pop("materials")
    implementations = data.pop("implementations")
    data.pop("retired")
    await conn.execute(delete(t.matter_materials).where(t.matter_materials.c.matter_id == matter.id))
    await conn.execute(delete(t.matter_implementations).where(t.matter_implementations.c.matter_id == matter.id))
    updated = await conn.execute(update(t.matters).where(t.matters.c.id == matter.id).values(**data))
    if not updated.rowcount:
        await conn.execute(insert(t.matters).values(**data))
    if materials:
        await conn.execute(
            insert(t.matter_materials),
            [{"matter_id": matter.id, "seq": n, **m} for n, m in enumerate(materials, start=1)],
        )
    if implementations:
        await conn.execute(
            insert(t.matter_implementations),
            [
                {
                    "matter_id": matter.id,
                    "region_code": i["region_code"],
                    "office_id": i["department_office_id"],
                    "scope": i["scope"],
                }
                for i in implementations
            ],
        )
    if at is not None:
        await conn.execute(
            insert(t.matter_versions).values(
                matter_id=matter.id, version=matter.version, terms=matter_to_json(matter), at=at, actor=actor
            )
        )


class SqlMatters:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, matter_id: str) -> Matter | None:
        row = (await self._conn.execute(select(t.matters).where(t.matters.c.id == matter_id))).mappings().first()
        if row is None:
            return None
        items = (
            await self._conn.execute(
                select(t.matter_materials)
                .where(t.matter_materials.c.matter_id == matter_id)
                .order_by(t.matter_materials.c.seq)
            )
        ).mappings()
        implementations = (
            await self._conn.execute(
                select(t.matter_implementations)
                .where(t.matter_implementations.c.matter_id == matter_id)
                .order_by(t.matter_implementations.c.region_code)
            )
        ).mappings()
        data = dict(row)
        data["retired"] = data.pop("retired_at") is not None
        data["materials"] = [{k: v for k, v in m.items() if k not in ("matter_id", "seq")} for m in items]
        data["implementations"] = [
            {"region_code": i["region_code"], "department_office_id": i["office_id"], "scope": i["scope"]}
            for i in implementations
        ]
        return matter_from_json(data)


class SqlOffices:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, office_id: str) -> Office | None:
        row = (await self._conn.execute(select(t.offices).where(t.offices.c.id == office_id))).mappings().first()
        return Office(**row) if row else None

    async def entrusted_department(self, region_code: str, matter_id: str) -> Office | None:
        row = (
            (
                await self._conn.execute(
                    select(t.offices)
                    .join(t.entrustments, t.entrustments.c.office_id == t.offices.c.id)
                    .where(t.entrustments.c.region_code == region_code, t.entrustments.c.matter_id == matter_id)
                )
            )
            .mappings()
            .first()
        )
        return Office(**row) if row else None

    async def region_names(self) -> dict[str, str]:
        rows = await self._conn.execute(select(t.regions.c.code, t.regions.c.name))
        return {code: name for code, name in rows}


# =========================================================================== cases


# =========================================================================== one statement per aggregate
#
# An aggregate is read with one SELECT: its row, and each child table as a JSON array of arrays in
# a correlated scalar subquery (PostgreSQL json_agg(json_build_array(…)), SQLite
# json_group_array(json_array(…))). The values come back as JSON scalars and are turned into the
# columns' own Python types here (dates, aware UTC datetimes, booleans; JSON columns are embedded
# as JSON). The statements are built once per dialect and reused with bound parameters, so
# SQLAlchemy neither rebuilds them nor recomputes their cache keys on every request.


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _day(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _same(value: Any) -> Any:
    return value


def _decoder(column: Any) -> Callable[[Any], Any]:
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return _utc
    if isinstance(kind, Date):
        return _day
    if isinstance(kind, Boolean):
        return _flag
    return _same


class JsonRows:
    """Rows of a table as one JSON column of another SELECT: those whose ``key`` equals
    ``parent_key`` (a column of the outer SELECT, or a bound parameter); ``columns``: which
    (default: all but ``key``); ``order``: the column names the rows are sorted by once decoded
    (default: ``seq`` where the table has one)."""

    def __init__(
        self,
        table: Table,
        parent_key: Any,
        key: str,
        columns: Sequence[str] | None = None,
        order: Sequence[str] | None = None,
    ) -> None:
        self.table = table
        self.parent_key = parent_key
        self.columns = [c for c in table.c if c.name != key and (columns is None or c.name in columns)]
        self.names = [c.name for c in self.columns]
        self.decoders = [_decoder(c) for c in self.columns]
        self.key = table.c[key]
        self.order = list(order) if order is not None else (["seq"] if "seq" in table.c else [])

    def aggregate(self, dialect: str) -> Any:
        """The rows' JSON array (an aggregate over ``table``)."""
        if dialect == "postgresql":
            return func.json_agg(func.json_build_array(*self.columns), type_=JSON)
        values = [func.json(c) if isinstance(c.type, JSON) else c for c in self.columns]
        return func.json_group_array(func.json_array(*values), type_=JSON)

    def column(self, dialect: str, label: str) -> Any:
        return select(self.aggregate(dialect)).where(self.key == self.parent_key).scalar_subquery().label(label)

    def rows(self, value: Any) -> list[dict[str, Any]]:
        """The rows out of the JSON (None or [] when there are none), in ``order``."""
        found = [
            {name: decode(v) for name, decode, v in zip(self.names, self.decoders, row, strict=True)}
            for row in value or ()
        ]
        if self.order:
            found.sort(key=lambda r: tuple(r[name] for name in self.order))
        return found


_CASE_CHILDREN = {
    "materials": JsonRows(t.case_materials, t.cases.c.id, "case_id"),
    "ious": JsonRows(t.case_ious, t.cases.c.id, "case_id"),
    "supplements": JsonRows(t.case_supplements, t.cases.c.id, "case_id"),
    "stages": JsonRows(t.case_stages, t.cases.c.id, "case_id"),
    "extensions": JsonRows(t.case_extensions, t.cases.c.id, "case_id"),
    "lead_copies": JsonRows(t.case_lead_copies, t.cases.c.id, "case_id"),
    "supervisions": JsonRows(t.case_supervisions, t.cases.c.id, "case_id"),
    "pickup": JsonRows(t.pickups, t.cases.c.id, "case_id"),
    "rating": JsonRows(t.ratings, t.cases.c.id, "case_id"),
}
_PACKAGE_CHILDREN = {
    "items": JsonRows(t.package_items, t.packages.c.id, "package_id"),
    "custody": JsonRows(t.custody_events, t.packages.c.id, "package_id"),
}
_STATEMENTS: dict[tuple[str, str], Any] = {}


def _children_prefix(name: str) -> str:
    return f"children_{name}"


def case_statement(dialect: str, by: str, packages: bool = False) -> Any:
    """The case with all its children in one SELECT, found by ``id`` or ``tracking`` (token hash)
    through the bound parameter ``key`` (or several cases by ``ids``: the parameter ``keys``) —
    with ``packages``, its packages too (:class:`CasePackages`); built once per dialect."""
    name = f"case:{by}:{packages}"
    found = _STATEMENTS.get((dialect, name))
    if found is None:
        columns = [children.column(dialect, _children_prefix(n)) for n, children in _CASE_CHILDREN.items()]
        if packages:
            columns.append(_CASE_PACKAGES.column(dialect, "case_packages"))
        if by == "ids":  # several cases by id, the ids one array parameter on PostgreSQL
            if dialect == "postgresql":
                among = t.cases.c.id == any_(bindparam("keys", type_=ARRAY(String)))
            else:
                among = t.cases.c.id.in_(bindparam("keys", expanding=True))
            found = select(t.cases, *columns).where(among)
        else:
            key = {"id": t.cases.c.id, "tracking": t.cases.c.tracking_token_hash}[by]
            found = select(t.cases, *columns).where(key == bindparam("key"))
        _STATEMENTS[(dialect, name)] = found
    return found


class CasePackages:
    """A case's packages, each with its items and custody chain, as one JSON column of the case's
    SELECT (a package is a JSON array: its row's columns, then its children's arrays), so that a
    read of a case and its packages (the case view, the tracking page) is one statement."""

    def __init__(self) -> None:
        self.columns = list(t.packages.c)
        self.names = [c.name for c in self.columns]
        self.decoders = [_decoder(c) for c in self.columns]

    def column(self, dialect: str, label: str) -> Any:
        children = [
            select(c.aggregate(dialect)).where(c.key == t.packages.c.id).scalar_subquery()
            for c in _PACKAGE_CHILDREN.values()
        ]
        if dialect == "postgresql":
            aggregate = func.json_agg(func.json_build_array(*self.columns, *children), type_=JSON)
        else:
            aggregate = func.json_group_array(
                func.json_array(*self.columns, *(func.json(c) for c in children)), type_=JSON
            )
        return select(aggregate).where(t.packages.c.case_id == t.cases.c.id).scalar_subquery().label(label)

    def rows(self, value: Any) -> list[dict[str, Any]]:
        """Each package as a mapping like a row of :func:`package_statement`, by creation."""
        found = []
        for package in value or ():
            own = len(self.names)
            row = {name: decode(v) for name, decode, v in zip(self.names, self.decoders, package[:own], strict=True)}
            for n, v in zip(_PACKAGE_CHILDREN, package[own:], strict=True):
                row[_children_prefix(n)] = v
            found.append(row)
        found.sort(key=lambda r: r["created_at"])
        return found


_CASE_PACKAGES = CasePackages()


def package_statement(dialect: str, by: str) -> Any:
    """Packages with their items and custody chain in one SELECT, found by ``id``, ``code``,
    ``waybill`` (with ``carrier``) or ``case`` (ordered by creation); built once per dialect."""
    found = _STATEMENTS.get((dialect, "package:" + by))
    if found is None:
        statement = select(
            t.packages,
            *(children.column(dialect, _children_prefix(n)) for n, children in _PACKAGE_CHILDREN.items()),
        )
        if by == "id":
            statement = statement.where(t.packages.c.id == bindparam("key"))
        elif by == "code":
            statement = statement.where(t.packages.c.code == bindparam("key"))
        elif by == "waybill":
            statement = statement.where(
                t.packages.c.carrier == bindparam("carrier"), t.packages.c.waybill == bindparam("key")
            )
        else:
            statement = statement.where(t.packages.c.case_id == bindparam("key")).order_by(t.packages.c.created_at)
        found = _STATEMENTS[(dialect, "package:" + by)] = statement
    return found


class SqlCases:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    async def get(self, case_id: str, *, packages: bool = False) -> Case | None:
        """The case; with ``packages`` (a unit opened for reading only), its packages are read in
        the same statement and ``packages.for_case`` then answers without another."""
        known = self._uow.known("case", case_id)
        if isinstance(known, Case):
            return known
        packages = packages and self._uow.is_reading
        statement = case_statement(self._uow.dialect, "id", packages)
        row = await self._uow.fetch_row(statement, {"key": case_id})
        return None if row is None else self.from_row(row, packages)

    async def get_many(self, case_ids: Sequence[str]) -> dict[str, Case]:
        """The cases of these ids that exist, by id, in one statement (those already loaded in the
        unit of work are not read again)."""
        found: dict[str, Case] = {}
        wanted: list[str] = []
        for case_id in dict.fromkeys(case_ids):
            known = self._uow.known("case", case_id)
            if isinstance(known, Case):
                found[case_id] = known
            else:
                wanted.append(case_id)
        if wanted:
            conn = self._uow.conn
            statement = case_statement(conn.dialect.name, "ids")
            for row in (await conn.execute(statement, {"keys": sorted(wanted)})).mappings():
                case = self.from_row(row)
                found[case.id] = case
        return found

    async def by_tracking_hash(self, token_hash: str, *, packages: bool = False) -> Case | None:
        """The case of a tracking token; ``packages`` as for :meth:`get`."""
        packages = packages and self._uow.is_reading
        statement = case_statement(self._uow.dialect, "tracking", packages)
        row = await self._uow.fetch_row(statement, {"key": token_hash})
        if row is None:
            return None
        known = self._uow.known("case", row["id"])
        return known if isinstance(known, Case) else self.from_row(row, packages)

    def from_row(self, row: Any, packages: bool = False) -> Case:
        """The case of a row of :func:`case_statement` (and its packages, when the row has them),
        tracked by the unit of work."""
        case: Case = self._uow.track(self._load(row))
        if packages:
            self._uow.case_packages[case.id] = [
                self._uow.packages._loaded(p) for p in _CASE_PACKAGES.rows(row["case_packages"])
            ]
        return case

    async def add(self, case: Case) -> None:
        self._uow.track(case)

    def _load(self, row: Any) -> Case:
        """The case of a row of :func:`case_statement` (its children as JSON columns)."""
        cipher = self._uow.cipher
        cid = row["id"]
        children = {n: c.rows(row[_children_prefix(n)]) for n, c in _CASE_CHILDREN.items()}
        materials = [
            MaterialSubmission(
                name=m["name"],
                copies=m["copies"],
                pages=m["pages"],
                original=m["original"],
                remarks=m["remarks"],
                electronic=m["electronic"],
            )
            for m in children["materials"]
        ]
        pickup_row = children["pickup"][0] if children["pickup"] else None
        rating_row = children["rating"][0] if children["rating"] else None
        case = Case(
            id=cid,
            matter=case_matter(row["matter_terms"]),
            mode=Mode(row["mode"]),
            delivery=Delivery(row["delivery"]),
            applicant=Applicant(
                name=row["applicant_name"],
                phone=row["applicant_phone"],
                id_number=cipher.decrypt(row["applicant_id_enc"]) if row["applicant_id_enc"] else None,
                address=row["applicant_address"],
                organisation=row["applicant_org"],
                region_code=row["applicant_region"] or "",
            ),
            window_office_id=row["window_office_id"],
            department_office_id=row["department_office_id"],
            materials=tuple(materials),
            collected_at=row["collected_at"],
            tracking_token_hash=row["tracking_token_hash"],
            home_office_id=row["home_office_id"] or "",
            case_no=row["case_no"] or "",
            state=CaseState(row["state"]),
            ious=[
                Iou(material=i["material"], due_on=i["due_on"], fulfilled_at=i["fulfilled_at"])
                for i in children["ious"]
            ],
            forwarded_at=row["forwarded_at"],
            received_at=row["received_at"],
            accepted_at=row["accepted_at"],
            supplements=[
                SupplementRequest(
                    items=tuple(s["items"]),
                    due_on=s["due_on"],
                    requested_at=s["requested_at"],
                    after_acceptance=s["after_acceptance"],
                    supplied_at=s["supplied_at"],
                    stage_id=s["stage_id"],
                    reason=s["reason"],
                )
                for s in children["supplements"]
            ],
            stages=[
                Stage(
                    id=s["id"],
                    type=StageType(s["type"]),
                    start_on=s["start_on"],
                    reason=s["reason"],
                    legal_basis=s["legal_basis"],
                    opened_by=s["opened_by"],
                    opened_at=s["opened_at"],
                    expected_days=s["expected_days"],
                    limit=s["limit_days"],
                    end_on=s["end_on"],
                    closed_by=s["closed_by"],
                    closed_at=s["closed_at"],
                    approved_by=s["approved_by"],
                )
                for s in children["stages"]
            ],
            extensions=[
                Extension(days=e["days"], approver=e["approver"], reason=e["reason"], on=e["on_date"], at=e["at"])
                for e in children["extensions"]
            ],
            decided_at=row["decided_at"],
            outcome=Outcome(row["outcome"]) if row["outcome"] else None,
            opinion=row["opinion"],
            result_shipped_at=row["result_shipped_at"],
            ready_at=row["ready_at"],
            result_package_id=row["result_package_id"],
            delivered_at=row["delivered_at"],
            pickup=PickupRecord(
                office_id=pickup_row["office_id"],
                by_proxy=pickup_row["by_proxy"],
                name=pickup_row["name"],
                id_number=cipher.decrypt(pickup_row["id_enc"]) if pickup_row["id_enc"] else None,
                at=pickup_row["at"],
                actor=pickup_row["actor"],
                id_type=pickup_row.get("id_type") or "resident_id",
                method=pickup_row.get("method") or "window",
                note=pickup_row.get("note") or "",
            )
            if pickup_row
            else None,
            archived_at=row["archived_at"],
            closed_reason=row["closed_reason"],
            closed_at=row["closed_at"],
            rating=Rating(
                score=rating_row["score"],
                comment=rating_row["comment"],
                at=rating_row["at"],
                rectified_at=rating_row["rectified_at"],
                rectification=rating_row["rectification"],
                rectify_due_on=rating_row["rectify_due_on"],
            )
            if rating_row
            else None,
            lead_copies=[
                LeadCopy(
                    lead=c["lead"],
                    note=c["note"],
                    copied_at=c["copied_at"],
                    remark=c["remark"],
                    remarked_at=c["remarked_at"],
                )
                for c in children["lead_copies"]
            ],
            supervisions=[
                Supervision(
                    note=v["note"],
                    by=v["by"],
                    at=v["at"],
                    answer=v["answer"],
                    answered_at=v["answered_at"],
                    answered_by=v["answered_by"],
                )
                for v in children["supervisions"]
            ],
            version=row["version"],
        )
        self._uow.loaded_versions[("case", cid)] = case.version
        return case

    async def save(self, conn: AsyncConnection, case: Case) -> None:
        cipher = self._uow.cipher
        id_number = case.applicant.id_number
        values = {
            "matter_id": case.matter.id,
            "matter_terms": matter_to_json(case.matter),
            "mode": case.mode.value,
            "delivery": case.delivery.value,
            "applicant_name": case.applicant.name,
            "applicant_phone": case.applicant.phone,
            "applicant_id_enc": cipher.encrypt(id_number) if id_number else None,
            "applicant_id_hash": cipher.keyed_hash(id_number) if id_number else None,
            "applicant_address": case.applicant.address,
            "applicant_org": case.applicant.organisation,
            "applicant_region": case.applicant.region_code,
            "home_office_id": case.home_office_id or None,
            "window_office_id": case.window_office_id,
            "department_office_id": case.department_office_id,
            "state": case.state.value,
            "tracking_token_hash": case.tracking_token_hash,
            "case_no": case.case_no or None,
            "collected_at": case.collected_at,
            "forwarded_at": case.forwarded_at,
            "received_at": case.received_at,
            "accepted_at": case.accepted_at,
            "decided_at": case.decided_at,
            "outcome": case.outcome.value if case.outcome else None,
            "opinion": case.opinion,
            "result_shipped_at": case.result_shipped_at,
            "ready_at": case.ready_at,
            "result_package_id": case.result_package_id,
            "delivered_at": case.delivered_at,
            "archived_at": case.archived_at,
            "closed_at": case.closed_at,
            "closed_reason": case.closed_reason,
            "version": case.version,
        }
        key = ("case", case.id)
        if key not in self._uow.loaded_versions:
            await conn.execute(insert(t.cases).values(id=case.id, **values))
            await conn.execute(
                insert(t.case_materials),
                [
                    {
                        "case_id": case.id,
                        "seq": n,
                        "name": m.name,
                        "copies": m.copies,
                        "pages": m.pages,
                        "original": m.original,
                        "remarks": m.remarks,
                        "electronic": m.electronic,
                    }
                    for n, m in enumerate(case.materials, start=1)
                ],
            )
        else:
            if self._uow.loaded_versions[key] == case.version:
                return  # unchanged
            # The applicant's identity number is never changed after registration: keep its ciphertext.
            values.pop("applicant_id_enc")
            values.pop("applicant_id_hash")
            done = await conn.execute(
                update(t.cases)
                .where(t.cases.c.id == case.id, t.cases.c.version == self._uow.loaded_versions[key])
                .values(**values)
            )
            if done.rowcount != 1:
                raise ConcurrentUpdate("办件")
            for table in (
                t.case_ious,
                t.case_supplements,
                t.case_stages,
                t.case_extensions,
                t.case_lead_copies,
                t.case_supervisions,
            ):
                await conn.execute(delete(table).where(table.c.case_id == case.id))
            await conn.execute(delete(t.pickups).where(t.pickups.c.case_id == case.id))
            await conn.execute(delete(t.ratings).where(t.ratings.c.case_id == case.id))
        await self._insert_children(conn, case)

    async def _insert_children(self, conn: AsyncConnection, case: Case) -> None:
        cid = case.id
        cipher = self._uow.cipher
        rows: list[tuple[Any, list[dict[str, Any]]]] = [
            (
                t.case_ious,
                [
                    {
                        "case_id": cid,
                        "seq": n,
                        "material": i.material,
                        "due_on": i.due_on,
                        "fulfilled_at": i.fulfilled_at,
                    }
                    for n, i in enumerate(case.ious, start=1)
                ],
            ),
            (
                t.case_supplements,
                [
                    {
                        "case_id": cid,
                        "seq": n,
                        "items": list(s.items),
                        "due_on": s.due_on,
                        "requested_at": s.requested_at,
                        "after_acceptance": s.after_acceptance,
                        "supplied_at": s.supplied_at,
                        "stage_id": s.stage_id,
                        "reason": s.reason,
                    }
                    for n, s in enumerate(case.supplements, start=1)
                ],
            ),
            (
                t.case_stages,
                [
                    {
                        "case_id": cid,
                        "seq": n,
                        "id": s.id,
                        "type": s.type.value,
                        "start_on": s.start_on,
                        "end_on": s.end_on,
                        "reason": s.reason,
                        "legal_basis": s.legal_basis,
                        "opened_by": s.opened_by,
                        "opened_at": s.opened_at,
                        "expected_days": s.expected_days,
                        "limit_days": s.limit,
                        "closed_by": s.closed_by,
                        "closed_at": s.closed_at,
                        "approved_by": s.approved_by,
                    }
                    for n, s in enumerate(case.stages, start=1)
                ],
            ),
            (
                t.case_extensions,
                [
                    {
                        "case_id": cid,
                        "seq": n,
                        "days": e.days,
                        "approver": e.approver,
                        "reason": e.reason,
                        "on_date": e.on,
                        "at": e.at,
                    }
                    for n, e in enumerate(case.extensions, start=1)
                ],
            ),
            (
                t.case_lead_copies,
                [
                    {
                        "case_id": cid,
                        "seq": n,
                        "lead": c.lead,
                        "note": c.note,
                        "copied_at": c.copied_at,
                        "remark": c.remark,
                        "remarked_at": c.remarked_at,
                    }
                    for n, c in enumerate(case.lead_copies, start=1)
                ],
            ),
            (
                t.case_supervisions,
                [
                    {
                        "case_id": cid,
                        "seq": n,
                        "note": v.note,
                        "by": v.by,
                        "at": v.at,
                        "answer": v.answer,
                        "answered_at": v.answered_at,
                        "answered_by": v.answered_by,
                    }
                    for n, v in enumerate(case.supervisions, start=1)
                ],
            ),
        ]
        if case.pickup:
            p = case.pickup
            rows.append(
                (
                    t.pickups,
                    [
                        {
                            "case_id": cid,
                            "office_id": p.office_id,
                            "by_proxy": p.by_proxy,
                            "name": p.name,
                            "id_enc": cipher.encrypt(p.id_number) if p.id_number else None,
                            "id_hash": cipher.keyed_hash(p.id_number) if p.id_number else None,
                            "at": p.at,
                            "actor": p.actor,
                            "id_type": p.id_type,
                            "method": p.method,
                            "note": p.note,
                        }
                    ],
                )
            )
        if case.rating:
            r = case.rating
            rows.append(
                (
                    t.ratings,
                    [
                        {
                            "case_id": cid,
                            "score": r.score,
                            "comment": r.comment,
                            "at": r.at,
                            "rectified_at": r.rectified_at,
                            "rectification": r.rectification,
                            "rectify_due_on": r.rectify_due_on,
                        }
                    ],
                )
            )
        for table, values in rows:
            if values:
                await conn.execute(insert(table), values)


# =========================================================================== packages


class SqlPackages:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    async def get(self, package_id: str) -> Package | None:
        known = self._uow.known("package", package_id)
        if isinstance(known, Package):
            return known
        return await self._one("id", package_id)

    async def _one(self, by: str, key: str, **more: str) -> Package | None:
        row = await self._uow.fetch_row(package_statement(self._uow.dialect, by), {"key": key, **more})
        return None if row is None else self._loaded(row)

    def from_row(self, row: Any) -> Package:
        """The package of a row of :func:`package_statement`, tracked by the unit of work (the one
        it already holds, if any)."""
        return self._loaded(row)

    def _loaded(self, row: Any) -> Package:
        """The package of ``row``: the one this unit of work already holds, or loaded and tracked."""
        known = self._uow.known("package", row["id"])
        return known if isinstance(known, Package) else self._uow.track(self._load(row))

    async def by_code(self, compact_code: str) -> Package | None:
        return await self._one("code", compact_code)

    async def by_waybill(self, carrier: str, waybill: str) -> Package | None:
        return await self._one("waybill", waybill, carrier=carrier)

    async def for_case(self, case_id: str) -> Sequence[Package]:
        read = self._uow.case_packages.get(case_id)
        if read is not None:  # read with the case (a unit opened for reading: nothing was added since)
            return list(read)
        conn = self._uow.conn
        rows = await conn.execute(package_statement(conn.dialect.name, "case"), {"key": case_id})
        return [self._loaded(r) for r in rows.mappings().all()]

    async def add(self, package: Package) -> None:
        self._uow.track(package)

    async def next_sequence(self, region: str, day: date) -> int:
        conn = self._uow.conn
        seq = t.package_sequences
        # One atomic upsert: concurrent transactions queue on the row instead of racing.
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        upsert = (
            dialect_insert(seq)
            .values(region=region, day=day, last=1)
            .on_conflict_do_update(index_elements=[seq.c.region, seq.c.day], set_={"last": seq.c.last + 1})
            .returning(seq.c.last)
        )
        return int((await conn.execute(upsert)).scalar_one())

    async def add_manifest(self, manifest: Manifest) -> None:
        self._uow.manifests.append(manifest)

    def _load(self, row: Any) -> Package:
        """The package of a row of :func:`package_statement` (items and chain as JSON columns)."""
        pid = row["id"]
        items = _PACKAGE_CHILDREN["items"].rows(row[_children_prefix("items")])
        chain = _PACKAGE_CHILDREN["custody"].rows(row[_children_prefix("custody")])
        package = Package(
            id=pid,
            code=PackageCode.parse(row["code"]),
            case_id=row["case_id"],
            direction=Direction(row["direction"]),
            medium=Medium(row["medium"]),
            from_party=row["from_party"],
            to_party=row["to_party"],
            items=tuple(
                Item(
                    seq=i["seq"],
                    name=i["name"],
                    copies=i["copies"],
                    pages=i["pages"],
                    original=i["original"],
                    remarks=i["remarks"],
                )
                for i in items
            ),
            created_at=row["created_at"],
            state=PackageState(row["state"]),
            carrier=row["carrier"],
            waybill=row["waybill"],
            holder=row["holder"],
            custody=[custody_from_row({"package_id": pid, **c}) for c in chain],
            exception_kind=ExceptionKind(row["exception_kind"]) if row["exception_kind"] else None,
            version=row["version"],
            purpose=Purpose(row["purpose"]),
            anchor=Anchor(row["chain_length"], row["chain_head"]),
        )
        self._uow.loaded_versions[("package", pid)] = package.version
        self._uow.loaded_chain[pid] = len(package.custody)
        return package

    @staticmethod
    def row_values(package: Package) -> dict[str, Any]:
        """The package row's columns but its id and chain anchor."""
        return {
            "code": package.code.compact,
            "case_id": package.case_id,
            "direction": package.direction.value,
            "medium": package.medium.value,
            "from_party": package.from_party,
            "to_party": package.to_party,
            "state": package.state.value,
            "carrier": package.carrier,
            "waybill": package.waybill,
            "holder": package.holder,
            "exception_kind": package.exception_kind.value if package.exception_kind else None,
            "created_at": package.created_at,
            "last_movement_at": package.last_movement_at,
            "version": package.version,
            "purpose": package.purpose.value,
        }

    async def save(self, conn: AsyncConnection, package: Package) -> None:
        values = self.row_values(package)
        key = ("package", package.id)
        known = self._uow.loaded_chain.get(package.id, 0)
        intact = package.anchor is None or package.anchor == Anchor.of(package.custody[:known])
        if intact:
            anchor = Anchor.of(package.custody)
            values.update(chain_length=anchor.length, chain_head=anchor.head)
            self._uow.written_anchors[package.id] = anchor
        elif len(package.custody) > known:
            raise CustodyChainBroken(str(package.code))
        # else: a change beside the chain (a waybill) leaves the mismatching anchor as evidence
        if key not in self._uow.loaded_versions:
            await conn.execute(insert(t.packages).values(id=package.id, **values))
            await conn.execute(
                insert(t.package_items),
                [
                    {
                        "package_id": package.id,
                        "seq": i.seq,
                        "name": i.name,
                        "copies": i.copies,
                        "pages": i.pages,
                        "original": i.original,
                        "remarks": i.remarks,
                    }
                    for i in package.items
                ],
            )
            known = 0
        else:
            if self._uow.loaded_versions[key] == package.version and known == len(package.custody):
                return
            done = await conn.execute(
                _UPDATE_PACKAGE, {"w_id": package.id, "w_version": self._uow.loaded_versions[key], **values}
            )
            if done.rowcount != 1:
                raise ConcurrentUpdate("材料包")
        new_links = package.custody[known:]
        if new_links:
            await conn.execute(_INSERT_CUSTODY, [custody_to_row(c) for c in new_links])


# A courier's report writes these on every request: built once, their SET and VALUES clauses taken
# from the parameters' names, so SQLAlchemy neither rebuilds them nor coerces values per call.
_UPDATE_PACKAGE = update(t.packages).where(
    t.packages.c.id == bindparam("w_id"), t.packages.c.version == bindparam("w_version")
)
_INSERT_CUSTODY = insert(t.custody_events)
STORE_ANSWER = (
    update(t.idempotency_keys)
    .where(t.idempotency_keys.c.actor == bindparam("w_actor"), t.idempotency_keys.c.key == bindparam("w_key"))
    .values(status=bindparam("w_status"), body=bindparam("w_body"))
)
"""The answer of the request that reserved an idempotency key (queries.store_idempotent_answer)."""


def custody_to_row(c: CustodyEvent) -> dict[str, Any]:
    return {
        "package_id": c.package_id,
        "seq": c.seq,
        "kind": c.kind.value,
        "from_party": c.from_party,
        "to_party": c.to_party,
        "actor": c.actor,
        "server_time": c.server_time,
        "client_time": c.client_time,
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
        "files": [
            {
                "item_seq": f.item_seq,
                "name": f.name,
                "size": f.size,
                "sha256": f.sha256,
                "content_type": f.content_type,
                "pages": f.pages,
            }
            for f in c.files
        ]
        or None,
    }


def custody_from_row(r: Any) -> CustodyEvent:
    return CustodyEvent(
        package_id=r["package_id"],
        seq=r["seq"],
        kind=CustodyKind(r["kind"]),
        from_party=r["from_party"],
        to_party=r["to_party"],
        actor=r["actor"],
        server_time=r["server_time"],
        method=Method(r["method"]),
        client_time=r["client_time"],
        place=r["place"],
        evidence=tuple(r["evidence"]),
        discrepancies=tuple(
            Discrepancy(d["item_seq"], DiscrepancyKind(d["kind"]), d["note"], d["actual_pages"])
            for d in r["discrepancies"]
        ),
        note=r["note"],
        prev_hash=r["prev_hash"],
        hash=r["hash"],
        files=tuple(
            FileEntry(f["item_seq"], f["name"], f["size"], f["sha256"], f["content_type"], f["pages"])
            for f in (r.get("files") or ())
        ),
    )


# =========================================================================== unit of work


class SqlUnitOfWork:
    """One transaction. ``async with uow:`` … ``await uow.commit()``; leaving without a commit
    rolls everything back.

    A request is one unit of work (DESIGN §10): the API enters the unit first, reserves the
    idempotency key, loads the aggregate, and the service handler then enters the same unit again.
    Entered more than once, the unit is one transaction: an inner ``commit`` writes the rows and
    the outbox (a flush) and only the outermost ``commit`` commits, so the answer stored with the
    key and the effects land together or not at all. Within the unit an aggregate is loaded once:
    asking again for the same case or package returns the object already held.

    On PostgreSQL a unit whose only change is one package's step (one custody event and its events)
    writes it in one statement with the request's answer (:meth:`answer`, adapters/db/package_step.py);
    any other change takes the general path, statement by statement."""

    def __init__(
        self,
        engine: AsyncEngine,
        cipher: IdCipher,
        outbox: OutboxWriter,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self.cipher = cipher
        self._outbox = outbox
        self._after_commit = after_commit
        self._conn: AsyncConnection | None = None
        self._raw: PoolProxiedConnection | None = None
        self._depth = 0
        self._reading = False

    @property
    def is_reading(self) -> bool:
        return self._reading

    def reading(self) -> SqlUnitOfWork:
        """This unit of work for reads only (a case view, the tracking page): on PostgreSQL its
        statements run outside a transaction block, which spares the BEGIN and ROLLBACK round
        trips and changes nothing they see — at READ COMMITTED every statement takes its own
        snapshot inside a transaction too. Nothing it loads can be saved: commit is refused."""
        self._reading = True
        return self

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            if self._raw is None:
                raise RuntimeError("unit of work used outside 'async with'")
            self._conn = _autocommit_connection(self._engine, self._raw)
        return self._conn

    @property
    def dialect(self) -> str:
        """The database's dialect name (``postgresql``, ``sqlite``)."""
        return self._engine.dialect.name if self._conn is None else self._conn.dialect.name

    async def fetch_row(self, statement: Any, params: dict[str, Any]) -> Any:
        """The first row of one of the repositories' prepared SELECTs (built once, with bound
        parameters only), as a mapping of its columns; None when there is none.

        A unit opened for reading on PostgreSQL runs it on the pooled connection's asyncpg driver
        directly (:func:`driver_fetch_row`): the same SQL, prepared once per connection by
        asyncpg, without SQLAlchemy's per-execution work (cache key, execution context, result
        processing) — on a case with its packages, two thirds of the read's CPU. Its values are
        those SQLAlchemy gives: the columns' types need no processing on PostgreSQL (aware UTC
        datetimes, JSON decoded by the connection's codec). Everywhere else, and on SQLite
        always, it runs through SQLAlchemy."""
        if self._raw is not None and self._conn is None:
            return await driver_fetch_row(self._raw, self._engine, statement, params)
        return (await self.conn.execute(statement, params)).mappings().first()

    def track(self, aggregate: Any) -> Any:
        self.seen[id(aggregate)] = aggregate
        kind = "case" if isinstance(aggregate, Case) else "package"
        self.identity[(kind, aggregate.id)] = aggregate
        return aggregate

    def known(self, kind: str, aggregate_id: str) -> Case | Package | None:
        """The aggregate this unit of work already loaded (or was given), if any."""
        return self.identity.get((kind, aggregate_id))

    async def __aenter__(self) -> SqlUnitOfWork:
        self._depth += 1
        if self._depth > 1:
            return self
        self.seen: dict[int, Case | Package] = {}
        self.identity: dict[tuple[str, str], Case | Package] = {}
        self.loaded_versions: dict[tuple[str, str], int] = {}
        self.loaded_chain: dict[str, int] = {}
        self.written_anchors: dict[str, Anchor] = {}
        self.manifests: list[Manifest] = []
        self.case_packages: dict[str, list[Package]] = {}
        self._wrote_events = False
        self._answer: tuple[str, str, int, str] | None = None
        self._deferring = False
        self.cases = SqlCases(self)
        self.packages = SqlPackages(self)
        if self._reading and self._engine.dialect.name == "postgresql":
            # A pooled connection without SQLAlchemy's Connection around it (see fetch_row): no
            # transaction block, so no BEGIN and no ROLLBACK either; ``conn`` wraps it on demand.
            try:
                self._raw = await self._engine.raw_connection()
            except BaseException:
                self._depth = 0
                raise
            return self
        try:
            self._conn = await self._engine.connect()
            await self._conn.begin()
        except BaseException:
            self._depth = 0
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
            raise
        return self

    @property
    def matters(self) -> SqlMatters:
        return SqlMatters(self.conn)

    @property
    def offices(self) -> SqlOffices:
        return SqlOffices(self.conn)

    async def __aexit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        raw, self._raw = self._raw, None
        if self._conn is not None:
            try:
                await self._conn.rollback()
            finally:
                await self._conn.close()  # returns ``raw`` too, when it was wrapped
                self._conn = None
        elif raw is not None:
            await greenlet_spawn(raw.close)

    def defer_inner_commits(self) -> None:
        """Let the ``commit`` of an inner unit (the command's, inside the request's) write nothing:
        the outermost ``flush`` or ``commit`` then writes the command's changes together with the
        request's answer (:meth:`answer`) — on PostgreSQL a package's step in one statement. For
        requests whose answer is built from the aggregates held in memory, which read nothing
        back from the database after their command."""
        self._deferring = True

    def answer(self, actor: str, key: str, status: int, body: str) -> None:
        """The answer of the request that reserved the idempotency key (actor, key), stored by the
        next ``flush`` in the transaction of the effects (with them in one statement when it can)."""
        self._answer = (actor, key, status, body)

    async def flush(self) -> None:
        """Write every tracked aggregate's changes, the manifests, the outbox rows of their
        events and the request's answer into the open transaction (nothing is committed yet)."""
        conn = self.conn
        answer, self._answer = self._answer, None
        try:
            if await self._flush_package_step(conn, answer):
                return
        except BaseException:
            self.written_anchors = {}
            raise
        await self._flush_all(conn)
        if answer is not None:
            actor, key, status, body = answer
            await conn.execute(STORE_ANSWER, {"w_actor": actor, "w_key": key, "w_status": status, "w_body": body})

    async def _flush_package_step(self, conn: AsyncConnection, answer: tuple[str, str, int, str] | None) -> bool:
        """PostgreSQL, one package changed by one step (one custody event, its events in its case's
        stream), nothing else: the package, its custody event, the outbox rows and the answer in
        one statement (adapters/db/package_step.py). False when the changes are of another shape:
        the general path writes them."""
        if conn.dialect.name != "postgresql" or self.manifests or len(self.seen) != 1:
            return False
        if self._outbox is not write_outbox:  # another writer keeps its own way
            return False
        [package] = self.seen.values()
        if not isinstance(package, Package):
            return False
        key = ("package", package.id)
        read = self.loaded_versions.get(key)
        known = self.loaded_chain.get(package.id, 0)
        links = package.custody[known:]
        if read is None or read == package.version or not package_step.fits(package, links, package.events):
            return False
        if package.anchor is not None and package.anchor != Anchor.of(package.custody[:known]):
            return False  # the general path refuses it (CustodyChainBroken)
        anchor = Anchor.of(package.custody)
        values = SqlPackages.row_values(package)
        values.update(chain_length=anchor.length, chain_head=anchor.head)
        written = await package_step.write_package_step(
            conn, package, read, custody_to_row(links[0]), package.events, values, answer
        )
        if written is None:
            return False
        if not written:
            raise ConcurrentUpdate("材料包")
        package.collect_events()
        self._wrote_events = True
        self.loaded_versions[key] = package.version
        self.loaded_chain[package.id] = len(package.custody)
        package.anchor = anchor
        return True

    async def _flush_all(self, conn: AsyncConnection) -> None:
        events: list[ev.Event] = []
        # Cases before packages (packages reference their case).
        ordered = sorted(self.seen.values(), key=lambda a: 0 if isinstance(a, Case) else 1)
        for aggregate in ordered:
            if isinstance(aggregate, Case):
                await self.cases.save(conn, aggregate)
            else:
                await self.packages.save(conn, aggregate)
        for manifest in self.manifests:
            await conn.execute(
                insert(t.manifests).values(
                    id=manifest.id,
                    office_id=manifest.office_id,
                    courier=manifest.courier,
                    created_at=manifest.created_at,
                )
            )
            await conn.execute(
                insert(t.manifest_packages),
                [
                    {"manifest_id": manifest.id, "package_id": p, "seq": n}
                    for n, p in enumerate(manifest.package_ids, 1)
                ],
            )
        self.manifests = []
        for aggregate in ordered:
            events.extend(aggregate.collect_events())
        if events:
            await self._outbox(conn, events)
            self._wrote_events = True
        for aggregate in ordered:
            key = ("case" if isinstance(aggregate, Case) else "package", aggregate.id)
            self.loaded_versions[key] = aggregate.version
            if isinstance(aggregate, Package):
                self.loaded_chain[aggregate.id] = len(aggregate.custody)
                aggregate.anchor = self.written_anchors.get(aggregate.id, aggregate.anchor)
        self.written_anchors = {}

    async def commit(self) -> None:
        """Flush, and — in the outermost unit only — commit the transaction."""
        if self._reading:
            raise RuntimeError("a unit of work opened for reading does not commit")
        if self._depth > 1:
            if not self._deferring:
                await self.flush()
            return
        await self.flush()
        conn = self.conn
        await conn.commit()
        if self._wrote_events and self._after_commit is not None:
            self._after_commit()  # wake the outbox relay
        self._wrote_events = False
        await conn.begin()

    async def rollback(self) -> None:
        self.written_anchors = {}
        self._answer = None
        await self.conn.rollback()
        await self.conn.begin()


def _autocommit_connection(engine: AsyncEngine, raw: PoolProxiedConnection) -> AsyncConnection:
    """A SQLAlchemy connection on ``raw``, a pooled connection checked out by a unit opened for
    reading, for the rare statement the repositories do not run themselves (the results of a
    decided case, say): in autocommit, as the rest of the unit. Closing it returns ``raw`` to the
    pool, where the isolation level is reset as after any connection's autocommit."""
    connection = Connection(engine.sync_engine, connection=raw)
    connection.execution_options(isolation_level="AUTOCOMMIT")  # no I/O: no transaction is open
    return AsyncConnection(engine, connection)


_DRIVER_SQL: dict[int, tuple[Any, str, tuple[str, ...]]] = {}


def _driver_sql(engine: AsyncEngine, statement: Any) -> tuple[str, tuple[str, ...]]:
    """The SQL text of a statement built once (its object lives as long as the process) and the
    names of its bound parameters in the order of ``$1, $2…``; compiled once per statement."""
    found = _DRIVER_SQL.get(id(statement))
    if found is None or found[0] is not statement:
        compiled = statement.compile(dialect=engine.dialect)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("a statement with expanding parameters has no fixed SQL text")
        found = _DRIVER_SQL[id(statement)] = (statement, compiled.string, tuple(compiled.positiontup or ()))
    return found[1], found[2]


async def driver_fetch_row(
    raw: PoolProxiedConnection, engine: AsyncEngine, statement: Any, params: dict[str, Any]
) -> Mapping[str, Any] | None:
    """``statement``'s first row on ``raw``'s asyncpg connection (prepared once per connection by
    asyncpg's statement cache; outside a transaction block). A failure that leaves the connection
    in doubt — lost, cancelled mid-statement, timed out — invalidates it in the pool (it is closed
    and the pool opens a new one), as SQLAlchemy does on a disconnect; the error goes on to the
    caller unchanged (a lost database: 503 with Retry-After, api/outages.py)."""
    sql, names = _driver_sql(engine, statement)
    driver: Any = raw.driver_connection
    try:
        row: Mapping[str, Any] | None = await driver.fetchrow(sql, *[params[name] for name in names])
    except BaseException as error:
        if not _connection_survives(error, driver):
            raw.invalidate(error if isinstance(error, Exception) else None)
        raise
    return row


def _connection_survives(error: BaseException, driver: Any) -> bool:
    """Whether the connection is still usable after ``error``: only after the server refused a
    statement (a SQL error, its session intact)."""
    if driver is None or driver.is_closed():
        return False
    return isinstance(error, asyncpg.PostgresError) and not isinstance(
        error,
        (
            asyncpg.exceptions.PostgresConnectionError,
            asyncpg.exceptions.OperatorInterventionError,  # 57P: shutdown, cancelled by the server
        ),
    )


class ConnectionReader(SqlUnitOfWork):
    """The repositories on a connection (and transaction) the caller already holds — a consumer's
    inbox transaction, say — for reading aggregates only: nothing is saved, commit is refused."""

    def __init__(self, conn: AsyncConnection, cipher: IdCipher) -> None:
        self.cipher = cipher
        self._conn = conn
        self._raw = None
        self._after_commit = None
        self._depth = 1
        self.seen = {}
        self.identity = {}
        self.loaded_versions = {}
        self.loaded_chain = {}
        self.written_anchors = {}
        self.manifests = []
        self.case_packages = {}
        self._reading = False
        self._answer = None
        self._deferring = False
        self.cases = SqlCases(self)
        self.packages = SqlPackages(self)

    async def __aenter__(self) -> SqlUnitOfWork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def commit(self) -> None:
        raise RuntimeError("a ConnectionReader only reads")
