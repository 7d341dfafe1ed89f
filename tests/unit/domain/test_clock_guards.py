"""Nobody bends the clock (DESIGN §5, issue 14): special stages and extensions only within the
period, 提前办结 as seed 002 counts it, the legal limit beside the promised one, the 预审 clock,
补正 after acceptance, and a withdrawn case's frozen figures."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff import events as ev
from handoff.case import Case, CaseState, Outcome, Stage
from handoff.errors import DomainError, IllegalTransition, InvalidInput
from handoff.matter import CaseKind, Matter, StageType

from .conftest import BUILDING, CALENDAR, accepted_case, cst, new_case

FIVE = dataclasses.replace(BUILDING, id="m-5", legal_limit=15, promised_limit=5, stage_limits={})
"""A promised case of 5 working days (legal 15), accepted on Monday 2026-03-02: day 1 is 03-03,
day 5 (the due date) 03-09, day 12 is 03-18, day 13 03-19, day 14 03-20."""


def expert_review(case: Case, at: datetime, **kw: object) -> str:
    return case.open_stage(
        stage_type=StageType.EXPERT_REVIEW,
        reason="设计方案需专家评审",
        legal_basis="《中华人民共和国行政许可法》第四十五条",
        at=at,
        actor="dept",
        calendar=CALENDAR,
        **kw,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------- the examples 1, 2 and 5


def test_example_1_an_overdue_case_cannot_open_a_stage_back_to_day_1_and_is_not_early():
    case = accepted_case(FIVE)
    with pytest.raises(IllegalTransition, match="特殊环节只能在承诺期限内启动") as refused:
        expert_review(case, cst(2026, 3, 20), start_on=date(2026, 3, 3), approved_by="lead-zj")
    assert "已用 14 个工作日" in refused.value.title and "承诺期限 5 个工作日" in refused.value.title
    assert case.stages == [] and case.collect_events() == []
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 20, 16), actor="dept")
    reading = case.clock(CALENDAR, date(2026, 3, 20))
    assert reading is not None
    assert (reading.used, reading.early, reading.overdue) == (14, False, True)


def test_example_2_an_overdue_case_cannot_be_extended_and_is_not_early():
    case = accepted_case(FIVE)
    with pytest.raises(IllegalTransition, match="行政许可法第四十二条：延期只能在承诺期限内申请"):
        case.extend(days=10, approver="王局长", reason="复杂", at=cst(2026, 3, 19), actor="dept", calendar=CALENDAR)
    assert case.extensions == []
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 19, 16), actor="dept")
    reading = case.clock(CALENDAR, date(2026, 3, 19))
    assert reading is not None
    assert (reading.used, reading.promised, reading.early, reading.overdue) == (13, 5, False, True)


def test_example_5_early_is_measured_against_the_limit_without_extensions():
    case = accepted_case(FIVE)
    case.extend(days=10, approver="王局长", reason="复杂", at=cst(2026, 3, 5), actor="dept", calendar=CALENDAR)
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 18, 16), actor="dept")
    reading = case.clock(CALENDAR, date(2026, 3, 18))
    assert reading is not None
    assert (reading.used, reading.promised, reading.remaining) == (12, 15, 3)
    assert reading.early is False and reading.overdue is False  # in time thanks to the extension, not early


def test_a_case_decided_with_a_day_to_spare_of_its_own_limit_is_early():
    case = accepted_case(FIVE)
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 6, 16), actor="dept")  # day 4 of 5
    reading = case.clock(CALENDAR, date(2026, 3, 6))
    assert reading is not None and reading.early is True


# ---------------------------------------------------------------- special stages


def test_a_stage_may_start_on_the_working_day_before_it_is_recorded():
    case = accepted_case(FIVE)
    expert_review(case, cst(2026, 3, 9), start_on=date(2026, 3, 6))  # Monday, back to Friday
    [opened] = case.collect_events()
    assert isinstance(opened, ev.StageOpened)
    assert opened.start_on == date(2026, 3, 6) and opened.approved_by is None and opened.backdated is False


def test_a_stage_recorded_later_needs_the_leads_approval_which_the_event_keeps():
    case = accepted_case(FIVE)
    with pytest.raises(InvalidInput, match=r"前一个工作日（2026-03-06）.*须经分管领导批准"):
        expert_review(case, cst(2026, 3, 9), start_on=date(2026, 3, 5))
    expert_review(case, cst(2026, 3, 9), start_on=date(2026, 3, 5), approved_by="lead-zj")
    [opened] = case.collect_events()
    assert isinstance(opened, ev.StageOpened) and opened.approved_by == "lead-zj" and opened.backdated is True
    assert case.stages[0].approved_by == "lead-zj"
    assert ev.from_envelope(ev.to_envelope(opened)) == opened


def test_a_stage_cannot_start_on_the_day_after_the_due_date():
    case = accepted_case(FIVE)
    expert_review(case, cst(2026, 3, 9))  # on the due date itself: used 5 of 5, still in time
    case.close_stage(stage_id=case.stages[0].id, at=cst(2026, 3, 9, 15), actor="dept")
    other = accepted_case(FIVE, case_id="case-2")
    with pytest.raises(IllegalTransition, match="特殊环节只能在承诺期限内启动"):
        other.open_stage(
            stage_type=StageType.INSPECTION,
            reason="现场勘验",
            legal_basis="b",
            at=cst(2026, 3, 10),
            actor="dept",
            calendar=CALENDAR,
        )


# ---------------------------------------------------------------- extensions


def test_extensions_add_up_to_ten_working_days_at_most_naming_the_law():
    case = accepted_case(BUILDING)
    case.extend(days=6, approver="局长", reason="r", at=cst(2026, 3, 5), actor="d", calendar=CALENDAR)
    with pytest.raises(InvalidInput, match="行政许可法第四十二条：延期累计不得超过 10 个工作日（已延期 6 个工作日）"):
        case.extend(days=5, approver="局长", reason="r", at=cst(2026, 3, 6), actor="d", calendar=CALENDAR)


def test_an_extension_may_not_carry_the_promise_past_the_legal_limit():
    tight = dataclasses.replace(FIVE, legal_limit=8)
    case = accepted_case(tight)
    with pytest.raises(InvalidInput, match="承诺期限加延期不得超过法定期限：延期后为 9 个工作日，法定期限为 8"):
        case.extend(days=4, approver="局长", reason="r", at=cst(2026, 3, 4), actor="d", calendar=CALENDAR)
    case.extend(days=3, approver="局长", reason="r", at=cst(2026, 3, 4), actor="d", calendar=CALENDAR)
    assert case.extension_days == 3


def test_an_extension_needs_an_approver_and_a_reason():
    case = accepted_case(FIVE)
    with pytest.raises(InvalidInput, match="批准人"):
        case.extend(days=2, approver=" ", reason="r", at=cst(2026, 3, 4), actor="d", calendar=CALENDAR)
    with pytest.raises(InvalidInput, match="延期理由"):
        case.extend(days=2, approver="局长", reason="", at=cst(2026, 3, 4), actor="d", calendar=CALENDAR)


# ---------------------------------------------------------------- the record made before the guards


def test_a_stage_recorded_around_the_guards_after_the_case_was_overdue_never_makes_it_early():
    case = accepted_case(FIVE)
    # As an old record may hold it: opened on day 14 with a start on day 1 (issue 14, example 1).
    case.stages.append(
        Stage(
            id="s-old",
            type=StageType.EXPERT_REVIEW,
            start_on=date(2026, 3, 3),
            reason="r",
            legal_basis="b",
            opened_by="dept",
            opened_at=cst(2026, 3, 20),
            end_on=date(2026, 3, 19),
            closed_by="dept",
            closed_at=cst(2026, 3, 20, 11),
        )
    )
    case.state = CaseState.IN_REVIEW
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 20, 16), actor="dept")
    reading = case.clock(CALENDAR, date(2026, 3, 20))
    assert reading is not None
    assert reading.used == 2 and reading.ever_overdue and reading.early is False  # was "early" before


# ---------------------------------------------------------------- the legal limit


def test_the_legal_limit_runs_beside_the_promised_one():
    case = accepted_case(FIVE)  # legal 15
    reading = case.clock(CALENDAR, date(2026, 3, 20))
    assert reading is not None
    assert (reading.due_date, reading.overdue) == (date(2026, 3, 9), True)
    assert (reading.legal_limit, reading.legal_due_date, reading.legal_used, reading.legal_remaining) == (
        15,
        date(2026, 3, 23),
        14,
        1,
    )
    assert reading.legal_overdue is False
    later = case.clock(CALENDAR, date(2026, 3, 24))
    assert later is not None and later.legal_overdue is True and later.legal_remaining == -1


def test_a_stage_moves_the_legal_due_date_as_it_moves_the_promised_one():
    case = accepted_case(FIVE)
    expert_review(case, cst(2026, 3, 4))
    case.close_stage(stage_id=case.stages[0].id, at=cst(2026, 3, 6), actor="dept")  # 03-05, 03-06 excluded
    reading = case.clock(CALENDAR, date(2026, 3, 6))
    assert reading is not None
    assert reading.due_date == date(2026, 3, 11) and reading.legal_due_date == date(2026, 3, 25)


# ---------------------------------------------------------------- 预审


def received_case(on: date = date(2026, 3, 2), **kw: object) -> Case:
    case = new_case(FIVE, at=cst(on.year, on.month, on.day, 9), **kw)  # type: ignore[arg-type]
    case.forward(at=cst(on.year, on.month, on.day, 9, 30), actor="w")
    case.receive(at=cst(on.year, on.month, on.day, 15), actor="d")
    return case


def test_prereview_is_due_three_working_days_after_the_signature():
    case = received_case(date(2026, 3, 5))  # Thursday
    assert case.prereview_due_on(CALENDAR) == date(2026, 3, 10)
    assert not case.prereview_overdue(CALENDAR, date(2026, 3, 10))
    assert case.prereview_overdue(CALENDAR, date(2026, 3, 11))
    assert case.prereview_due_on(CALENDAR, days=5) == date(2026, 3, 12)
    with pytest.raises(InvalidInput, match="预审时限"):
        case.prereview_due_on(CALENDAR, days=0)


def test_prereview_ends_with_acceptance_and_remembers_whether_it_was_late():
    on_time = received_case(date(2026, 3, 5))
    on_time.accept(at=cst(2026, 3, 10, 16), actor="d")
    assert not on_time.prereview_overdue(CALENDAR, date(2026, 4, 30))
    late = received_case(date(2026, 3, 5), case_id="case-2")
    late.accept(at=cst(2026, 3, 11), actor="d")
    assert not late.prereview_overdue(CALENDAR, date(2026, 3, 10)) and late.prereview_overdue(
        CALENDAR, date(2026, 4, 30)
    )


def test_a_supplement_pauses_prereview_and_its_supply_starts_a_new_one():
    case = received_case(date(2026, 3, 2))
    case.request_supplement(items=["图纸"], due_on=date(2026, 3, 20), at=cst(2026, 3, 3), actor="d", calendar=CALENDAR)
    assert not case.prereview_overdue(CALENDAR, date(2026, 3, 19))  # waiting for the applicant, not the department
    case.supplement_supplied(at=cst(2026, 3, 16), actor="d")
    assert case.prereview_due_on(CALENDAR) == date(2026, 3, 19)
    assert case.prereview_overdue(CALENDAR, date(2026, 3, 20))
    assert new_case(FIVE, case_id="case-3").prereview_due_on(CALENDAR) is None


# ---------------------------------------------------------------- 补正


def test_a_second_supplement_request_needs_a_reason_and_is_counted():
    case = received_case()
    case.request_supplement(items=["图纸"], due_on=date(2026, 3, 9), at=cst(2026, 3, 3), actor="d", calendar=CALENDAR)
    case.supplement_supplied(at=cst(2026, 3, 4), actor="d")
    with pytest.raises(InvalidInput, match="一次性告知：本件已补正告知 1 次，再次要求补正必须说明理由"):
        case.request_supplement(
            items=["盖章页"], due_on=date(2026, 3, 9), at=cst(2026, 3, 4, 11), actor="d", calendar=CALENDAR
        )
    case.request_supplement(
        items=["盖章页"],
        due_on=date(2026, 3, 9),
        reason="补交的图纸缺少设计单位盖章页",
        at=cst(2026, 3, 4, 11),
        actor="d",
        calendar=CALENDAR,
    )
    assert case.supplement_count == 2 and case.supplements[-1].reason == "补交的图纸缺少设计单位盖章页"
    last = case.collect_events()[-1]
    assert isinstance(last, ev.SupplementRequested) and last.count == 2 and last.reason.startswith("补交的图纸")


def test_the_department_closes_an_unsupplied_case_by_hand_with_its_opinion_before_acceptance():
    case = received_case()
    case.request_supplement(items=["图纸"], due_on=date(2026, 3, 9), at=cst(2026, 3, 3), actor="d", calendar=CALENDAR)
    with pytest.raises(IllegalTransition, match="补正期限 2026-03-09 尚未届满"):
        case.close_unsupplemented(opinion="逾期未补正", at=cst(2026, 3, 9, 17), actor="d")
    with pytest.raises(InvalidInput, match="补正不来办结意见"):
        case.close_unsupplemented(opinion=" ", at=cst(2026, 3, 10), actor="d")
    case.close_unsupplemented(opinion="申请人逾期未补正图纸，按补正不来办结", at=cst(2026, 3, 10), actor="d")
    assert case.state is CaseState.CLOSED_UNSUPPLEMENTED and case.closed_reason.startswith("申请人逾期未补正图纸")
    closed = case.collect_events()[-1]
    assert isinstance(closed, ev.CaseClosedUnsupplemented) and closed.opinion and not closed.after_acceptance


def test_a_supplement_after_acceptance_ends_at_its_due_date_when_closed_unsupplied():
    case = accepted_case(FIVE)
    case.request_supplement(items=["图纸"], due_on=date(2026, 3, 6), at=cst(2026, 3, 4), actor="d", calendar=CALENDAR)
    assert case.open_supplement() is not None and case.open_supplement().due_on == date(2026, 3, 6)
    with pytest.raises(IllegalTransition, match="尚未届满"):
        case.close_unsupplemented(at=cst(2026, 3, 6, 18), actor="system:deadlines")
    case.close_unsupplemented(opinion="逾期未补正", at=cst(2026, 3, 12), actor="d")
    assert case.state is CaseState.CLOSED_UNSUPPLEMENTED and case.stages[0].end_on == date(2026, 3, 6)
    reading = case.clock(CALENDAR, date(2026, 4, 30))
    assert reading is not None
    # 03-05 and 03-06 waited for the applicant; 03-03, 04, 09, 10, 11, 12 are the department's own
    assert (reading.stopped_on, reading.excluded_days, reading.used, reading.paused) == (date(2026, 3, 12), 2, 6, False)
    closed = case.collect_events()[-1]
    assert isinstance(closed, ev.CaseClosedUnsupplemented) and closed.after_acceptance


def test_the_watcher_closes_a_supplement_stage_after_acceptance_once_its_due_date_passed():
    case = accepted_case(FIVE)
    case.request_supplement(items=["图纸"], due_on=date(2026, 3, 6), at=cst(2026, 3, 4), actor="d", calendar=CALENDAR)
    case.close_unsupplemented(at=cst(2026, 3, 9, 0, 5), actor="system:deadlines")
    assert case.state is CaseState.CLOSED_UNSUPPLEMENTED and case.closed_reason == "申请人未在 2026-03-06 前补正材料"


def test_an_overdue_case_cannot_be_paused_by_a_supplement_request():
    case = accepted_case(FIVE)
    with pytest.raises(IllegalTransition, match="特殊环节只能在承诺期限内启动"):
        case.request_supplement(
            items=["图纸"], due_on=date(2026, 3, 20), at=cst(2026, 3, 10), actor="d", calendar=CALENDAR
        )


def test_without_an_open_supplement_there_is_nothing_to_close_unsupplied():
    case = accepted_case(FIVE)
    with pytest.raises(IllegalTransition, match="没有待补正的材料"):
        case.close_unsupplemented(opinion="x", at=cst(2026, 3, 4), actor="d")


# ---------------------------------------------------------------- withdrawal


def test_withdrawal_freezes_the_clock_on_its_date():
    case = accepted_case(FIVE)
    expert_review(case, cst(2026, 3, 4))
    case.withdraw(reason="申请人主动撤回", at=cst(2026, 3, 6), actor="w")
    frozen = case.clock(CALENDAR, date(2026, 3, 6))
    months_later = case.clock(CALENDAR, date(2026, 6, 30))
    assert frozen is not None and months_later is not None
    assert months_later == frozen
    assert (frozen.stopped_on, frozen.used, frozen.overdue, frozen.paused, frozen.early) == (
        date(2026, 3, 6),
        2,  # 03-03 and 03-04; 03-05 and 03-06 were the expert review's
        False,
        False,
        None,
    )


# ---------------------------------------------------------------- matters


def test_the_seed_sample_is_an_instant_matter_with_a_promised_limit_of_one_day():
    sample = dataclasses.replace(
        BUILDING, name="防雷装置竣工验收", kind=CaseKind.INSTANT, legal_limit=10, promised_limit=1
    )
    case = accepted_case(sample)
    reading = case.clock(CALENDAR, date(2026, 3, 2))
    assert reading is not None and reading.due_date == date(2026, 3, 3) and reading.legal_due_date == date(2026, 3, 16)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"kind": CaseKind.INSTANT, "promised_limit": 2}, "即办件的承诺期限为 0 或 1 个工作日"),
        ({"promised_limit": 31}, "不得超过法定期限"),
        ({"promised_limit": -1}, "承诺期限（-1）"),
        ({"legal_limit": -3, "promised_limit": 0}, "法定期限（-3）"),
        ({"legal_limit": 400}, "法定期限（400）"),
        ({"kind": CaseKind.PROMISED, "promised_limit": 0}, "承诺件"),
        ({"legal_limit": True}, "法定期限"),
    ],
)
def test_a_matter_keeps_refusing_limits_that_make_no_sense(change, words):
    with pytest.raises(InvalidInput, match=words):
        dataclasses.replace(BUILDING, **change)


# ---------------------------------------------------------------- the property


COMMANDS = ("open", "close", "extend", "supplement", "supplied", "unsupplied", "decide")


@st.composite
def scripts(draw: st.DrawFn) -> tuple[Matter, list[tuple[int, str, int, int, bool]]]:
    limit = draw(st.sampled_from([1, 3, 5, 10]))
    matter = dataclasses.replace(BUILDING, id=f"m-{limit}", promised_limit=limit, legal_limit=limit + 10)
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(0, 6),  # days since the previous command
                st.sampled_from(COMMANDS),
                st.integers(0, 8),  # how many days back a stage starts / ends, or extension days
                st.integers(1, 10),  # days to supplement, or extension days
                st.booleans(),  # the lead approved a late record
            ),
            max_size=14,
        )
    )
    return matter, steps


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts(), st.integers(0, 25))
def test_a_case_that_was_ever_overdue_is_never_early(script, final_gap):
    matter, steps = script
    case = accepted_case(matter)
    day = date(2026, 3, 2)
    observed = day
    ever_overdue = False
    minute = 0

    def watch(until: date) -> None:
        """Read the clock every day up to ``until`` as the record stands: was it ever overdue?"""
        nonlocal observed, ever_overdue
        while observed <= until:
            reading = case.clock(CALENDAR, observed)
            ever_overdue = ever_overdue or bool(reading and reading.overdue)
            observed += timedelta(days=1)
        observed = until  # the same day again after the next command

    def run(command: str, back: int, days: int, approved: bool) -> None:
        nonlocal minute
        minute += 1
        at = cst(day.year, day.month, day.day, 8) + timedelta(minutes=minute)
        if command == "open":
            expert_review(case, at, start_on=day - timedelta(days=back), approved_by="lead" if approved else None)
        elif command == "close":
            for stage in case.open_stages():
                if stage.type is not StageType.SUPPLEMENT:
                    end = max(stage.start_on, day - timedelta(days=back))
                    case.close_stage(stage_id=stage.id, end_on=end, at=at, actor="d")
        elif command == "extend":
            case.extend(days=days, approver="局长", reason="r", at=at, actor="d", calendar=CALENDAR)
        elif command == "supplement":
            case.request_supplement(
                items=["图纸"], due_on=day + timedelta(days=days), reason="r", at=at, actor="d", calendar=CALENDAR
            )
        elif command == "supplied":
            case.supplement_supplied(at=at, actor="d")
        elif command == "unsupplied":
            case.close_unsupplemented(opinion="逾期未补正", at=at, actor="d")
        else:
            case.decide(outcome=Outcome.APPROVED, opinion="同意", at=at, actor="d")

    for gap, command, back, days, approved in steps:
        if case.state not in (CaseState.ACCEPTED, CaseState.IN_REVIEW):
            break
        day += timedelta(days=gap)
        watch(day)
        try:
            run(command, back, days, approved)
        except DomainError:
            pass
        watch(day)
    if case.state in (CaseState.ACCEPTED, CaseState.IN_REVIEW):
        day += timedelta(days=final_gap)
        watch(day)
        for finish in ("supplied", "close", "decide"):
            try:
                run(finish, 0, 1, False)
            except DomainError:
                pass
        watch(day)
    if case.decided_at is None:
        return
    reading = case.clock(CALENDAR, day)
    assert reading is not None
    if ever_overdue:
        assert reading.early is False
    if reading.early:
        assert reading.limit - reading.used >= 1 and not reading.overdue
