"""The clock book (many clocks on one calendar) reads exactly what read_clock reads: due date,
used, remaining, stage tallies and the provisional reason, across years the calendar does not
cover and stages that overlap, touch or stay open."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.calendar import Schedule, ScheduleCalendar
from handoff.clock import RANK_DAYS, ClockBook, StagePeriod, add_working_days, read_clock, workday_rank
from handoff.errors import InvalidInput

DAYS = st.dates(min_value=date(2025, 6, 1), max_value=date(2027, 6, 30))


@st.composite
def inputs(draw):
    accepted = draw(DAYS)
    stages = []
    for _ in range(draw(st.integers(0, 3))):
        start = accepted + timedelta(days=draw(st.integers(0, 60)))
        end = None if draw(st.booleans()) else start + timedelta(days=draw(st.integers(0, 25)))
        stages.append(StagePeriod("inspection", start, end, draw(st.one_of(st.none(), st.integers(0, 10)))))
    return {
        "accepted_on": accepted,
        "limit": draw(st.integers(0, 40)),
        "at": accepted + timedelta(days=draw(st.integers(0, 90))),
        "stages": stages,
        "extensions": draw(st.lists(st.integers(1, 10), max_size=2)),
        "decided_on": None if draw(st.booleans()) else accepted + timedelta(days=draw(st.integers(0, 90))),
        "legal_limit": draw(st.one_of(st.none(), st.integers(0, 60))),
        "stopped_on": None if draw(st.booleans()) else accepted + timedelta(days=draw(st.integers(0, 90))),
        "overdue_before": draw(st.booleans()),
    }


@settings(max_examples=400, deadline=None)
@given(inputs())
def test_the_book_reads_what_read_clock_reads(calendar, given_inputs):
    book = ClockBook(calendar, given_inputs["accepted_on"])
    assert book.read(**given_inputs) == read_clock(calendar, **given_inputs)


@settings(max_examples=150, deadline=None)
@given(inputs())
def test_the_book_agrees_on_a_calendar_with_no_year_loaded(given_inputs):
    bare = ScheduleCalendar()
    assert ClockBook(bare, date(2026, 1, 1)).read(**given_inputs) == read_clock(bare, **given_inputs)


@settings(max_examples=150, deadline=None)
@given(DAYS, st.integers(0, 30))
def test_the_book_adds_working_days_as_add_working_days_does(calendar, start, count):
    assert ClockBook(calendar, date(2026, 1, 1)).add_working_days(start, count) == add_working_days(
        calendar, start, count
    )


def test_one_book_answers_cases_years_apart_and_remembers_what_it_read(calendar):
    book = ClockBook(calendar, date(2026, 3, 1))
    late = book.read(accepted_on=date(2026, 12, 20), limit=20, at=date(2027, 1, 5))
    early = book.read(accepted_on=date(2004, 3, 1), limit=5, at=date(2004, 3, 20))
    assert late == read_clock(calendar, accepted_on=date(2026, 12, 20), limit=20, at=date(2027, 1, 5))
    assert early == read_clock(calendar, accepted_on=date(2004, 3, 1), limit=5, at=date(2004, 3, 20))
    assert late.provisional and not early.provisional
    assert book.read(accepted_on=date(2026, 12, 20), limit=20, at=date(2027, 1, 5)) is late


def test_the_book_refuses_what_read_clock_refuses(calendar):
    book = ClockBook(calendar, date(2026, 3, 1))
    for bad in (
        {"limit": 5000},
        {"limit": 5, "extensions": [0]},
        {"limit": 5, "decided_on": date(2026, 2, 1)},
        {"limit": 5, "stages": [StagePeriod("inspection", date(2026, 2, 1))]},
        {"limit": 3000, "extensions": [1000]},
    ):
        with pytest.raises(InvalidInput):
            read_clock(calendar, accepted_on=date(2026, 3, 2), at=date(2026, 3, 9), **bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            book.read(accepted_on=date(2026, 3, 2), at=date(2026, 3, 9), **bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- working-day ranks

RANKED_DAYS = st.dates(min_value=date(1985, 1, 1), max_value=date(2031, 12, 31))
OFF = date(2026, 12, 1)


@cache
def book_and_moved(calendar: ScheduleCalendar) -> tuple[ClockBook, ScheduleCalendar]:
    """A recompute's book on ``calendar``, and ``calendar`` with :data:`OFF` taken off."""
    y2026 = calendar.schedule(2026)
    assert y2026 is not None
    moved = Schedule(year=2026, source="调整", holidays=y2026.holidays | {OFF}, workdays=y2026.workdays)
    return ClockBook(calendar, date(2026, 11, 27)), calendar.with_schedule(moved)


@settings(max_examples=200, deadline=None)
@given(RANKED_DAYS, RANKED_DAYS)
def test_ranks_order_dates_as_the_dates_themselves(calendar, one, other):
    """Working days or not, before the epoch or after it: the boards ordered by a due date's rank
    list the rows in the due dates' order, ties only where the dates are equal."""
    ranks = (workday_rank(calendar, one), workday_rank(calendar, other))
    assert (ranks[0] < ranks[1]) == (one < other) and (ranks[0] == ranks[1]) == (one == other)
    book, _ = book_and_moved(calendar)
    assert (book.rank(one), book.rank(other)) == ranks  # the recompute's book agrees


def test_a_rank_counts_working_days_and_the_days_since_the_last_one():
    bare = ScheduleCalendar()  # weekdays only
    friday, saturday, monday = date(2026, 11, 27), date(2026, 11, 28), date(2026, 11, 30)
    assert workday_rank(bare, saturday) == workday_rank(bare, friday) + 1
    assert workday_rank(bare, monday) == workday_rank(bare, friday) + RANK_DAYS
    assert workday_rank(bare, date(1990, 1, 1)) == 0  # the epoch (a Monday): no working day after it yet


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2026, 9, 1), max_value=date(2026, 11, 30)), st.integers(1, 40))
def test_a_due_date_moved_by_a_new_day_off_keeps_its_rank(calendar, accepted, promised):
    """An upload that takes a day off after the acceptance moves the due date a working day later
    and leaves its rank alone: the boards' index entries do not move."""
    _, moved = book_and_moved(calendar)
    before = add_working_days(calendar, accepted, promised).due
    after = add_working_days(moved, accepted, promised).due
    assert (after != before) == (before >= OFF)
    assert workday_rank(moved, after) == workday_rank(calendar, before)
