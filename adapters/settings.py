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
from pathlib import Path
from typing import Any

from handoff.errors import InvalidInput

DEV_SECRET_NOTE = "开发用默认密钥：生产环境必须通过 HANDOFF_* 环境变量设置自己的密钥"


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
    host: str = "127.0.0.1"
    port: int = 8080
    # Secrets. The defaults exist only so that the embedded start works with no configuration;
    # `handoff serve` says so loudly when they are in use.
    scan_keys: str = "D1:" + base64.b64encode(b"dev-scan-key-change-me-32-bytes!").decode()
    tracking_key: str = base64.b64encode(b"dev-tracking-key-change-me-32by!").decode()
    id_keys: str = "D1:" + base64.b64encode(b"dev-id-key-change-me-32-bytes!!!").decode()
    id_hash_key: str = base64.b64encode(b"dev-id-hash-key-change-me-32by!!").decode()
    demo_data: bool = True
    relay_batch: int = 200
    relay_poll_seconds: float = 0.5
    offline_max_days: int = 7
    """A courier's report made offline is accepted at most this many days later."""
    evidence_daily_mb: int = 50
    """Evidence (photos, signatures) one user may upload per day, in MB."""
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
        scheme = self.broker_url.split(":", 1)[0]
        if scheme == "memory":
            return "memory"
        if scheme in ("amqp", "amqps"):
            return "amqp"
        raise InvalidInput(f"不支持的消息队列地址 {self.broker_url}（应为 memory:// 或 amqp://）")

    def scan_key_ring(self) -> dict[str, bytes]:
        return _keys(self.scan_keys, "HANDOFF_SCAN_KEYS")

    def id_key_ring(self) -> dict[str, bytes]:
        return _keys(self.id_keys, "HANDOFF_ID_KEYS")

    def tracking_key_bytes(self) -> bytes:
        return base64.b64decode(self.tracking_key)

    def id_hash_key_bytes(self) -> bytes:
        return base64.b64decode(self.id_hash_key)

    def review_bodies(self) -> dict[str, str]:
        return _per_office(self.review_body, "HANDOFF_REVIEW_BODY")

    def courts(self) -> dict[str, str]:
        return _per_office(self.court, "HANDOFF_COURT")

    def uses_dev_secrets(self) -> bool:
        defaults = Settings()
        return any(
            getattr(self, name) == getattr(defaults, name)
            for name in ("scan_keys", "tracking_key", "id_keys", "id_hash_key")
        )

    def sqlite_path(self) -> Path | None:
        if self.database_backend != "sqlite":
            return None
        path = self.database_url.split("///", 1)[1] if "///" in self.database_url else ""
        return Path(path) if path and path != ":memory:" else None
