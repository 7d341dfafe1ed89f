from __future__ import annotations

from datetime import date

import pytest

from handoff.case import Outcome
from handoff.matter import Delivery
from handoff.stats import CaseFacts, Point, case_facts, distance_km, indicators

from .conftest import BUILDING, accepted_case, cst, new_case

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
