"""The unit of work and repositories: one contract, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from adapters.db import domain_tables as t
from adapters.db.repositories import ConcurrentUpdate, save_matter
from handoff.case import CaseState, MaterialSubmission
from handoff.codes import TrackingTokens
from handoff.errors import MissingMaterials
from handoff.matter import Delivery, Mode
from handoff.package import Discrepancy, DiscrepancyKind, PackageState
from handoff.services import (
    CaseCommand,
    CourierReport,
    Deps,
    HandOverBatch,
    RegisterCase,
    SealOutbound,
    ShipResult,
    SignPackage,
    dispatch,
)
from tests.fakes.uow import FixedClock
from tests.support.db import read_outbox
from tests.unit.domain.conftest import BUILDING, LIGHTNING

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(domain_db, calendar):
    return await _world(domain_db, calendar)


@pytest.fixture
async def pg_world(pg_domain_db, calendar):
    return await _world(pg_domain_db, calendar)


async def _world(db, calendar):
    engine, make_uow = db
    async with engine.begin() as conn:
        await conn.execute(
            t.regions.insert(),
            [
                {"code": "441500", "name": "汕尾市", "parent_code": None, "lat": 22.786, "lon": 115.375},
                {"code": "441581", "name": "陆丰市", "parent_code": "441500", "lat": 22.945, "lon": 115.644},
            ],
        )
        await conn.execute(
            t.offices.insert(),
            [
                {
                    "id": "win-441581",
                    "name": "陆丰市市域通办窗口",
                    "kind": "window",
                    "region_code": "441581",
                    "lat": 22.945,
                    "lon": 115.644,
                    "address": "",
                    "phone": "",
                    "carrier": "internal",
                },
                {
                    "id": "dept-441500-zj",
                    "name": "汕尾市住建局",
                    "kind": "department",
                    "region_code": "441500",
                    "lat": 22.786,
                    "lon": 115.375,
                    "address": "",
                    "phone": "",
                    "carrier": "internal",
                },
                {
                    "id": "dept-441500-qx",
                    "name": "汕尾市气象局",
                    "kind": "department",
                    "region_code": "441500",
                    "lat": 22.786,
                    "lon": 115.375,
                    "address": "",
                    "phone": "",
                    "carrier": "internal",
                },
            ],
        )
        for matter in (BUILDING, LIGHTNING):
            await save_matter(conn, matter)
    clock = FixedClock()
    ids = iter(f"id-{n}" for n in range(1, 10000))
    deps = Deps(clock=clock, calendar=calendar, tracking=TrackingTokens(b"t" * 32), new_id=lambda: next(ids))
    return engine, make_uow, clock, deps


def register(matter=BUILDING, **kw):
    return RegisterCase(
        matter_id=matter.id,
        mode=Mode.PROXY_COLLECT,
        delivery=Delivery.MAIL_TO_APPLICANT,
        applicant_name="张小三",
        applicant_phone="13812345678",
        applicant_id_number="11010519491231002X",
        applicant_address="陆丰市东海街道人民路 8 号",
        window_office_id="win-441581",
        materials=[MaterialSubmission(m.name, pages=2) for m in matter.materials if m.required],
        actor="clerk",
        **kw,
    )


async def test_a_whole_journey_is_saved_and_read_back_with_its_outbox(world):
    engine, make_uow, clock, deps = world

    async def run(cmd):
        clock.at += timedelta(minutes=30)
        return await dispatch(cmd, make_uow(), deps)

    [collected] = await run(register())
    case_id = collected.case_id
    await run(SealOutbound(case_id=case_id, actor="clerk"))
    async with make_uow() as uow:
        [package] = await uow.packages.for_case(case_id)
    await run(HandOverBatch(office_id="win-441581", courier="c-07", package_ids=[package.id], actor="c-07"))
    await run(CourierReport(package_id=package.id, step="in_transit", courier="c-07", actor="c-07", place="海丰中转"))
    await run(
        SignPackage(
            package_id=package.id,
            office_id="dept-441500-zj",
            actor="d",
            discrepancies=[Discrepancy(1, DiscrepancyKind.DAMAGED, "封面破损")],
        )
    )
    await run(CaseCommand(case_id=case_id, name="accept", actor="d"))
    await run(
        CaseCommand(
            case_id=case_id,
            name="open_stage",
            actor="d",
            args={"stage_type": "expert_review", "reason": "评审", "legal_basis": "行政许可法第四十五条"},
        )
    )
    await run(
        CaseCommand(case_id=case_id, name="extend", actor="d", args={"days": 5, "approver": "局长", "reason": "r"})
    )
    async with make_uow() as uow:
        case = await uow.cases.get(case_id)
        stage_id = case.stages[0].id
    await run(CaseCommand(case_id=case_id, name="close_stage", actor="d", args={"stage_id": stage_id}))
    await run(CaseCommand(case_id=case_id, name="decide", actor="d", args={"outcome": "approved", "opinion": "同意"}))
    shipped = await run(ShipResult(case_id=case_id, actor="d"))
    result_id = next(e.package_id for e in shipped if e.type == "package.created")
    await run(CourierReport(package_id=result_id, step="picked_up", courier="c", actor="c"))
    await run(CaseCommand(case_id=case_id, name="deliver", actor="c"))
    await run(CaseCommand(case_id=case_id, name="rate", actor="a", args={"score": 2, "comment": "慢"}))

    async with make_uow() as uow:
        case = await uow.cases.get(case_id)
        assert case.state is CaseState.DELIVERED
        assert case.applicant.id_number == "11010519491231002X"
        assert case.stages[0].end_on is not None and case.extensions[0].days == 5 and case.rating.score == 2
        outbound = await uow.packages.get(package.id)
        assert outbound.state is PackageState.SIGNED and outbound.verify().ok
        assert outbound.custody[-1].discrepancies[0].note == "封面破损"
        assert (await uow.cases.by_tracking_hash(deps.tracking.hash_for(case_id))).id == case_id
    async with engine.connect() as conn:
        stored = (await conn.execute(select(t.cases.c.applicant_id_enc, t.cases.c.applicant_id_hash))).one()
        assert "11010519491231002X" not in stored[0] and len(stored[1]) == 64
        chain = (await conn.execute(select(func.count()).select_from(t.custody_events))).scalar_one()
        assert chain == len(outbound.custody) + 3  # plus the result package's created, sealed, picked up
    outbox = await read_outbox(engine)
    assert outbox[0] == "case.collected" and outbox[-1] == "case.rated" and len(outbox) == 19


async def test_nothing_is_written_unless_committed(world):
    engine, make_uow, _, deps = world
    incomplete = replace(register(LIGHTNING), materials=[MaterialSubmission("防雷装置竣工图纸")])
    with pytest.raises(MissingMaterials):
        await dispatch(incomplete, make_uow(), deps)
    case_id = (await dispatch(register(), make_uow(), deps))[0].case_id
    async with make_uow() as uow:
        case = await uow.cases.get(case_id)
        case.withdraw(reason="不办了", at=deps.clock.now(), actor="a")
        await uow.cases.add(case)
        # leaving without commit
    async with make_uow() as uow:
        assert (await uow.cases.get(case_id)).state is CaseState.COLLECTED
    assert await read_outbox(engine) == ["case.collected"]


async def test_two_writers_of_one_case_cannot_both_win(pg_world):
    _, make_uow, clock, deps = pg_world
    case_id = (await dispatch(register(), make_uow(), deps))[0].case_id
    async with make_uow() as first, make_uow() as second:
        a = await first.cases.get(case_id)
        b = await second.cases.get(case_id)
        a.withdraw(reason="申请人撤回", at=clock.now(), actor="a")
        await first.commit()
        b.forward(at=clock.now(), actor="w")
        with pytest.raises(ConcurrentUpdate):
            await second.commit()
    async with make_uow() as uow:
        assert (await uow.cases.get(case_id)).state is CaseState.WITHDRAWN


async def test_package_sequences_are_unique_under_concurrency(world):
    _, make_uow, _, deps = world
    case_ids = [(await dispatch(register(), make_uow(), deps))[0].case_id for _ in range(6)]
    results = await asyncio.gather(
        *(dispatch(SealOutbound(case_id=c, actor="clerk"), make_uow(), deps) for c in case_ids)
    )
    codes = [next(e.code for e in r if e.type == "package.created") for r in results]
    assert len(set(codes)) == 6
    # the six case numbers took 1–6 of the same daily sequence
    assert sorted(int(c.split("-")[2]) for c in codes) == [7, 8, 9, 10, 11, 12]


async def test_every_child_row_read_in_the_aggregates_one_statement_equals_the_row_read_on_its_own(world):
    """The JSON aggregation (adapters/db/repositories.py) gives back each column's own value and
    type — dates, aware UTC datetimes, booleans, JSON — as a plain SELECT of the child table does."""
    from adapters.db.repositories import _CASE_CHILDREN, _PACKAGE_CHILDREN, case_statement, package_statement

    engine = world[0]
    await test_a_whole_journey_is_saved_and_read_back_with_its_outbox(world)
    async with engine.connect() as conn:
        dialect = conn.dialect.name
        compared = 0
        for statement, children, parent in (
            (case_statement(dialect, "id"), _CASE_CHILDREN, t.cases),
            (package_statement(dialect, "id"), _PACKAGE_CHILDREN, t.packages),
        ):
            for parent_id in (await conn.execute(select(parent.c.id))).scalars():
                row = (await conn.execute(statement, {"key": parent_id})).mappings().one()
                for name, child in children.items():
                    plain = await conn.execute(
                        select(*child.columns).where(child.key == parent_id).order_by(*child.columns[:1])
                    )
                    expected = sorted(
                        (dict(r) for r in plain.mappings()), key=lambda r: tuple(r[n] for n in child.order)
                    )
                    assert child.rows(row[f"children_{name}"]) == expected, name
                    compared += len(expected)
        assert compared >= 15  # materials, a stage, an extension, a rating, items, custody events


async def test_a_unit_opened_for_reading_reads_what_a_transaction_reads(world):
    """On PostgreSQL a unit opened for reading runs the repositories' statements on the asyncpg
    driver itself (SqlUnitOfWork.fetch_row): the same rows, values and types as through
    SQLAlchemy, and the same aggregates."""
    from adapters.db.repositories import case_statement, package_statement

    engine, make_uow = world[0], world[1]
    await test_a_whole_journey_is_saved_and_read_back_with_its_outbox(world)
    async with engine.connect() as conn:
        case_ids = list((await conn.execute(select(t.cases.c.id))).scalars())
        package_ids = list((await conn.execute(select(t.packages.c.id))).scalars())
        dialect = conn.dialect.name
        expected = {
            key: dict((await conn.execute(statement, {"key": key})).mappings().one())
            for statement, keys in (
                (case_statement(dialect, "id", packages=True), case_ids),
                (package_statement(dialect, "id"), package_ids),
            )
            for key in keys
        }
    assert case_ids and package_ids
    async with make_uow().reading() as reader:
        for statement, keys in (
            (case_statement(dialect, "id", packages=True), case_ids),
            (package_statement(dialect, "id"), package_ids),
        ):
            for key in keys:
                row = await reader.fetch_row(statement, {"key": key})
                assert dict(row.items()) == expected[key]
                assert {k: type(v) for k, v in row.items()} == {k: type(v) for k, v in expected[key].items()}
        read_cases = [await reader.cases.get(key, packages=True) for key in case_ids]
        read_packages = [await reader.packages.for_case(key) for key in case_ids]
    async with make_uow() as unit:
        assert read_cases == [await unit.cases.get(key) for key in case_ids]
        assert read_packages == [list(await unit.packages.for_case(key)) for key in case_ids]


async def test_a_reading_connection_lost_mid_read_is_invalidated_and_the_next_read_reconnects(pg_world):
    """A pooled connection that dies under a read (here: its backend terminated after the checkout,
    which therefore did not see it) fails that read with an error that means "database unavailable"
    (503) and is invalidated in the pool — closed, never handed out again; the next read works."""
    from sqlalchemy import event

    from adapters.outages import unavailable

    engine, make_uow, _, deps = pg_world
    [collected] = await dispatch(register(), make_uow(), deps)
    invalidated: list[BaseException | None] = []
    event.listen(engine.sync_engine.pool, "invalidate", lambda _c, _r, error: invalidated.append(error))
    with pytest.raises(Exception) as failed:  # whatever asyncpg raises for a lost session
        async with make_uow().reading() as reader:
            driver = reader._raw.driver_connection
            pid = driver.get_server_pid()
            async with engine.connect() as other:
                await other.execute(select(func.pg_terminate_backend(pid)))
            for _ in range(100):  # until the server has ended the session
                if driver.is_closed():
                    break
                await asyncio.sleep(0.02)
            await reader.cases.get(collected.case_id, packages=True)
    assert unavailable(failed.value) == "database", repr(failed.value)
    assert invalidated and driver.is_closed()
    async with make_uow().reading() as reader:
        assert reader._raw.driver_connection.get_server_pid() != pid
        case = await reader.cases.get(collected.case_id, packages=True)
        assert case is not None and case.id == collected.case_id


async def test_a_reading_unit_runs_other_statements_in_autocommit_and_leaves_the_pool_as_it_found_it(pg_world):
    """A statement the repositories do not run themselves (``uow.conn``) goes through SQLAlchemy on
    the same pooled connection, outside a transaction block; back in the pool, the connection is
    transactional again (its next user's BEGIN and ROLLBACK are not skipped)."""
    _, make_uow, _, deps = pg_world
    [collected] = await dispatch(register(), make_uow(), deps)
    async with make_uow().reading() as reader:
        adapter = reader._raw.dbapi_connection
        assert (await reader.conn.execute(select(func.count()).select_from(t.cases))).scalar_one() == 1
        assert adapter.autocommit and adapter._transaction is None  # no BEGIN was sent
        case = await reader.cases.get(collected.case_id)  # through SQLAlchemy now, on the same connection
        assert case is not None and case.id == collected.case_id
    assert not adapter.autocommit and adapter.isolation_level != "autocommit"
