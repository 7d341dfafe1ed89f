"""One typed Settings, read once from ``HANDOFF_*`` (defaults < environment < explicit arguments).

Nothing connects at import time; the composition root (cli/bootstrap.py) reads the settings and
builds the object graph. The backend is chosen by URL scheme: ``sqlite+aiosqlite://`` or
``postgresql+asyncpg://`` for the database, ``memory://`` or ``amqp://`` for the broker.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from handoff.errors import InvalidInput

DEV_SECRET_NOTE = "开发用默认密钥：生产环境必须通过 HANDOFF_* 环境变量设置自己的密钥"
DEV_KEYS = (
    "scan_keys",
    "tracking_key",
    "id_keys",
    "id_hash_key",
    "checkpoint_key",
)
"""The settings whose default is a development key, known to anyone who reads this file: with any
of them left as it is, production refuses to start (:meth:`Settings.production_refusal`)."""
ENVIRONMENTS = ("production", "development")


def _keys(text: str, what: str) -> dict[str, bytes]:
    """``K1:base64,K2:base64`` → {"K1": b"…", "K2": b"…"}; the last one signs / encrypts."""
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kid, sep, value = part.partition(":")
        if not sep:
            raise InvalidInput(f"{what} 的格式应为 编号:base64密钥[,编号:base64密钥]")
        try:
            keys[kid.strip()] = base64.b64decode(value.strip(), validate=True)
        except ValueError as exc:
            raise InvalidInput(f"{what} 中密钥 {kid} 不是有效的 base64") from exc
    if not keys:
        raise InvalidInput(f"{what} 不能为空")
    return keys


CHINA = timezone(timedelta(hours=8))
MAX_TOKEN_DAYS = 366


@dataclass(frozen=True)
class TokenLifetimes:
    """How long a bearer token lasts (DESIGN §12: tokens expire): staff 90 days and couriers 30
    unless the settings or the person issuing it say otherwise, never more than a year."""

    staff_days: int = 90
    courier_days: int = 30

    def __post_init__(self) -> None:
        for name, days in (
            ("HANDOFF_TOKEN_DAYS_STAFF", self.staff_days),
            ("HANDOFF_TOKEN_DAYS_COURIER", self.courier_days),
        ):
            if not 1 <= days <= MAX_TOKEN_DAYS:
                raise InvalidInput(f"{name} 应为 1–{MAX_TOKEN_DAYS} 天")

    def expiry(self, role: str, now: datetime, *, days: int | None = None, until: str | None = None) -> datetime:
        """When a token issued ``now`` expires: after ``days``, or at the end of the date (China
        time) or at the moment ``until`` names, or after the role's default."""
        if days is not None and until is not None:
            raise InvalidInput("有效天数与到期时间只能给出一个")
        if until is not None:
            expires = _moment(until)
            if expires <= now:
                raise InvalidInput(f"到期时间 {until} 已经过去")
            if expires - now > timedelta(days=MAX_TOKEN_DAYS):
                raise InvalidInput(f"访问令牌的有效期最长 {MAX_TOKEN_DAYS} 天")
            return expires
        if days is None:
            days = self.courier_days if role == "courier" else self.staff_days
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise InvalidInput(f"有效天数应为 1–{MAX_TOKEN_DAYS} 天")
        return now + timedelta(days=days)


