"""The composition root: the one place that builds the object graph from Settings."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.blobs import FileBlobStore, PgBlobStore
from adapters.broker.bus import Bus
from adapters.broker.memory import MemoryBus
from adapters.broker.rabbit import RabbitBus
from adapters.broker.topology import GROUPS, Group, groups
from adapters.calendar import LiveCalendar
from adapters.crypto import Ed25519Signer, IdCipher
from adapters.db.engine import make_engine, ping
from adapters.db.migrate import current_revision, upgrade
from adapters.db.outbox import write_outbox
from adapters.db.repositories import SqlUnitOfWork
from adapters.logistics.factory import build_bookers, build_push_receivers, build_trackers
from adapters.passwords import use_cost
from adapters.settings import Settings
from adapters.sms.factory import build_report_receivers, build_sender, build_status_queries
from adapters.sms.settings import SettingsError
from api.container import Container
from api.ratelimit import RateLimits
from api.rendering import Renderers, export_pool
from handoff.calendar import next_year_missing
from handoff.codes import KeyRing, ScanSigner, TrackingTokens
from handoff.errors import InvalidInput
from handoff.ports import BlobStore
from handoff.services import Deps
from worker.deadlines import DeadlineSettings, DeadlineWatcher
from worker.group import Worker
from worker.logistics import Logistics, LogisticsSettings, courier_labels
from worker.metrics import WorkerMetrics
from worker.notifications import Notifier, SweepSettings
from worker.projections import Projector
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
    calendar: LiveCalendar
    metrics: WorkerMetrics
    notes: list[str] = field(default_factory=list)
    last_calendar_note: str | None = None

    async def close(self) -> None:
        self.relay.stop()
        await self.bus.close()
        if isinstance(self.container.blobs, PgBlobStore):
            await self.container.blobs.close()
        await self.engine.dispose()


def make_bus(settings: Settings) -> Bus:
    if settings.broker_backend == "memory":
        return MemoryBus()
    return RabbitBus(settings.broker_urls, prefix=settings.broker_prefix)


async def prepare_database(settings: Settings, engine: AsyncEngine) -> None:
    """The embedded SQLite database migrates itself; PostgreSQL is migrated by `handoff migrate`
    (one deliberate step, not N API replicas racing) and must be at the newest revision."""
    if settings.database_backend == "sqlite":
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # One line for the whole upgrade, not one per revision: a first start makes them all.
        alembic_log = logging.getLogger("alembic")
        level = alembic_log.level
        alembic_log.setLevel(max(logging.WARNING, level))
        try:
            before = await current_revision(engine)
            await upgrade(engine)
            after = await current_revision(engine)
        finally:
            alembic_log.setLevel(level)
        if after != before:
            log.info("database migrated", extra={"from_revision": before or "empty", "to_revision": after})
        return
    from alembic.script import ScriptDirectory

    from adapters.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    current = await current_revision(engine)
    if current != head:
        raise RuntimeError(f"数据库结构版本为 {current}，最新为 {head}：请先运行 handoff migrate")


def make_blob_store(settings: Settings) -> BlobStore:
    """Files under HANDOFF_BLOB_DIR for the embedded start; PostgreSQL whenever the database is
    PostgreSQL, so that every API replica and worker sees the same blobs (DESIGN §11).
    HANDOFF_BLOB_STORE=fs|database overrides; the database store has a small pool of its own."""
    choice = settings.blob_store.strip().lower() or ("database" if settings.database_backend == "postgresql" else "fs")
    if choice == "fs":
        return FileBlobStore(Path(settings.blob_dir))
    if choice != "database":
        raise InvalidInput(f"HANDOFF_BLOB_STORE 的值 {settings.blob_store} 无效，应为 fs 或 database")
    if settings.database_backend != "postgresql":
        # SQLite has one connection, which a request's own transaction holds while it stores evidence.
        raise InvalidInput("HANDOFF_BLOB_STORE=database 需要 PostgreSQL 数据库；使用 SQLite 时请设为 fs")
    return PgBlobStore.for_url(settings.database_url)


async def build(settings: Settings) -> Runtime:
    use_cost(settings.password_cost)
    blobs = make_blob_store(settings)
    engine = make_engine(settings.database_url)
    await prepare_database(settings, engine)
    calendar = LiveCalendar()
    async with engine.connect() as conn:
        await calendar.refresh(conn)
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
        await ping(engine)

    async def broker_ready() -> None:
        if isinstance(bus, RabbitBus) and not bus.connected:
            raise ConnectionError("RabbitMQ connection is closed")

    container = Container(
        engine=engine,
        uow=lambda: SqlUnitOfWork(engine, cipher, write_outbox, after_commit=poke),
        deps=Deps(
            clock=SystemClock(),
            calendar=calendar,
            tracking=TrackingTokens(settings.tracking_key_bytes()),
            offline_max_days=settings.offline_max_days,
        ),
        signer=ScanSigner(KeyRing(settings.scan_key_ring()), settings.scan_base_url),
        cipher=cipher,
        blobs=blobs,
        public_base_url=settings.public_base_url,
        readiness={"database": database_ready, "broker": broker_ready},
        sms_receivers=build_report_receivers(settings.extra),
        carrier_receivers=build_push_receivers(settings.extra, SystemClock()),
        bus=bus,
        broker_prefix=settings.broker_prefix,
        stall_days=LogisticsSettings.from_env(settings.extra).stall_days,
        evidence_daily_bytes=settings.evidence_daily_mb * 1024 * 1024,
        token_lifetimes=settings.token_lifetimes(),
        session_idle_minutes=settings.session_idle(),
        rate_limits=rate_limits(settings),
        renderers=Renderers(exports=export_pool(settings.export_workers)),
        review_bodies=settings.review_bodies(),
        courts=settings.courts(),
        principal_cache_seconds=settings.principal_cache_seconds,
    )
    runtime = Runtime(
        settings=settings,
        engine=engine,
        bus=bus,
        relay=relay,
        container=container,
        calendar=calendar,
        metrics=WorkerMetrics(CollectorRegistry()),
    )
    if settings.uses_dev_secrets():
        runtime.notes.append(f"警告：正在使用开发用默认密钥。生产环境请设置 {'、'.join(settings.dev_keys_in_use())}。")
    if not settings.review_body or not settings.court:
        runtime.notes.append(
            "提示：未设置 HANDOFF_REVIEW_BODY 或 HANDOFF_COURT，决定书中的行政复议机关和人民法院按审批部门所在"
            "行政区划推定，请核实后配置。"
        )
    note = calendar_note(calendar, datetime.now(UTC).date())
    if note:
        runtime.notes.append(note)
    return runtime


def rate_limits(settings: Settings) -> RateLimits:
    try:
        proxies = RateLimits.parse_proxies(settings.trusted_proxies)
    except ValueError as exc:
        raise InvalidInput(f"HANDOFF_TRUSTED_PROXIES 中有无效的地址：{exc}") from exc
    return RateLimits(
        api_per_minute=settings.rate_api_per_minute,
        api_burst=settings.rate_api_burst,
        track_per_minute=settings.rate_track_per_minute,
        track_burst=settings.rate_track_burst,
        auth_failures_per_minute=settings.rate_auth_failures_per_minute,
        auth_failures_burst=settings.rate_auth_failures_per_minute,
        max_addresses=settings.rate_max_addresses,
        trusted_proxies=proxies,
    )


def calendar_note(calendar: LiveCalendar, today: date) -> str | None:
    """From November on, while next year's holiday schedule is not loaded: say so (DESIGN §5)."""
    missing = next_year_missing(calendar.current, today)
    if missing is None:
        return None
    return (
        f"提醒：尚未载入 {missing} 年的节假日安排（目前覆盖到 {calendar.current.last_covered_year()} 年），"
        f"请在管理接口上传国务院通知对应的日程文件；在此之前该年的期限为临时结果。"
    )


