"""The composition root: the one place that builds the object graph from Settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.blobs import FileBlobStore
from adapters.broker.bus import Bus
from adapters.broker.memory import MemoryBus
from adapters.broker.rabbit import RabbitBus
from adapters.calendar import load_calendar
from adapters.crypto import IdCipher
from adapters.db import queries
from adapters.db.engine import make_engine
from adapters.db.migrate import current_revision, upgrade
from adapters.db.outbox import write_outbox
from adapters.db.repositories import SqlUnitOfWork
from adapters.logistics.factory import build_push_receivers
from adapters.settings import Settings
from adapters.sms.factory import build_report_receivers
from api.container import Container
from handoff.calendar import ScheduleCalendar
from handoff.codes import KeyRing, ScanSigner, TrackingTokens
from handoff.services import Deps
from worker.relay import OutboxPoke, OutboxRelay

log = logging.getLogger("handoff")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    bus: Bus
    relay: OutboxRelay
    container: Container
    notes: list[str] = field(default_factory=list)

    async def close(self) -> None:
        self.relay.stop()
        await self.bus.close()
        await self.engine.dispose()


def make_bus(settings: Settings) -> Bus:
    if settings.broker_backend == "memory":
        return MemoryBus()
    return RabbitBus(settings.broker_url)


async def prepare_database(settings: Settings, engine: AsyncEngine) -> None:
    """The embedded SQLite database migrates itself; PostgreSQL is migrated by `handoff migrate`
    (one deliberate step, not N API replicas racing) and must be at the newest revision."""
    if settings.database_backend == "sqlite":
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        await upgrade(engine)
        return
    from alembic.script import ScriptDirectory

    from adapters.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    current = await current_revision(engine)
    if current != head:
        raise RuntimeError(f"数据库结构版本为 {current}，最新为 {head}：请先运行 handoff migrate")


async def build(settings: Settings) -> Runtime:
    engine = make_engine(settings.database_url)
    await prepare_database(settings, engine)
    async with engine.connect() as conn:
        stored = await queries.schedules(conn)
    calendar: ScheduleCalendar = load_calendar(stored)
    bus = make_bus(settings)
    relay = OutboxRelay(
        engine,
        bus,
        batch=settings.relay_batch,
        poll_seconds=settings.relay_poll_seconds,
        listen_url=settings.database_url.replace("+asyncpg", "") if settings.database_backend == "postgresql" else None,
    )
    poke = OutboxPoke(engine, local=relay)
    cipher = IdCipher(settings.id_key_ring(), settings.id_hash_key_bytes())

    async def database_ready() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def broker_ready() -> None:
        if isinstance(bus, RabbitBus) and (bus._connection is None or bus.connection.is_closed):
            raise ConnectionError("RabbitMQ connection is closed")

    container = Container(
        engine=engine,
        uow=lambda: SqlUnitOfWork(engine, cipher, write_outbox, after_commit=poke),
        deps=Deps(clock=SystemClock(), calendar=calendar, tracking=TrackingTokens(settings.tracking_key_bytes())),
        signer=ScanSigner(KeyRing(settings.scan_key_ring()), settings.scan_base_url),
        cipher=cipher,
        blobs=FileBlobStore(Path(settings.blob_dir)),
        public_base_url=settings.public_base_url,
        readiness={"database": database_ready, "broker": broker_ready},
        sms_receivers=build_report_receivers(settings.extra),
        carrier_receivers=build_push_receivers(settings.extra, SystemClock()),
        bus=bus,
    )
    runtime = Runtime(settings=settings, engine=engine, bus=bus, relay=relay, container=container)
    if settings.uses_dev_secrets():
        runtime.notes.append(
            "警告：正在使用开发用默认密钥。生产环境请设置 HANDOFF_SCAN_KEYS、HANDOFF_TRACKING_KEY、"
            "HANDOFF_ID_KEYS、HANDOFF_ID_HASH_KEY。"
        )
    last = calendar.last_covered_year()
    from handoff.calendar import next_year_missing

    missing = next_year_missing(calendar, datetime.now(UTC).date())
    if missing is not None:
        runtime.notes.append(
            f"提醒：尚未载入 {missing} 年的节假日安排（目前覆盖到 {last} 年），"
            f"请在管理接口上传国务院通知对应的日程文件；在此之前该年的期限为临时结果。"
        )
    return runtime
