"""Tables for everything the domain holds (SQLAlchemy Core; PostgreSQL and SQLite alike).

Aggregates are saved explicitly by their repositories (adapters/db/repositories.py): a case row
plus its child rows; a package row plus its items and its append-only custody chain.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)

from adapters.db.types import UtcDateTime

MOVING_STATES = ("sealed", "with_courier", "in_transit", "arrived", "pushed")
"""Packages still on their way (DESIGN §4): the stalled list's states, and its index's predicate."""
MOVING = "state IN ('sealed', 'with_courier', 'in_transit', 'arrived', 'pushed')"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


def partial(where: str) -> dict[str, Any]:
    """A partial index's predicate, the same text on PostgreSQL and SQLite. Write booleans as
    ``IS TRUE`` / ``IS FALSE``: that is what SQLAlchemy's ``is_(True)`` renders, and PostgreSQL
    uses a partial index only when it can prove that the query's conditions imply its predicate."""
    return {"postgresql_where": text(where), "sqlite_where": text(where)}


ID = 64  # uuids and readable ids

regions = Table(
    "regions",
    metadata,
    Column("code", String(6), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("parent_code", String(6), nullable=True),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
)

offices = Table(
    "offices",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("region_code", String(6), ForeignKey("regions.code"), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("address", String(300), nullable=False, default=""),
    Column("phone", String(32), nullable=False, default=""),
    Column("carrier", String(32), nullable=False, default="internal"),
    Column("hours", String(200), nullable=False, default="", server_default=""),
)

matters = Table(
    "matters",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("department_office_id", String(ID), ForeignKey("offices.id"), nullable=False),
    Column("legal_limit", Integer, nullable=False),
    Column("promised_limit", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("modes", JSON, nullable=False),
    Column("stage_limits", JSON, nullable=False),
    Column("iou_days", Integer, nullable=False),
    # the catalogue's elements (事项要素, seed 002), its version and retirement (0019)
    Column("list_name", String(200), nullable=False, server_default=""),
    Column("matter_type", String(32), nullable=False, server_default="行政许可"),
    Column("service_objects", JSON, nullable=True),
    Column("visits", Integer, nullable=False, server_default="1"),
    Column("conditions", Text, nullable=False, server_default=""),
    Column("result_name", String(200), nullable=False, server_default=""),
    Column("result_licence", String(200), nullable=False, server_default=""),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("retired_at", UtcDateTime, nullable=True),
)

matter_materials = Table(
    "matter_materials",
    metadata,
    Column("matter_id", String(ID), ForeignKey("matters.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("required", Boolean, nullable=False),
    Column("tolerable", Boolean, nullable=False),
    Column("original", Boolean, nullable=False),
    Column("copies", Integer, nullable=False),
    Column("form", String(50), nullable=False),
    Column("notes", Text, nullable=False),
    Column("licence", String(200), nullable=False, server_default=""),
    Column("exempt", Boolean, nullable=False, server_default=false()),
    PrimaryKeyConstraint("matter_id", "seq"),
)

matter_implementations = Table(
    "matter_implementations",
    metadata,
    Column("matter_id", String(ID), ForeignKey("matters.id", ondelete="CASCADE"), nullable=False),
    Column("region_code", String(6), ForeignKey("regions.code"), nullable=False),
    Column("office_id", String(ID), ForeignKey("offices.id"), nullable=False),
    Column("scope", JSON, nullable=False),
    PrimaryKeyConstraint("matter_id", "region_code"),
)

matter_versions = Table(
    "matter_versions",
    metadata,
    Column("matter_id", String(ID), ForeignKey("matters.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("terms", JSON, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(ID), nullable=False),
    PrimaryKeyConstraint("matter_id", "version"),
)

entrustments = Table(
    "entrustments",
    metadata,
    Column("region_code", String(6), ForeignKey("regions.code"), nullable=False),
    Column("matter_id", String(ID), ForeignKey("matters.id"), nullable=False),
    Column("office_id", String(ID), ForeignKey("offices.id"), nullable=False),
    PrimaryKeyConstraint("region_code", "matter_id"),
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("matter_id", String(ID), ForeignKey("matters.id"), nullable=False),
    Column("matter_terms", JSON, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("delivery", String(32), nullable=False),
    Column("applicant_name", String(100), nullable=False),
    Column("applicant_phone", String(20), nullable=False),
    Column("applicant_id_enc", Text, nullable=True),
    Column("applicant_id_hash", String(64), nullable=True),
    Column("applicant_address", String(300), nullable=False),
    Column("applicant_org", String(200), nullable=False),
    Column("applicant_region", String(6), nullable=False, server_default=""),
    Column("home_office_id", String(ID), nullable=True),
    Column("window_office_id", String(ID), ForeignKey("offices.id"), nullable=False),
    Column("department_office_id", String(ID), ForeignKey("offices.id"), nullable=False),
    Column("state", String(32), nullable=False),
    Column("tracking_token_hash", String(64), nullable=False, unique=True),
    Column("case_no", String(24), nullable=True, unique=True),
    Column("collected_at", UtcDateTime, nullable=False),
    Column("forwarded_at", UtcDateTime),
    Column("received_at", UtcDateTime),
    Column("accepted_at", UtcDateTime),
    Column("decided_at", UtcDateTime),
    Column("outcome", String(16)),
    Column("opinion", Text, nullable=False),
    Column("result_shipped_at", UtcDateTime),
    Column("ready_at", UtcDateTime),
    Column("result_package_id", String(ID)),
    Column("delivered_at", UtcDateTime),
    Column("archived_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("closed_reason", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_cases_state", "state"),
    # the ledger: newest first with the id as tie-break, for everything and per window / department
    Index("ix_cases_collected", "collected_at", "id"),
    Index("ix_cases_window_collected", "window_office_id", "collected_at", "id"),
    Index("ix_cases_department_collected", "department_office_id", "collected_at", "id"),
    # 办件档案: search by a key of the applicant, newest first (migration 0021)
    Index("ix_cases_phone_collected", "applicant_phone", "collected_at", "id"),
    Index("ix_cases_id_hash_collected", "applicant_id_hash", "collected_at", "id"),
    Index("ix_cases_name_collected", "applicant_name", "collected_at", "id"),
    Index("ix_cases_matter_collected", "matter_id", "collected_at", "id"),
    # 待办: an office's cases in a state
    Index("ix_cases_window_state", "window_office_id", "state"),
    Index("ix_cases_department_state", "department_office_id", "state"),
)


def _case_child(name: str, *columns: Column[object], pk: tuple[str, ...] = ("case_id", "seq")) -> Table:
    return Table(
        name,
        metadata,
        Column("case_id", String(ID), ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        Column("seq", Integer, nullable=False),
        *columns,
        PrimaryKeyConstraint(*pk),
    )


case_materials = _case_child(
    "case_materials",
    Column("name", String(200), nullable=False),
    Column("copies", Integer, nullable=False),
    Column("pages", Integer, nullable=False),
    Column("original", Boolean, nullable=False),
    Column("remarks", Text, nullable=False),
    Column("electronic", Boolean, nullable=False),
)

case_ious = _case_child(
    "case_ious",
    Column("material", String(200), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("fulfilled_at", UtcDateTime),
)
Index("ix_case_ious_owed", case_ious.c.due_on, case_ious.c.case_id, **partial("fulfilled_at IS NULL"))

case_supplements = _case_child(
    "case_supplements",
    Column("items", JSON, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("after_acceptance", Boolean, nullable=False),
    Column("supplied_at", UtcDateTime),
    Column("stage_id", String(ID)),
    Column("reason", Text, nullable=False, server_default=""),
)

case_stages = _case_child(
    "case_stages",
    Column("id", String(ID), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("start_on", Date, nullable=False),
    Column("end_on", Date),
    Column("reason", Text, nullable=False),
    Column("legal_basis", Text, nullable=False),
    Column("opened_by", String(ID), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("expected_days", Integer),
    Column("limit_days", Integer),
    Column("closed_by", String(ID)),
    Column("closed_at", UtcDateTime),
    Column("approved_by", String(ID)),
)

# 待办: open supplements, IOUs owed and open stages, by due or start date (migration 0021)
Index(
    "ix_case_supplements_open", case_supplements.c.due_on, case_supplements.c.case_id, **partial("supplied_at IS NULL")
)
Index("ix_case_stages_open", case_stages.c.start_on, case_stages.c.case_id, **partial("end_on IS NULL"))

case_extensions = _case_child(
    "case_extensions",
    Column("days", Integer, nullable=False),
    Column("approver", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("on_date", Date, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

case_lead_copies = _case_child(
    "case_lead_copies",
    Column("lead", String(ID), nullable=False),
    Column("note", Text, nullable=False),
    Column("copied_at", UtcDateTime, nullable=False),
    Column("remark", Text, nullable=False),
    Column("remarked_at", UtcDateTime),
)
# the lead's inbox: unremarked copies first, each part newest first
_INBOX_ORDER = [case_lead_copies.c[name] for name in ("lead", "copied_at", "case_id", "seq")]
Index("ix_lead_copies_unremarked", *_INBOX_ORDER, **partial("remarked_at IS NULL"))
Index("ix_lead_copies_remarked", *_INBOX_ORDER, **partial("remarked_at IS NOT NULL"))

case_supervisions = _case_child(
    "case_supervisions",
    Column("note", Text, nullable=False),
    Column("by", String(ID), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("answer", Text, nullable=False),
    Column("answered_at", UtcDateTime),
    Column("answered_by", String(ID), nullable=False),
)
Index("ix_case_supervisions_open", case_supervisions.c.case_id, **partial("answered_at IS NULL"))

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(ID), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(300), nullable=False),
    Column("scope", String(200), nullable=False),
)
Index("ix_audit_entries_at", audit_entries.c.at, audit_entries.c.id)

pickups = Table(
    "pickups",
    metadata,
    Column("case_id", String(ID), ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("office_id", String(ID), nullable=False),
    Column("by_proxy", Boolean, nullable=False),
    Column("name", String(100), nullable=False),
    Column("id_enc", Text),
    Column("id_hash", String(64)),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(ID), nullable=False),
    # 证件类型, 领取方式 and the clerk's 意见 (migration 0021)
    Column("id_type", String(24), nullable=False, server_default="resident_id"),
    Column("method", String(24), nullable=False, server_default="window"),
    Column("note", Text, nullable=False, server_default=""),
)

ratings = Table(
    "ratings",
    metadata,
    Column("case_id", String(ID), ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("score", Integer, nullable=False),
    Column("comment", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("rectified_at", UtcDateTime),
    Column("rectification", Text, nullable=False),
    Column("rectify_due_on", Date),
)

packages = Table(
    "packages",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("code", String(24), nullable=False, unique=True),
    Column("case_id", String(ID), ForeignKey("cases.id"), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("medium", String(16), nullable=False),
    Column("from_party", String(100), nullable=False),
    Column("to_party", String(100), nullable=False),
    Column("state", String(32), nullable=False),
    Column("carrier", String(32)),
    Column("waybill", String(64)),
    Column("holder", String(100), nullable=False),
    Column("exception_kind", String(16)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_movement_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("purpose", String(16), nullable=False, server_default="materials"),
    # The chain's anchor (DESIGN §12), written with the custody rows in one transaction.
    Column("chain_length", Integer, nullable=False),
    Column("chain_head", String(64), nullable=False),
    Index("ix_packages_case", "case_id"),
    Index("ix_packages_moving", "state", "last_movement_at"),
    Index("ix_packages_stalled", "last_movement_at", "id", **partial(MOVING)),
    # the courier's lists (adapters/db/courier_lists.py): in hand, and sealed at an office
    Index("ix_packages_holder", "holder", "last_movement_at", "id"),
    # 待办: what an office sends or receives that is still on its way (migration 0021)
    Index("ix_packages_from_moving", "from_party", "state", **partial(MOVING)),
    Index("ix_packages_to_moving", "to_party", "state", **partial(MOVING)),
)

package_items = Table(
    "package_items",
    metadata,
    Column("package_id", String(ID), ForeignKey("packages.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("copies", Integer, nullable=False),
    Column("pages", Integer, nullable=False),
    Column("original", Boolean, nullable=False),
    Column("remarks", Text, nullable=False),
    PrimaryKeyConstraint("package_id", "seq"),
)

custody_events = Table(
    "custody_events",
    metadata,
    Column("package_id", String(ID), ForeignKey("packages.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("from_party", String(100), nullable=False),
    Column("to_party", String(100), nullable=False),
    Column("actor", String(ID), nullable=False),
    Column("server_time", UtcDateTime, nullable=False),
    Column("client_time", UtcDateTime),
    Column("method", String(16), nullable=False),
    Column("place", String(200), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("discrepancies", JSON, nullable=False),
    Column("note", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("files", JSON),  # an electronic push's manifest (item, name, size, sha256 …); NULL otherwise
    PrimaryKeyConstraint("package_id", "seq"),
    # a courier's 送达 reports of the day (adapters/db/courier_lists.py)
    Index("ix_custody_events_reporter", "from_party", "kind", "server_time"),
)

custody_checkpoints = Table(
    "custody_checkpoints",
    metadata,
    Column("n", Integer, primary_key=True, autoincrement=False),
    Column("made_at", UtcDateTime, nullable=False),
    Column("day", Date, nullable=False),
    Column("root", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("trigger", String(16), nullable=False),
    Index("ix_custody_checkpoints_day", "day"),
)
"""Signed checkpoints over every package's chain (handoff/custody.py); ``day`` is the date in
China, ``trigger`` ``daily`` (the workers) or ``manual``; signature and key as hex."""

custody_checkpoint_leaves = Table(
    "custody_checkpoint_leaves",
    metadata,
    Column("checkpoint_n", Integer, ForeignKey("custody_checkpoints.n", ondelete="CASCADE"), nullable=False),
    Column("package_id", String(ID), nullable=False),
    Column("length", Integer, nullable=False),
    Column("head", String(64), nullable=False),
    PrimaryKeyConstraint("checkpoint_n", "package_id"),
    Index("ix_custody_checkpoint_leaves_package", "package_id", "checkpoint_n"),
)
"""What each checkpoint pinned: one leaf per package, to compare chains with later."""

package_sequences = Table(
    "package_sequences",
    metadata,
    Column("region", String(6), nullable=False),
    Column("day", Date, nullable=False),
    Column("last", Integer, nullable=False),
    PrimaryKeyConstraint("region", "day"),
)

manifests = Table(
    "manifests",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("office_id", String(ID), ForeignKey("offices.id"), nullable=False),
    Column("courier", String(ID), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

manifest_packages = Table(
    "manifest_packages",
    metadata,
    Column("manifest_id", String(ID), ForeignKey("manifests.id", ondelete="CASCADE"), nullable=False),
    Column("package_id", String(ID), ForeignKey("packages.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    PrimaryKeyConstraint("manifest_id", "package_id"),
)

shipments = Table(
    "shipments",
    metadata,
    Column("package_id", String(ID), ForeignKey("packages.id"), primary_key=True),
    Column("carrier", String(32), nullable=False),
    Column("waybill", String(64), nullable=False),
    Column("booked_at", UtcDateTime, nullable=False),
    Column("status", String(32), nullable=False),
    Column("last_event_at", UtcDateTime),
    Column("raw", JSON, nullable=False),
    Column("label_sha256", String(64)),
    Column("attempts", JSON, nullable=False),
    Column("polled_at", UtcDateTime),
    UniqueConstraint("carrier", "waybill", name="uq_shipments_carrier_waybill"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("event_id", String(ID), nullable=False),
    Column("case_id", String(ID), ForeignKey("cases.id"), nullable=True),
    Column("recipient", String(20), nullable=False),
    Column("audience", String(16), nullable=False),
    Column("user_id", String(ID)),
    Column("template_key", String(32), nullable=False),
    Column("params", JSON, nullable=False),
    Column("provider", String(32)),
    Column("provider_message_id", String(100)),
    Column("status", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # our own id of the SMS, stored before the provider call and sent as OutId / SessionContext
    Column("reference", String(64)),
    # the failed notification a member of staff resent with this one
    Column("resend_of", String(ID)),
    # when it was handed to a provider (created → sending)
    Column("claimed_at", UtcDateTime),
    UniqueConstraint("event_id", "recipient", "template_key", name="uq_notifications_once"),
    Index("ix_notifications_provider_message", "provider", "provider_message_id"),
    Index("ix_notifications_status", "status", "updated_at"),
    # the resend of a failed SMS (one per failure; the failed lists skip resent ones): migration 0026
    Index("ix_notifications_resend_of", "resend_of"),
)

blobs = Table(
    # The database blob store (adapters/blobs.py PgBlobStore): one row per blob, written in the
    # same transaction as all of its chunks, so a row always has every chunk.
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

blob_chunks = Table(
    "blob_chunks",
    metadata,
    Column("sha256", String(64), ForeignKey("blobs.sha256", ondelete="CASCADE"), nullable=False),
    Column("n", Integer, nullable=False),  # 0, 1, 2 … in the order of the bytes
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("sha256", "n"),
)

users = Table(
    "users",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("scope", String(200), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("active", Boolean, nullable=False, server_default=true()),
)

case_files = Table(
    # Files attached at the window to a case's materials (PDF, JPEG, PNG), checked and re-encoded;
    # the bytes are in the blob store under ``sha256``.
    "case_files",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("case_id", String(ID), ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("item_seq", Integer, nullable=False),  # the material's place in the case (1, 2 …)
    Column("name", String(200), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("pages", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("uploaded_by", String(ID), nullable=False),
    Column("uploaded_at", UtcDateTime, nullable=False),
    UniqueConstraint("case_id", "item_seq", "sha256", name="uq_case_files_item_sha256"),
    Index("ix_case_files_case", "case_id", "item_seq"),
)

case_results = Table(
    # Electronic results (电子证照): the PAdES-signed PDF the applicant downloads, by sha256.
    "case_results",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("case_id", String(ID), ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("signer", String(300), nullable=False),
    Column("office_id", String(ID), nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
    Column("signed_by", String(ID), nullable=False),
    Column("demo", Boolean, nullable=False),
    Index("ix_case_results_sha256", "sha256"),
    Index("ix_case_results_case", "case_id"),
)

evidence_usage = Table(
    "evidence_usage",
    metadata,
    Column("user_id", String(ID), nullable=False),
    Column("day", Date, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "day"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(ID), ForeignKey("users.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("expires_at", UtcDateTime, nullable=False),
)

user_credentials = Table(
    "user_credentials",
    metadata,
    Column("user_id", String(ID), ForeignKey("users.id"), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("must_change", Boolean, nullable=False, server_default=false()),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("locked_until", UtcDateTime),
)
"""A user's argon2id password hash (only users with a row may sign in with a password);
``must_change``: a one-time password an admin set; ``failures``: consecutive failed sign-ins,
``locked_until``: the lock-out they earned."""

user_sessions = Table(
    "user_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(ID), ForeignKey("users.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Index("ix_user_sessions_user", "user_id"),
)
"""Signed-in sessions: the SHA-256 of the cookie, never the cookie; idle after ``last_seen_at``
plus the idle limit, over at ``expires_at`` in any case, or when ended (logout, password change)."""

auth_version = Table(
    "auth_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)
"""One row (id 1): bumped with every change that can take authority away from a token (a
revocation, a user disabled, a role or scope changed); see adapters/db/admin.bump_auth_version."""

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("actor", String(ID), nullable=False),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("actor", "key"),
)

calendar_schedules = Table(
    "calendar_schedules",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("source", Text, nullable=False),
    Column("holidays", JSON, nullable=False),
    Column("workdays", JSON, nullable=False),
    Column("loaded_at", UtcDateTime, nullable=False),
    Column("loaded_by", String(ID), nullable=False),
)