GROUP_NAMES = tuple(GROUPS)


def consumer_groups(settings: Settings) -> dict[str, Group]:
    return groups(settings.broker_prefix)


def periodic_checks(runtime: Runtime, workers: Mapping[str, Worker]) -> Callable[[], Awaitable[None]]:
    """What the metrics sampler also does every few seconds: the calendar, the stalled packages."""
    logistics = workers.get("logistics")

    async def check() -> None:
        await refresh_calendar(runtime)
        if isinstance(logistics, Logistics):
            runtime.metrics.stalled.set(logistics.stalled_count)

    return check


async def refresh_calendar(runtime: Runtime) -> None:
    """Pick up a schedule another process stored; report a missing next year (log and metric)."""
    async with runtime.engine.connect() as conn:
        await runtime.calendar.refresh(conn)
    note = calendar_note(runtime.calendar, datetime.now(UTC).date())
    runtime.metrics.calendar_missing.set(1 if note else 0)
    if note and note != runtime.last_calendar_note:
        log.warning(note)
    runtime.last_calendar_note = note


def sweep_settings(settings: Settings) -> SweepSettings:
    for name in ("sms_sweep_seconds", "sms_created_grace_seconds", "sms_sending_grace_seconds"):
        if getattr(settings, name) <= 0:
            raise SettingsError(f"设置 HANDOFF_{name.upper()} 应大于 0")
    return SweepSettings(
        interval=settings.sms_sweep_seconds,
        created_grace=timedelta(seconds=settings.sms_created_grace_seconds),
        sending_grace=timedelta(seconds=settings.sms_sending_grace_seconds),
    )


async def build_workers(runtime: Runtime, names: Sequence[str], session: aiohttp.ClientSession) -> dict[str, Worker]:
    """The chosen consumer groups of worker/, wired to this runtime's engine, calendar and providers."""
    settings, container = runtime.settings, runtime.container
    uow = container.uow
    workers: dict[str, Worker] = {}
    for name in names:
        if name == "notifications":
            sender = build_sender(dict(settings.extra), session, SystemClock(), runtime.metrics)
            notifier = Notifier(
                runtime.engine,
                sender,
                lambda: runtime.calendar,
                container.tracking_url,
                counter=runtime.metrics,
                queries=build_status_queries(dict(settings.extra), session, SystemClock()),
                sweep=sweep_settings(settings),
            )
            # The API of this process sends a staff's resend at once; elsewhere the sweeper does.
            container.sms = notifier.dispatch
            workers[name] = notifier
        elif name == "deadlines":
            workers[name] = DeadlineWatcher(
                runtime.engine,
                container.cipher,
                runtime.calendar,
                container.deps,
                uow,
                DeadlineSettings.from_env(settings.extra),
                checkpoint_signer=Ed25519Signer(settings.checkpoint_key_bytes()),
            )
        elif name == "logistics":
            workers[name] = Logistics(
                runtime.engine,
                container.cipher,
                runtime.calendar,
                container.deps,
                uow,
                build_bookers(settings.extra, session, SystemClock()),
                build_trackers(settings.extra, session, SystemClock()),
                container.blobs,
                courier_labels(container.signer, SystemClock()),
                LogisticsSettings.from_env(settings.extra),
            )
        elif name == "projections":
            workers[name] = Projector(runtime.engine, container.cipher, runtime.calendar, SystemClock())
        else:
            raise SettingsError(f"未知的消费组：{name}（可选：{'、'.join(GROUP_NAMES)}）")
    return workers
