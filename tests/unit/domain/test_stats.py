from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from handoff.case import Case, Outcome
from handoff.codes import hash_token
from handoff.matter import Delivery, Mode
from handoff.stats import CaseFacts, Point, case_facts, distance_km, indicators

from .conftest import APPLICANT, BUILDING, CALENDAR, accepted_case, all_materials, cst, new_case

SHANWEI_CITY = Point(22.786, 115.375)  # 汕尾市城区
LUFENG = Point(22.945, 115.644)  # 陆丰市


def test_distance_between_lufeng_and_the_city_is_about_thirty_three_kilometres():
    assert distance_km(SHANWEI_CITY, LUFENG) == pytest.approx(33.0, abs=1.5)


def test_no_cases_give_no_ratios_not_zero_percent():
    empty = indicators([])
    assert empty.cases == 0 and empty.acceptance_rate is None and empty.average_rating is None


def test_the_seed_indicators_from_real_cases(calendar):
    offices = {"win-441581": LUFENG, BUILDING.department_office_id: SHANWEI_CITY}
    early = accepted_case(BUILDING, delivery=Delivery.MAIL_TO_APPLICANT)
    early.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 10), actor="d")
    early.ship_result(at=cst(2026, 3, 10, 15), actor="d", result_package_id="r")
    early.rate(score=2, comment="态度一般", at=cst(2026, 3, 12), actor="a")
    early.rectify_rating(note="已整改", at=cst(2026, 3, 13), actor="d")
    late = accepted_case(BUILDING, case_id="case-2")  # undecided and past due on 04-30
    waiting = new_case(case_id="case-3")  # not accepted yet
    facts = [case_facts(c, calendar, date(2026, 4, 30), offices) for c in (early, late, waiting)]
    result = indicators(facts)
    assert result.acceptance_rate == pytest.approx(2 / 3)
    assert result.completion_rate == pytest.approx(1 / 2)  # one decided of two that should be
    assert result.early_rate == pytest.approx(1 / 3)
    assert result.overdue == 1
    assert result.trips_saved == 1
    assert result.distance_saved_km == pytest.approx(3 * distance_km(LUFENG, SHANWEI_CITY), abs=0.01)
    assert (result.rated, result.average_rating, result.bad_rating_rate, result.rectification_rate) == (
        1,
        2.0,
        1.0,
        1.0,
    )


def test_indicators_of_days_add_up_to_the_period():
    a = CaseFacts("a", True, True, True, True, False, True, 10.0, 5, False, False)
    b = CaseFacts("b", True, False, True, False, True, False, 5.0, 1, True, False)
    assert indicators([a]) + indicators([b]) == indicators([a, b])


# ---------------------------------------------------------------- issue 14: the formulas exactly as seed 002

FIVE = dataclasses.replace(BUILDING, id="m-5", legal_limit=15, promised_limit=5, stage_limits={})
LUFENG_UNIT = Point(22.9452, 115.6443)  # 陆丰市's own entrusted unit, next door to the window


def test_the_distance_saved_by_a_delegated_case_is_the_trip_to_the_matters_home_department():
    case = Case.register(
        case_id="case-d",
        matter=BUILDING,
        mode=Mode.DELEGATED,
        delivery=Delivery.PICKUP_AT_WINDOW,
        applicant=APPLICANT,
        window_office_id="win-441581",
        department_office_id="dept-441581-zj",  # the entrusted unit in the window's own region decides
        submitted=all_materials(BUILDING),
        tracking_token_hash=hash_token("d"),
        at=cst(2026, 3, 2, 9),
        actor="clerk-lf",
    )
    offices = {"win-441581": LUFENG, "dept-441581-zj": LUFENG_UNIT, BUILDING.department_office_id: SHANWEI_CITY}
    facts = case_facts(case, CALENDAR, date(2026, 3, 2), offices)
    assert facts.distance_km == pytest.approx(distance_km(LUFENG, SHANWEI_CITY))
    assert facts.distance_km > 30  # not the few hundred metres to the entrusted unit


def test_a_case_due_on_friday_is_not_yet_to_be_decided_on_the_weekend_after():
    case = accepted_case(FIVE, on=date(2026, 3, 6))  # Friday; due Friday 03-13
    offices: dict[str, Point] = {}
    for day, should in ((date(2026, 3, 13), 0), (date(2026, 3, 14), 0), (date(2026, 3, 15), 0), (date(2026, 3, 16), 1)):
        figures = indicators([case_facts(case, CALENDAR, day, offices)])
        assert figures.should_be_decided == should, day
    assert indicators([case_facts(case, CALENDAR, date(2026, 3, 16), offices)]).completion_rate == 0.0


def test_decided_cases_count_as_to_be_decided_whenever_they_are_due():
    case = accepted_case(FIVE)
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 3), actor="d")
    figures = indicators([case_facts(case, CALENDAR, date(2026, 3, 3), {})])
    assert (figures.decided, figures.should_be_decided, figures.completion_rate) == (1, 1, 1.0)


def test_an_extension_does_not_make_a_case_early():
    case = accepted_case(FIVE)
    case.extend(days=10, approver="王局长", reason="复杂", at=cst(2026, 3, 5), actor="d", calendar=CALENDAR)
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 18), actor="d")  # day 12 of 5 + 10
    figures = indicators([case_facts(case, CALENDAR, date(2026, 3, 18), {})])
    assert (figures.early, figures.overdue, figures.decided) == (0, 0, 1)


def test_a_withdrawn_cases_figures_freeze_on_the_withdrawal_date():
    case = accepted_case(FIVE)
    case.withdraw(reason="申请人主动撤回", at=cst(2026, 3, 5), actor="w")
    then = case_facts(case, CALENDAR, date(2026, 3, 5), {})
    later = case_facts(case, CALENDAR, date(2026, 6, 30), {})
    assert later == then and not later.overdue and not later.due_passed
    assert indicators([later]).should_be_decided == 0
