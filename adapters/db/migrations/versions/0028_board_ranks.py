"""deadline boards keyed by due-date ranks; room on case_clocks' pages for heap-only updates

A calendar upload moves the due dates of most open cases by a working day, and every board index
that names ``due_on`` or ``legal_due_on`` (overdue, due soon, legal limit passed, with their twins
per window and per department) made each moved row a new tuple with an entry in every index of the
table: at 1,000,000 cases the recompute's UPDATE of 45,871 rows took about 2.3 s, twice the time of
the same UPDATE with the board indexes dropped. Those boards are now keyed by the due dates' working-
day ranks (``handoff.clock.workday_rank``: the working days from 1990 up to the date, so a date that
moved by whole working days keeps its rank; they order rows as the dates do), and the table keeps a
part of each page free (fillfactor) so that such an update can stay on its page (HOT) with no index
entry at all.

The ranks of the open clocks are filled here, on the calendar the workers read (the packaged years
and the stored schedules); other rows get theirs when their case next changes (no board lists them).

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30 03:00:00
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

OVERDUE = "watching IS TRUE AND overdue IS TRUE"
DUE_SOON = "watching IS TRUE AND overdue IS FALSE AND remaining IS NOT NULL"
LEGAL_OVERDUE = "watching IS TRUE AND legal_overdue IS TRUE"
FILLFACTOR = 70
"""Percent of a case_clocks page that inserts and moved rows fill; the rest is for updates in place."""

OFFICES: list[tuple[str, list[str]]] = [
    ("", []),
    ("_window", ["window_office_id"]),
    ("_dept", ["department_office_id"]),
]
BOARDS: list[tuple[str, list[str], list[str], str]] = [
    (board, before, after, where)
    for board, before, after, where in (
        ("overdue", ["due_on"], ["due_rank"], OVERDUE),
        ("due_soon", ["remaining", "due_on"], ["remaining", "due_rank"], DUE_SOON),
        ("legal_overdue", ["legal_due_on"], ["legal_due_rank"], LEGAL_OVERDUE),
    )
]


def _drop_indexes() -> None:
    for board, _, _, _ in BOARDS:
        for suffix, _ in OFFICES:
            op.drop_index(f"ix_case_clocks_{board}{suffix}", table_name="case_clocks")


def _create_indexes(keyed_by_rank: bool) -> None:
    for board, before, after, where in BOARDS:
        for suffix, office in OFFICES:
            op.create_index(
                f"ix_case_clocks_{board}{suffix}",
                "case_clocks",
                [*office, *(after if keyed_by_rank else before), "case_id"],
                unique=False,
                postgresql_where=sa.text(where),
                sqlite_where=sa.text(where),
            )


def _fill_ranks(conn: sa.Connection) -> None:
    """The ranks of the open clock rows' due dates, on the calendar the workers read."""
    from adapters.calendar import load_calendar
    from handoff.calendar import Schedule
    from handoff.clock import workday_rank

    stored = sa.table(
        "calendar_schedules",
        sa.column("year", sa.Integer),
        sa.column("source", sa.Text),
        sa.column("holidays", sa.JSON),
        sa.column("workdays", sa.JSON),
    )
    calendar = load_calendar(
        Schedule(
            year=r.year,
            source=r.source,
            holidays=frozenset(date.fromisoformat(d) for d in r.holidays),
            workdays=frozenset(date.fromisoformat(d) for d in r.workdays),
        )
        for r in conn.execute(sa.select(stored).order_by(stored.c.year))
    )
    clocks = sa.table(
        "case_clocks",
        sa.column("watching", sa.Boolean),
        sa.column("due_on", sa.Date),
        sa.column("due_rank", sa.BigInteger),
        sa.column("legal_due_on", sa.Date),
        sa.column("legal_due_rank", sa.BigInteger),
    )
    for day_name, rank_name in (("due_on", "due_rank"), ("legal_due_on", "legal_due_rank")):
        day_column = clocks.c[day_name]
        days = sorted(
            conn.execute(
                sa.select(day_column).where(clocks.c.watching.is_(True), day_column.is_not(None)).distinct()
            ).scalars()
        )
        if not days:
            continue
        ranks = [workday_rank(calendar, day) for day in days]
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    f"UPDATE case_clocks SET {rank_name} = v.rank "
                    "FROM unnest(CAST(:days AS date[]), CAST(:ranks AS bigint[])) AS v(day, rank) "
                    f"WHERE case_clocks.watching IS TRUE AND case_clocks.{day_name} = v.day"
                ),
                {"days": days, "ranks": ranks},
            )
        else:
            conn.execute(
                clocks.update()
                .where(clocks.c.watching.is_(True), day_column == sa.bindparam("day"))
                .values({rank_name: sa.bindparam("rank")}),
                [{"day": day, "rank": rank} for day, rank in zip(days, ranks, strict=True)],
            )


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":  # before the ranks are written: their rows get the room
        op.execute(f"ALTER TABLE case_clocks SET (fillfactor = {FILLFACTOR})")
    with op.batch_alter_table("case_clocks") as batch:
        batch.add_column(sa.Column("due_rank", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("legal_due_rank", sa.BigInteger(), nullable=True))
    _drop_indexes()
    _fill_ranks(conn)
    _create_indexes(keyed_by_rank=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE case_clocks RESET (fillfactor)")
    _drop_indexes()
    with op.batch_alter_table("case_clocks") as batch:
        batch.drop_column("legal_due_rank")
        batch.drop_column("due_rank")
    _create_indexes(keyed_by_rank=False)
