from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.blobs import FileBlobStore, PgBlobStore
from adapters.calendar import LiveCalendar
from adapters.db import queries
from adapters.db.repositories import SqlUnitOfWork
from adapters.demo import DEMO_USERS, load_demo_world
from adapters.logistics.factory import build_push_receivers
from adapters.sms.factory import build_report_receivers
from api.app import create_app
from api.container import Container
from api.ratelimit import RateLimits
from handoff.codes import KeyRing, ScanSigner, TrackingTokens, hash_token
from handoff.services import Deps
from tests.fakes.uow import FixedClock
from tests.support.db import CIPHER, postgres_engine, sqlite_engine, write_outbox

PROVIDER_ENV = {
    "HANDOFF_SMS_PROVIDERS": "alibaba",
    "HANDOFF_ALIBABA_ACCESS_KEY_ID": "testid",
    "HANDOFF_ALIBABA_ACCESS_KEY_SECRET": "testsecret",
    "HANDOFF_ALIBABA_SMS_SIGN_NAME": "汕尾政务",
    "HANDOFF_ALIBABA_SMS_TEMPLATES": '{"receipt": "SMS_1"}',
    "HANDOFF_ALIBABA_SMS_CALLBACK_TOKEN": "sms-callback-secret",
    "HANDOFF_SF_PARTNER_ID": "HANDOFF",
    "HANDOFF_SF_CHECK_WORD": "check-word",
    "HANDOFF_SF_CALLBACK_TOKEN": "sf-callback-secret",
}

TOKENS_LAST = timedelta(days=3650)
"""The harness's tokens outlive any test's ticking of the clock; the expiry tests issue their own."""
UNHURRIED = RateLimits(api_burst=100_000, track_burst=10_000, auth_failures_burst=1_000)
"""The rate limits of every harness that does not choose its own (test_rate_limits.py does): a
test of something else must not trip over them."""

SIGNER = ScanSigner(KeyRing({"T1": b"scan-key-for-tests-only-32-bytes"}), "https://hf.test.cn")


@dataclass
class Harness:
    client: object
    container: Container
    clock: FixedClock
    tokens: dict[str, str]

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def tick(self, **delta: float) -> None:
        self.clock.at += timedelta(**delta)


def _blob_store(engine, tmp_path: Path) -> FileBlobStore | PgBlobStore:
    """The store the composition root would choose for this database: files on SQLite, the
    database on PostgreSQL (there on the test's own engine, whose disposal the fixtures own,
    where cli/bootstrap.py gives the store a pool of its own)."""
    if engine.dialect.name == "postgresql":
        return PgBlobStore(engine)
    return FileBlobStore(tmp_path / "blobs")


async def _harness(engine, aiohttp_client, tmp_path: Path, **container_options) -> Harness:
    """``container_options``: Container fields a test sets (low rate limits, its own render pools, …)."""
    clock = FixedClock(datetime(2026, 3, 2, 1, 30, tzinfo=UTC))  # 09:30 in China, a Monday
    async with engine.begin() as conn:
        await load_demo_world(conn)
        tokens = {}
        for user_id, name, role, scope in [
            *DEMO_USERS,
            ("clerk-hf", "海丰窗口", "window_clerk", "office:win-441521"),
            ("courier-x", "外地快递员", "courier", "region:4401"),
        ]:
            token = f"tok-{user_id}"
            await queries.create_user_token(
                conn,
                user_id=user_id,
                name=name,
                role=role,
                scope=scope,
                phone="",
                token_hash=hash_token(token),
                at=clock.now(),
                expires_at=clock.now() + TOKENS_LAST,
            )
            tokens[user_id] = token
    container = Container(
        engine=engine,
        uow=lambda: SqlUnitOfWork(engine, CIPHER, write_outbox),
        deps=Deps(clock=clock, calendar=LiveCalendar(), tracking=TrackingTokens(b"track-key-for-tests-only-32byte")),
        signer=SIGNER,
        cipher=CIPHER,
        public_base_url="https://hf.test.cn",
        sms_receivers=build_report_receivers(PROVIDER_ENV),
        carrier_receivers=build_push_receivers(PROVIDER_ENV, clock),
        **{"rate_limits": UNHURRIED, "blobs": _blob_store(engine, tmp_path), **container_options},
    )
    client = await aiohttp_client(create_app(container))
    return Harness(client=client, container=container, clock=clock, tokens=tokens)


@pytest.fixture(params=["sqlite", "postgresql"])
async def api(request, aiohttp_client, tmp_path):
    gen = sqlite_engine(tmp_path) if request.param == "sqlite" else postgres_engine()
    engine = await gen.__anext__()
    yield await _harness(engine, aiohttp_client, tmp_path)
    await gen.aclose()


@pytest.fixture
async def pg_api(aiohttp_client, tmp_path):
    gen = postgres_engine()
    engine = await gen.__anext__()
    yield await _harness(engine, aiohttp_client, tmp_path)
    await gen.aclose()
