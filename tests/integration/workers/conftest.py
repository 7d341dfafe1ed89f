"""A small world for the workers' tests: the demo offices and matters on a migrated database
(SQLite or PostgreSQL), a clock the test moves, the services, and the staff with phones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.calendar import LiveCalendar
from adapters.db import queries
from adapters.db.admin import update_user
from adapters.db.repositories import SqlUnitOfWork
from adapters.demo import load_demo_world
from handoff.case import MaterialSubmission
from handoff.codes import TrackingTokens, hash_token
from handoff.matter import Delivery, Mode
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
from tests.support.db import CIPHER, postgres_engine, sqlite_engine, write_outbox
from tests.support.outbox import OutboxFeed

STAFF = [
    ("clerk-lf", "陈晓红", "window_clerk", "office:win-441581", "13800000001"),
    ("dept-zj", "林志强", "dept_clerk", "office:dept-441500-zj", "13800000002"),
    ("lead-zj", "黄建国", "dept_lead", "office:dept-441500-zj", "13800000003"),
    ("dept-qx", "周敏", "dept_clerk", "office:dept-441500-qx", "13800000004"),
    ("supervisor", "郑丽娟", "supervisor", "region:4415", "13800000005"),
    ("admin", "系统管理员", "admin", "*", "13800000006"),
]
BUILDING_MATERIALS = ("建设工程规划许可申请表", "建设工程设计方案", "土地权属证明")


@dataclass
class World:
    engine: AsyncEngine
    clock: FixedClock
    calendar: LiveCalendar
    deps: Deps
    tracking: TrackingTokens

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, CIPHER, write_outbox)

    async def run(self, cmd: object) -> list:
        return await dispatch(cmd, self.uow(), self.deps)

    async def case(self, name: str, case_id: str, **args: object) -> list:
        return await self.run(CaseCommand(case_id=case_id, name=name, actor="dept-zj", args=dict(args)))

    async def register(self, matter_id: str = "m-jsgc-xk", **over: object) -> str:
        fields: dict[str, object] = {
            "matter_id": matter_id,
            "mode": Mode.PROXY_COLLECT,
            "delivery": Delivery.MAIL_TO_APPLICANT,
            "applicant_name": "张小三",
            "applicant_phone": "13812345678",
            "applicant_address": "陆丰市东海街道人民路 8 号",
            "window_office_id": "win-441581",
            "actor": "clerk-lf",
            "materials": [MaterialSubmission(n) for n in BUILDING_MATERIALS],
        }
        fields.update(over)
        [collected, *_] = await self.run(RegisterCase(**fields))  # type: ignore[arg-type]
        assert collected.case_id is not None
        return collected.case_id

    async def seal(self, case_id: str) -> str:
        events = await self.run(SealOutbound(case_id=case_id, actor="clerk-lf"))
        return next(e.package_id for e in events if e.type == "package.created")

    async def to_department(self, case_id: str, office: str = "dept-441500-zj") -> str:
        """Seal, hand to the courier, deliver and sign: the department has received the case."""
        package_id = await self.seal(case_id)
        await self.run(HandOverBatch(office_id="win-441581", courier="courier-07", package_ids=[package_id], actor="c"))
        await self.run(CourierReport(package_id=package_id, step="delivered", courier="courier-07", actor="c"))
        await self.run(SignPackage(package_id=package_id, office_id=office, actor="dept-zj"))
        return package_id

    async def ship_result(self, case_id: str) -> str:
        """Seal the result package and hand it to the courier: the result has left the department."""
        events = await self.run(ShipResult(case_id=case_id, actor="dept-zj"))
        package_id = next(e.package_id for e in events if e.type == "package.created")
        assert package_id is not None
        await self.run(CourierReport(package_id=package_id, step="picked_up", courier="courier-07", actor="c"))
        return package_id

    def at(self, year: int, month: int, day: int, hour: int = 10) -> None:
        """Move the clock to a local (Asia/Shanghai) time."""
        self.clock.at = datetime(year, month, day, hour, tzinfo=UTC) - timedelta(hours=8)

    def feed(self, *handlers) -> OutboxFeed:
        return OutboxFeed(self.engine, *handlers)


async def make_world(engine: AsyncEngine) -> World:
    clock = FixedClock()
    async with engine.begin() as conn:
        await load_demo_world(conn)
        for user_id, name, role, scope, phone in STAFF:
            # These staff differ from the demo users of the same ids (scope, phone): set them as
            # an admin's user update would; issuing a token never changes a user.
            await update_user(conn, user_id, name=name, role=role, scope=scope, phone=phone)
            await queries.create_user_token(
                conn,
                user_id=user_id,
                name=name,
                role=role,
                scope=scope,
                phone=phone,
                token_hash=hash_token(f"tok-{user_id}"),
                at=clock.now(),
                expires_at=clock.now() + timedelta(days=3650),
            )
    calendar = LiveCalendar()
    tracking = TrackingTokens(b"track-key-for-tests-only-32byte")
    return World(engine, clock, calendar, Deps(clock=clock, calendar=calendar, tracking=tracking), tracking)


@pytest.fixture(params=["sqlite", "postgresql"])
async def world(request, tmp_path):
    gen = sqlite_engine(tmp_path) if request.param == "sqlite" else postgres_engine()
    engine = await gen.__anext__()
    yield await make_world(engine)
    await gen.aclose()


@pytest.fixture
async def pg_world():
    gen = postgres_engine()
    engine = await gen.__anext__()
    yield await make_world(engine)
    await gen.aclose()
