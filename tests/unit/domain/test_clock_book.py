"""The clock book (many clocks on one calendar) reads exactly what read_clock reads: due date,
used, remaining, stage tallies and the provisional reason, across years the calendar does not
cover and stages that overlap, touch or stay open."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.calendar import ScheduleCalendar
from handoff.clock import ClockBook, StagePeriod, add_working_days, read_clock
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