def _moment(text: str) -> datetime:
    """``2027-03-01`` (valid through that day, China time) or an ISO time with its offset."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text) + timedelta(days=1), time(), CHINA).astimezone(UTC)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(f"到期时间 {text} 无效，应为日期（2027-03-01）或带时区的时间") from exc
    if moment.tzinfo is None:
        raise InvalidInput(f"到期时间 {text} 缺少时区（例如 +08:00）")
    return moment


def _per_office(text: str, what: str) -> dict[str, str]:
    """``汕尾市人民政府`` (every office) or ``dept-a=广东省气象局;*=汕尾市人民政府`` (per office id,
    ``*`` for the others) → {office id or "*": name}; empty text → {} (derive from the region)."""
    text = text.strip()
    if not text:
        return {}
    if "=" not in text:
        return {"*": text}
    names: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        office, sep, name = part.partition("=")
        if not sep or not office.strip() or not name.strip():
            raise InvalidInput(f"{what} 的格式应为 名称，或 办公室编号=名称;*=名称")
        names[office.strip()] = name.strip()
    return names


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///var/handoff.db"
    broker_url: str = "memory://"
    broker_prefix: str = "handoff"
    """Names of the exchange and queues: ``PREFIX.events``, ``PREFIX.GROUP`` (one broker, many installations)."""
    public_base_url: str = "http://127.0.0.1:8080"
    scan_base_url: str = "http://127.0.0.1:8080"
    blob_dir: str = "var/blobs"
    blob_store: str = ""
    """``fs`` (files under ``blob_dir``) or ``database`` (PostgreSQL only); empty: ``database``
    when the database is PostgreSQL, so API replicas share their blobs, ``fs`` on SQLite."""
    host: str = "127.0.0.1"
    port: int = 8080
    # Secrets. The defaults exist only so that the embedded start works with no configuration;
    # `handoff serve` says so loudly when they are in use.
    scan_keys: str = "D1:" + base64.b64encode(b"dev-scan-key-change-me-32-bytes!").decode()
    tracking_key: str = base64.b64encode(b"dev-tracking-key-change-me-32by!").decode()
    id_keys: str = "D1:" + base64.b64encode(b"dev-id-key-change-me-32-bytes!!!").decode()
    id_hash_key: str = base64.b64encode(b"dev-id-hash-key-change-me-32by!!").decode()
    checkpoint_key: str = base64.b64encode(b"dev-checkpoint-key-change-me-32b").decode()
    """base64 of the 32-byte Ed25519 seed that signs custody checkpoints (DESIGN §12)."""
    demo_data: bool = True
    env: str = "production"
    """``development`` lets serve and worker start with development keys or demo data."""
    token_days_staff: int = 90
    token_days_courier: int = 30
    """How long a token lasts when its creator does not say (couriers' phones get lost)."""
    password_cost: str = "standard"
    """``standard``: argon2id with RFC 9106's profile (64 MiB, 3 passes); ``test``: its cheapest
    parameters, for test suites only — production refuses to start with it."""
    session_idle_minutes: int = 30
    """A staff session signed in with a password ends after this many minutes without a request."""
    relay_batch: int = 200
    relay_poll_seconds: float = 0.5
    offline_max_days: int = 7
    """A courier's report made offline is accepted at most this many days later."""
    evidence_daily_mb: int = 50
    """Evidence (photos, signatures) one user may upload per day, in MB."""
    sms_sweep_seconds: float = 60.0
    """How often the notifications group sweeps SMS left in limbo."""
    sms_created_grace_seconds: float = 120.0
    """An SMS still unsent this long after its commit lost its sender: the sweeper sends it."""
    sms_sending_grace_seconds: float = 600.0
    """A send cut off this long ago is looked up at the provider (never sent again)."""
    review_body: str = ""
    """行政复议机关 named in 不予受理 / 不予许可决定书: one name, or ``office_id=name;*=name``. Empty:
    derived from the deciding office's region (its people's government), which a deployment must
    check and configure (vertically managed departments are reviewed by their superior body)."""
    court: str = ""
    """人民法院 for 行政诉讼 named in those decisions, as ``review_body``. Empty: the court of the
    office's county-level region, or "the competent court" of its city."""
    log_level: str = "INFO"
    log_format: str = "text"
    """``text`` (key=value extras) or ``json`` (one object per line)."""
    # Rate limits per client address (429 with Retry-After); a per-minute figure of 0 turns one off.
    rate_api_per_minute: int = 1200
    rate_api_burst: int = 1200
    rate_track_per_minute: int = 60
    """The applicant's tracking page /t/{token} and /api/v1/track/*."""
    rate_track_burst: int = 30
    rate_auth_failures_per_minute: int = 10
    """Refused bearer tokens (401) an address may present; past them, 429 until the bucket refills."""
    rate_max_addresses: int = 10_000
    """Addresses each limit remembers (the least recently seen are forgotten first)."""
    trusted_proxies: str = ""
    """``10.0.0.1,10.1.0.0/16``: peers whose X-Forwarded-For names the client; no one else's is read."""
    principal_cache_seconds: float = 5.0
    """How long the API remembers a bearer token's user; revocations hold at once regardless."""
    export_workers: int = 1
    """Threads that render exports (ledger PDF/XLSX/CSV), beside the counter documents' own thread."""
    extra: Mapping[str, str] = field(default_factory=dict)
    """Every other HANDOFF_* variable (provider settings read by their own adapters)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **explicit: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        known = {f.name for f in fields(cls)} - {"extra"}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(f"HANDOFF_{f.name.upper()}")
            if raw is None:
                continue
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    raise InvalidInput(f"HANDOFF_{f.name.upper()} 必须是整数") from exc
            elif f.type in ("float", float):
                try:
                    values[f.name] = float(raw)
                except ValueError as exc:
                    raise InvalidInput(f"HANDOFF_{f.name.upper()} 必须是数字") from exc
            elif f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[f.name] = raw
        extra = {k: v for k, v in env.items() if k.startswith("HANDOFF_") and k[8:].lower() not in known}
        values.update(explicit)
        return cls(extra=extra, **values)

    @property
    def database_backend(self) -> str:
        scheme = self.database_url.split(":", 1)[0]
        if scheme.startswith("sqlite"):
            return "sqlite"
        if scheme.startswith("postgresql"):
            return "postgresql"
        raise InvalidInput(
            f"不支持的数据库地址 {self.database_url}（应为 sqlite+aiosqlite:// 或 postgresql+asyncpg://）"
        )

    @property
    def broker_backend(self) -> str:
        """``memory``, or ``amqp`` for one RabbitMQ URL or several comma-separated ones (the nodes
        of a cluster, see :attr:`broker_urls`)."""
        urls = self.broker_urls
        schemes = {url.split(":", 1)[0] for url in urls}
        if schemes == {"memory"} and len(urls) == 1:
            return "memory"
        if urls and schemes <= {"amqp", "amqps"}:
            return "amqp"
        raise InvalidInput(
            f"不支持的消息队列地址 {self.broker_url}（应为 memory://，或一个或多个以逗号分隔的 amqp:// 地址）"
        )

    @property
    def broker_urls(self) -> list[str]:
        """The broker URL, or each node's URL when several are given separated by commas."""
        return [url.strip() for url in self.broker_url.split(",") if url.strip()]

    def scan_key_ring(self) -> dict[str, bytes]:
        return _keys(self.scan_keys, "HANDOFF_SCAN_KEYS")

    def id_key_ring(self) -> dict[str, bytes]:
        return _keys(self.id_keys, "HANDOFF_ID_KEYS")

    def tracking_key_bytes(self) -> bytes:
        return base64.b64decode(self.tracking_key)

    def id_hash_key_bytes(self) -> bytes:
        return base64.b64decode(self.id_hash_key)

    def checkpoint_key_bytes(self) -> bytes:
        try:
            seed = base64.b64decode(self.checkpoint_key, validate=True)
        except ValueError as exc:
            raise InvalidInput("HANDOFF_CHECKPOINT_KEY 不是有效的 base64") from exc
        if len(seed) != 32:
            raise InvalidInput("HANDOFF_CHECKPOINT_KEY 必须是 32 字节的 Ed25519 种子（base64 编码）")
        return seed

    def token_lifetimes(self) -> TokenLifetimes:
        return TokenLifetimes(self.token_days_staff, self.token_days_courier)

    def session_idle(self) -> int:
        """Minutes a session may sit unused (1–720: it ends after 12 hours in any case)."""
        if not 1 <= self.session_idle_minutes <= 720:
            raise InvalidInput("HANDOFF_SESSION_IDLE_MINUTES 应为 1–720 之间的整数（分钟）")
        return self.session_idle_minutes

    def dev_keys_in_use(self) -> list[str]:
        """The ``HANDOFF_*`` names of the secrets still at their development default."""
        defaults = Settings()
        return [f"HANDOFF_{name.upper()}" for name in DEV_KEYS if getattr(self, name) == getattr(defaults, name)]

    def review_bodies(self) -> dict[str, str]:
        return _per_office(self.review_body, "HANDOFF_REVIEW_BODY")

    def courts(self) -> dict[str, str]:
        return _per_office(self.court, "HANDOFF_COURT")

    def uses_dev_secrets(self) -> bool:
        return bool(self.dev_keys_in_use())

    def production_refusal(self) -> str | None:
        """Why this configuration must not serve real people (one Chinese line), or None.

        Development keys let anyone compute tracking links and QR signatures offline, and demo
        data brings users with well-known ids and the admin scope ``*``; ``HANDOFF_ENV=development``
        (what ``./dev serve`` sets) is the escape hatch for the embedded start."""
        env = self.env.strip().lower()
        if env not in ENVIRONMENTS:
            return f"HANDOFF_ENV 的值 {self.env} 无效，应为 production 或 development"
        if env == "development":
            return None
        reasons = []
        dev_keys = self.dev_keys_in_use()
        if dev_keys:
            reasons.append(f"仍在使用开发用默认密钥（{'、'.join(dev_keys)}）")
        if self.password_cost != "standard":
            reasons.append(f"口令散列使用了非标准强度（HANDOFF_PASSWORD_COST={self.password_cost}）")
        if self.demo_data:
            reasons.append("载入了演示数据（请设置 HANDOFF_DEMO_DATA=false 或使用 --no-demo）")
        if not reasons:
            return None
        return (
            f"生产环境拒绝启动：{'，'.join(reasons)}；请通过 HANDOFF_* 环境变量设置自己的密钥，"
            "本机试用请设置 HANDOFF_ENV=development（./dev serve 已设置）"
        )

    @property
    def development(self) -> bool:
        return self.env.strip().lower() == "development"

    def sqlite_path(self) -> Path | None:
        if self.database_backend != "sqlite":
            return None
        path = self.database_url.split("///", 1)[1] if "///" in self.database_url else ""
        return Path(path) if path and path != ":memory:" else None
