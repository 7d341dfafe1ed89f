"""Tables that the workers keep (on the one MetaData of adapters/db/domain_tables.py).

* ``case_clocks``: the deadline watcher's reading of every case it still watches — the due date
  as the calendar has it now, used / remaining working days, the forwarding and supplement dates,
  the 预审 and legal due dates, the 容缺 materials owed (``ious_owed``: ``[{material, due_on}]``)
  and the open stages with their own limits (``stage_limits``: ``[{stage_id, stage_type,
  start_on, limit, reached_on}]``) —
  so the scan reads a few indexed rows instead of loading every open case.
* ``watch_announcements``: what the watchers have announced (a deadline warning at a threshold, an
  overdue mark, a stalled package…), one row per occasion, so that each is announced once.
* ``case_facts`` / ``indicator_days`` / ``indicator_stage_days``: the indicator projection. One row
  of facts per case, and their sums per collection day and (window, department) pair, kept current
  from events: the dashboard adds up a few rows instead of scanning cases.
* ``event_sequences`` / ``consumer_positions`` / ``consumer_gaps``: the order of every case's
  events (DESIGN §8) — the numbers given at commit, how far each consumer group has applied them,
  and the parked messages its successors went past (worker/consumer.py).
"""

from __future__ import annotations

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
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from adapters.db.domain_tables import ID, metadata, partial
from adapters.db.types import UtcDateTime

OVERDUE = "watching IS TRUE AND overdue IS TRUE"
DUE_SOON = "watching IS TRUE AND overdue IS FALSE AND remaining IS NOT NULL"
FORWARDING = "watching IS TRUE AND state IN ('collected', 'forwarded')"
LEGAL_OVERDUE = "watching IS TRUE AND legal_overdue IS TRUE"
PREREVIEW = "watching IS TRUE AND state = 'received' AND prereview_overdue IS TRUE"
PREREVIEW_STATE = "received"
"""The state of the prereview board (the literal of PREREVIEW: its query names it inline)."""
IOU = "watching IS TRUE AND iou_due_on IS NOT NULL"
FORWARDING_STATES = ("collected", "forwarded")
"""The states of the forwarding board (the literal list of FORWARDING: its query names them inline)."""

