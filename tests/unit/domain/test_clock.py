"""The clock's rules on the 2026 official schedule (make-up workdays 02-14, 02-28, 09-20, 10-10)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.calendar import Schedule, ScheduleCalendar
from handoff.clock import (
    StagePeriod,
    add_working_days,
    forwarding_due,
    read_clock,
    stall_boundary,
    working_days_between,
)
from handoff.errors import InvalidInput


def test_the_start_day_is_not_counted_and_weekends_are_skipped(calendar):
    r = read_clock(calendar, accepted_on=date(2026, 3, 6), limit=1, at=date(2026, 3, 6))
    assert r.used == 0
    assert r.due_date == date(2026, 3, 9)  # Friday accepted → due Monday


def test_a_make_up_workday_before_the_spring_festival_counts(calendar):
    r = read_clock(calendar, accepted_on=date(2026, 2, 13), limit=3, at=date(2026, 2, 14))
    assert r.used == 1  # Saturday 02-14 is a make-up workday
    assert r.due_date == date(2026, 2, 25)  # 02-15..02-23 are days off


def test_the_make_up_saturday_after_the_spring_festival_counts(calendar):
    r = read_clock(calendar, accepted_on=date(2026, 2, 26), limit=2, at=date(2026, 2, 26))
    assert r.due_date == date(2026, 2, 28)


def test_a_make_up_sunday_before_mid_autumn_counts(calendar):
    r = read_clock(calendar, accepted_on=date(2026, 9, 18), limit=5, at=date(2026, 9, 18))
    assert r.due_date == date(2026, 9, 24)  # 09-20 (Sun) worked; 09-25..27 off


def test_national_day_is_skipped_and_the_make_up_saturday_counts(calendar):
    r = read_clock(calendar, accepted_on=date(2026, 9, 30), limit=3, at=date(2026, 10, 8))
    assert r.used == 1
    assert r.due_date == date(2026, 10, 10)


def test_an_acceptance_on_a_holiday_starts_counting_at_the_next_working_day(calendar):
    r = read_clock(calendar, accepted_on=date(2026, 10, 3), limit=1, at=date(2026, 10, 7))
    assert r.used == 0
    assert r.due_date == date(2026, 10, 8)


def test_the_issue_example_with_a_closed_expert_review(calendar):
    r = read_clock(
        calendar,
        accepted_on=date(2026, 3, 2),
        limit=20,
        at=date(2026, 4, 3),
        stages=[StagePeriod("expert_review", date(2026, 3, 10), date(2026, 3, 20))],
        decided_on=date(2026, 3, 30),
    )
    assert (r.used, r.remaining, r.excluded_days) == (12, 8, 8)
    assert r.due_date == date(2026, 4, 10)  # Qingming 04-04..06 skipped
    assert r.early is True and r.overdue is False
    assert (r.stages[0].working_days, r.stages[0].calendar_days) == (8, 10)


def test_an_open_stage_pauses_the_clock_until_today(calendar):
    r = read_clock(
        calendar,
        accepted_on=date(2026, 3, 2),
        limit=20,
        at=date(2026, 4, 3),
        stages=[StagePeriod("inspection", date(2026, 4, 1))],
    )
    assert r.paused
    assert r.excluded_days == 2  # 04-02, 04-03
    assert r.used == 22
    assert r.overdue
    assert r.stages[0].end is None and r.stages[0].working_days == 2


def test_a_stage_across_national_day_counts_only_its_working_days(calendar):
    r = read_clock(
        calendar,
        accepted_on=date(2026, 9, 28),
        limit=10,
        at=date(2026, 10, 12),
        stages=[StagePeriod("expert_review", date(2026, 9, 29), date(2026, 10, 9))],
        decided_on=date(2026, 10, 12),
    )
    assert r.stages[0].working_days == 3  # 09-30, 10-08, 10-09
    assert r.stages[0].calendar_days == 10
    assert r.used == 3  # 09-29, 10-10 (make-up Saturday), 10-12


def test_overlapping_stages_are_merged_for_the_clock_but_tallied_on_their_own(calendar):
    r = read_clock(
        calendar,
        accepted_on=date(2026, 3, 2),
        limit=20,
        at=date(2026, 3, 31),
        stages=[
            StagePeriod("expert_review", date(2026, 3, 10), date(2026, 3, 20)),
            StagePeriod("consultation", date(2026, 3, 16), date(2026, 3, 25)),
        ],
    )
    assert r.excluded_days == 11
    assert [s.working_days for s in r.stages] == [8, 7]


def test_a_stage_over_its_own_limit_is_flagged(calendar):
    r = read_clock(
        calendar,
        accepted_on=date(2026, 3, 2),
        limit=20,
        at=date(2026, 3, 31),
        stages=[StagePeriod("expert_review", date(2026, 3, 2), date(2026, 3, 20), limit=10)],
    )
    assert r.stages[0].working_days == 14 and r.stages[0].over_limit


def test_an_extension_moves_the_due_date(calendar):
    plain = read_clock(calendar, accepted_on=date(2026, 3, 2), limit=20, at=date(2026, 3, 2))
    extended = read_clock(calendar, accepted_on=date(2026, 3, 2), limit=20, at=date(2026, 3, 2), extensions=[10])
    assert plain.due_date == date(2026, 3, 30)
    assert extended.promised == 30 and extended.due_date == date(2026, 4, 14)


def test_finished_early_needs_a_full_day_to_spare(calendar):
    on_time = read_clock(
        calendar, accepted_on=date(2026, 3, 2), limit=3, at=date(2026, 3, 5), decided_on=date(2026, 3, 5)
    )
    early = read_clock(
        calendar, accepted_on=date(2026, 3, 2), limit=3, at=date(2026, 3, 5), decided_on=date(2026, 3, 4)
    )
    late = read_clock(calendar, accepted_on=date(2026, 3, 2), limit=3, at=date(2026, 3, 9), decided_on=date(2026, 3, 6))
    assert (on_time.early, on_time.overdue) == (False, False)
    assert (early.early, early.overdue) == (True, False)
    assert (late.early, late.overdue) == (False, True)


def test_undecided_cases_have_no_early_flag_and_become_overdue_after_the_due_date(calendar):
    due = read_clock(calendar, accepted_on=date(2026, 3, 2), limit=3, at=date(2026, 3, 5))
    past = read_clock(calendar, accepted_on=date(2026, 3, 2), limit=3, at=date(2026, 3, 6))
    assert due.early is None and not due.overdue and due.remaining == 0
    assert past.overdue and past.remaining == -1


def test_an_instant_case_must_be_decided_on_its_acceptance_date(calendar):
    same_day = read_clock(
        calendar, accepted_on=date(2026, 3, 2), limit=0, at=date(2026, 3, 2), decided_on=date(2026, 3, 2)
    )
    next_day = read_clock(
        calendar, accepted_on=date(2026, 3, 2), limit=0, at=date(2026, 3, 3), decided_on=date(2026, 3, 3)
    )
    assert same_day.due_date == date(2026, 3, 2) and not same_day.overdue and same_day.early is False
    assert next_day.overdue


def test_a_year_the_calendar_does_not_cover_gives_a_provisional_answer(calendar):
    r = read_clock(calendar, accepted_on=date(2026, 12, 30), limit=2, at=date(2026, 12, 30))
    assert r.due_date == date(2027, 1, 1)
    assert r.provisional
    assert r.provisional_reason is not None and "2027" in r.provisional_reason


def test_a_loaded_schedule_file_moves_the_due_date_and_removes_the_doubt(calendar):
    schedule_2027 = Schedule(
        year=2027,
        source="测试用 2027 年安排",
        holidays=frozenset({date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)}),
    )
    loaded = calendar.with_schedule(schedule_2027)
    r = read_clock(loaded, accepted_on=date(2026, 12, 30), limit=2, at=date(2026, 12, 30))
    assert r.due_date == date(2027, 1, 4)
    assert not r.provisional and r.provisional_reason is None


def test_the_forwarding_promise_is_two_working_days_after_collection(calendar):
    assert forwarding_due(calendar, date(2026, 9, 30)).due == date(2026, 10, 9)
    assert forwarding_due(calendar, date(2026, 3, 5)).due == date(2026, 3, 9)


def test_a_stage_before_acceptance_or_ending_before_it_starts_is_refused(calendar):
    with pytest.raises(InvalidInput):
        read_clock(
            calendar,
            accepted_on=date(2026, 3, 2),
            limit=5,
            at=date(2026, 3, 9),
            stages=[StagePeriod("inspection", date(2026, 3, 1), date(2026, 3, 3))],
        )
    with pytest.raises(InvalidInput):
        StagePeriod("inspection", date(2026, 3, 5), date(2026, 3, 3))


def test_an_unreasonable_limit_is_refused_not_walked(calendar):
    with pytest.raises(InvalidInput):
        read_clock(calendar, accepted_on=date(2026, 3, 2), limit=100000, at=date(2026, 3, 2))


# ------------------------------------------------------------------ properties

DAYS = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 10, 31))


@st.composite
def scenario(draw):
    accepted = draw(DAYS)
    at = accepted + timedelta(days=draw(st.integers(0, 60)))
    stages = []
    for _ in range(draw(st.integers(0, 3))):
        start = accepted + timedelta(days=draw(st.integers(0, 50)))
        end = None if draw(st.booleans()) else start + timedelta(days=draw(st.integers(0, 20)))
        stages.append(StagePeriod("inspection", start, end))
    limit = draw(st.integers(0, 30))
    return accepted, at, stages, limit


@settings(max_examples=150, deadline=None)
@given(scenario(), st.integers(0, 50), st.integers(0, 20))
def test_opening_a_stage_never_moves_the_due_date_earlier(calendar, sc, offset, length):
    accepted, at, stages, limit = sc
    before = read_clock(calendar, accepted_on=accepted, limit=limit, at=at, stages=stages)
    start = accepted + timedelta(days=offset)
    for extra in (StagePeriod("testing", start), StagePeriod("testing", start, start + timedelta(days=length))):
        after = read_clock(calendar, accepted_on=accepted, limit=limit, at=at, stages=[*stages, extra])
        assert after.due_date >= before.due_date
        assert after.used <= before.used


@settings(max_examples=150, deadline=None)
@given(scenario())
def test_used_never_exceeds_the_elapsed_working_days(calendar, sc):
    accepted, at, stages, limit = sc
    r = read_clock(calendar, accepted_on=accepted, limit=limit, at=at, stages=stages)
    elapsed = working_days_between(calendar, accepted, at)
    assert 0 <= r.used <= elapsed
    assert r.used + r.excluded_days == elapsed
    assert r.remaining == r.promised - r.used


@settings(max_examples=150, deadline=None)
@given(scenario())
def test_excluded_days_never_count_twice(calendar, sc):
    accepted, at, stages, limit = sc
    r = read_clock(calendar, accepted_on=accepted, limit=limit, at=at, stages=stages)
    doubled = read_clock(calendar, accepted_on=accepted, limit=limit, at=at, stages=[*stages, *stages])
    assert doubled.excluded_days == r.excluded_days
    assert doubled.due_date == r.due_date
    assert r.excluded_days <= sum(s.working_days for s in r.stages)


@settings(max_examples=100, deadline=None)
@given(DAYS, st.integers(0, 40))
def test_the_due_date_is_reached_exactly_when_used_equals_the_limit(calendar, accepted, limit):
    r = read_clock(calendar, accepted_on=accepted, limit=limit, at=accepted)
    on_due = read_clock(calendar, accepted_on=accepted, limit=limit, at=r.due_date)
    assert on_due.used == limit and not on_due.overdue
    assert add_working_days(calendar, accepted, limit).due == r.due_date


def test_a_calendar_without_any_schedule_still_answers_weekends_only():
    empty = ScheduleCalendar()
    r = read_clock(empty, accepted_on=date(2026, 10, 1), limit=1, at=date(2026, 10, 1))
    assert r.due_date == date(2026, 10, 2) and r.provisional


@settings(max_examples=300, deadline=None)
@given(
    last=st.dates(min_value=date(2025, 12, 1), max_value=date(2026, 12, 31)),
    ahead=st.integers(min_value=0, max_value=40),
    allowed=st.integers(min_value=0, max_value=10),
)
def test_the_stall_boundary_agrees_with_counting_the_working_days(calendar, last, ahead, allowed):
    today = last + timedelta(days=ahead)
    stalled = working_days_between(calendar, last, today) > allowed
    assert (last < stall_boundary(calendar, today, allowed)) == stalled


def test_a_package_last_moved_before_national_day_is_not_stalled_by_the_holiday(calendar):
    # last movement Wednesday 2026-09-30; 10-01..10-08 are days off, 10-09 (Fri) a working day
    assert stall_boundary(calendar, date(2026, 10, 9), 3) < date(2026, 9, 30)
