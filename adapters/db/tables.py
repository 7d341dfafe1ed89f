"""All tables, on one MetaData: the domain's (adapters/db/domain_tables.py) and the messaging
ones here — the outbox (events committed with the rows that caused them) and the inbox (which
consumer has handled which message)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from adapters.db import worker_tables  # noqa: F401  (its tables join the MetaData)
from adapters.db.domain_tables import metadata
from adapters.db.types import UtcDateTime

__all__ = ["callback_receipts", "inbox", "metadata", "outbox"]

outbox = Table(
    "outbox",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("ordering_key", String(64), nullable=False),
    Column("key_seq", Integer),
    Column("case_id", String(64)),
    Column("package_id", String(64)),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("published_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    # the envelope's actor, for 已办办件 (the steps a user took); empty on a system event's row
    # written before migration 0026 filled it
    Column("actor", String(64)),
    Index("ix_outbox_unpublished", "published_at", "seq"),
    Index("ix_outbox_ordering", "ordering_key", "seq"),
    Index("ix_outbox_key_seq", "ordering_key", "key_seq", unique=True),
    Index("ix_outbox_actor", "actor", "created_at"),
)
"""``key_seq``: the event's place among the events of its ordering key (the envelope's ``seq``);
empty for events committed before sequences existed."""

inbox = Table(
    "inbox",
    metadata,
    Column("message_id", String(64), nullable=False),
    Column("consumer", String(64), nullable=False),
    Column("handled_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("message_id", "consumer"),
)

callback_receipts = Table(
    "callback_receipts",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)
"""Provider pushes are retried and not idempotent: each report or movement is applied once, by key."""