case_clocks = Table(
    "case_clocks",
    metadata,
    Column("case_id", String(ID), ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("case_no", String(24), nullable=False),
    Column("state", String(32), nullable=False),
    Column("window_office_id", String(ID), nullable=False),
    Column("department_office_id", String(ID), nullable=False),
    Column("collected_on", Date, nullable=False),
    Column("forwarding_due_on", Date, nullable=False),
    Column("accepted_on", Date),
    Column("limit_days", Integer),
    Column("legal_limit_days", Integer),
    Column("decided_on", Date),
    Column("promised", Integer),
    Column("due_on", Date),
    # the due dates' working-day ranks (handoff.clock.workday_rank): the keys of the boards ordered
    # by a due date, which a calendar upload that moves due dates by working days leaves alone
    Column("due_rank", BigInteger),
    Column("used", Integer),
    Column("remaining", Integer),
    Column("paused", Boolean, nullable=False),
    Column("provisional", Boolean, nullable=False),
    Column("overdue", Boolean, nullable=False),
    Column("supplement_due_on", Date),
    # the watched duties (DESIGN §5): 预审, the legal limit, 容缺 IOUs, the stages' own limits
    Column("prereview_due_on", Date),
    Column("prereview_overdue", Boolean, nullable=False),
    Column("legal_due_on", Date),
    Column("legal_due_rank", BigInteger),
    Column("legal_overdue", Boolean, nullable=False),
    Column("iou_due_on", Date),
    Column("ious_owed", JSON),
    Column("stage_limits", JSON),
    Column("watching", Boolean, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # the open clocks (the scan, the set-based recompute); the deadline boards, each with a twin per
    # window and per department (predicates written as SQLAlchemy writes the boards' queries); no
    # index names a column that a calendar upload changes (due dates: their ranks instead), so that
    # the recompute's updates are heap-only (HOT) where the page has room (fillfactor, 0028)
    Index("ix_case_clocks_watched", "case_id", **partial("watching IS TRUE")),
    Index("ix_case_clocks_overdue", "due_rank", "case_id", **partial(OVERDUE)),
    Index("ix_case_clocks_overdue_window", "window_office_id", "due_rank", "case_id", **partial(OVERDUE)),
    Index("ix_case_clocks_overdue_dept", "department_office_id", "due_rank", "case_id", **partial(OVERDUE)),
    Index("ix_case_clocks_due_soon", "remaining", "due_rank", "case_id", **partial(DUE_SOON)),
    Index(
        "ix_case_clocks_due_soon_window", "window_office_id", "remaining", "due_rank", "case_id", **partial(DUE_SOON)
    ),
    Index(
        "ix_case_clocks_due_soon_dept", "department_office_id", "remaining", "due_rank", "case_id", **partial(DUE_SOON)
    ),
    Index("ix_case_clocks_forwarding", "forwarding_due_on", "case_id", **partial(FORWARDING)),
    Index(
        "ix_case_clocks_forwarding_window", "window_office_id", "forwarding_due_on", "case_id", **partial(FORWARDING)
    ),
    Index(
        "ix_case_clocks_forwarding_dept", "department_office_id", "forwarding_due_on", "case_id", **partial(FORWARDING)
    ),
    Index("ix_case_clocks_legal_overdue", "legal_due_rank", "case_id", **partial(LEGAL_OVERDUE)),
    Index(
        "ix_case_clocks_legal_overdue_window", "window_office_id", "legal_due_rank", "case_id", **partial(LEGAL_OVERDUE)
    ),
    Index(
        "ix_case_clocks_legal_overdue_dept",
        "department_office_id",
        "legal_due_rank",
        "case_id",
        **partial(LEGAL_OVERDUE),
    ),
    Index("ix_case_clocks_prereview", "prereview_due_on", "case_id", **partial(PREREVIEW)),
    Index("ix_case_clocks_prereview_window", "window_office_id", "prereview_due_on", "case_id", **partial(PREREVIEW)),
    Index("ix_case_clocks_prereview_dept", "department_office_id", "prereview_due_on", "case_id", **partial(PREREVIEW)),
    Index("ix_case_clocks_iou", "iou_due_on", "case_id", **partial(IOU)),
    Index("ix_case_clocks_iou_window", "window_office_id", "iou_due_on", "case_id", **partial(IOU)),
    Index("ix_case_clocks_iou_dept", "department_office_id", "iou_due_on", "case_id", **partial(IOU)),
)

watch_announcements = Table(
    "watch_announcements",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("case_id", String(ID)),
    Column("package_id", String(ID)),
    Column("event_id", String(ID), nullable=False),
    Column("announced_at", UtcDateTime, nullable=False),
)

case_facts = Table(
    "case_facts",
    metadata,
    Column("case_id", String(ID), ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("collected_on", Date, nullable=False),
    Column("window_office_id", String(ID), nullable=False),
    Column("department_office_id", String(ID), nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("decided", Boolean, nullable=False),
    Column("due_passed", Boolean, nullable=False),
    Column("early", Boolean, nullable=False),
    Column("overdue", Boolean, nullable=False),
    Column("trip_saved", Boolean, nullable=False),
    Column("distance_km", Float, nullable=False),
    Column("rating", Integer),
    Column("bad_rating", Boolean, nullable=False),
    Column("rectified", Boolean, nullable=False),
    Column("stages", JSON, nullable=False),
    Column("due_on", Date),
    Column("open", Boolean, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_case_facts_open", "open", "as_of"),
)

INDICATOR_COUNTS = (
    "cases",
    "accepted",
    "decided",
    "should_be_decided",
    "early",
    "overdue",
    "trips_saved",
    "rated",
    "rating_sum",
    "bad",
    "rectified",
)
"""The integer fields of handoff.stats.Indicators (plus the float ``distance_saved_km``)."""

indicator_days = Table(
    "indicator_days",
    metadata,
    Column("day", Date, nullable=False),
    Column("window_office_id", String(ID), nullable=False),
    Column("department_office_id", String(ID), nullable=False),
    *(Column(name, Integer, nullable=False) for name in INDICATOR_COUNTS),
    Column("distance_saved_km", Float, nullable=False),
    PrimaryKeyConstraint("day", "window_office_id", "department_office_id"),
)

indicator_stage_days = Table(
    "indicator_stage_days",
    metadata,
    Column("day", Date, nullable=False),
    Column("window_office_id", String(ID), nullable=False),
    Column("department_office_id", String(ID), nullable=False),
    Column("stage_type", String(32), nullable=False),
    Column("stages", Integer, nullable=False),
    Column("working_days", Integer, nullable=False),
    Column("calendar_days", Integer, nullable=False),
    PrimaryKeyConstraint("day", "window_office_id", "department_office_id", "stage_type"),
)

# --------------------------------------------------------------------------- order (DESIGN §8)

event_sequences = Table(
    "event_sequences",
    metadata,
    Column("ordering_key", String(64), primary_key=True),
    Column("last_seq", Integer, nullable=False),
)
"""The last sequence number given to an ordering key (a case). The outbox writer bumps the row in
the transaction that commits the events, which serialises the writers of one case: seq order is
commit order, and a rolled-back transaction gives its numbers back (no gaps)."""

consumer_positions = Table(
    "consumer_positions",
    metadata,
    Column("consumer", String(64), nullable=False),
    Column("ordering_key", String(64), nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("consumer", "ordering_key"),
)
"""Per consumer group and ordering key, the highest sequence applied (or skipped as a gap)."""

consumer_gaps = Table(
    "consumer_gaps",
    metadata,
    Column("consumer", String(64), nullable=False),
    Column("ordering_key", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("case_id", String(ID)),
    Column("reason", Text, nullable=False),
    Column("parked_at", UtcDateTime, nullable=False),
    Column("replayed_at", UtcDateTime),
    PrimaryKeyConstraint("consumer", "ordering_key", "seq"),
    Index("ix_consumer_gaps_case", "case_id"),
)
"""A message that was parked: its successors went on without it. Replayed later, it is applied
out of its place and ``replayed_at`` is set."""
