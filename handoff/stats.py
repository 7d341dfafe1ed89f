"""Seed 002's evaluation indicators (全市通办 工作指引) as pure functions over case facts.

Each ratio is None when its denominator is zero: "no cases" is not "0 %".

* 受理率 = accepted cases / all cases
* 办结率 = 办结数 / 应办结数, where 应办结数 = 办结数 (on time or late) + 超时未办结数: cases still
  running and overdue — beyond the promised limit by one full working day or more (seed 002's
  definition of 逾期). A case due on Friday is not 应办结 on the weekend after: it is not yet late.
* 提前办结率 = cases finished early / all cases; early ⇔ 承诺时限 − (办结时间 − 受理时间 − 不计时时间)
  ≥ 1, against the promised limit WITHOUT extensions, and never for a case that was ever overdue
* 逾期数 = cases more than one full working day past the promised limit, decided or not
* 少跑次数 = cases whose result was mailed to the applicant or registered at the window's pickup
* 少跑距离 = Σ distance between the collecting window and the home department — the department of
  the applicant's own jurisdiction (属地, from the matter's implementations), where they would
  otherwise have gone (for 委托审批 the entrusted unit is local: the trip saved is still the one to
  the home jurisdiction). Cases registered before the case recorded it use the matter's department.

A withdrawn case's clock froze on its withdrawal date (``Case.clock``): its figures do not move.
* 好差评: coverage = rated / all; average score; 差评率 = bad / rated; 整改率 = rectified bad / bad
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from handoff.case import UNDER_REVIEW, Case, CaseState
from handoff.matter import Delivery
from handoff.ports import Calendar

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


def distance_km(a: Point, b: Point) -> float:
    """Great-circle (haversine) distance."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class CaseFacts:
    """What the indicators need to know of one case, on one evaluation date."""

    case_id: str
    accepted: bool
    decided: bool
    due_passed: bool
    """超时未办结: still running, undecided and overdue on the evaluation date (应办结 though not
    办结). The name is the projection's column."""
    early: bool
    overdue: bool
    trip_saved: bool
    distance_km: float
    rating: int | None
    bad_rating: bool
    rectified: bool


def case_facts(case: Case, calendar: Calendar, today: date, offices: Mapping[str, Point]) -> CaseFacts:
    reading = case.clock(calendar, today)
    mailed = case.delivery is Delivery.MAIL_TO_APPLICANT and case.state in (
        CaseState.RESULT_SHIPPED,
        CaseState.READY_FOR_PICKUP,
        CaseState.DELIVERED,
        CaseState.ARCHIVED,
    )
    picked_at_window = case.pickup is not None and case.pickup.office_id == case.window_office_id
    window = offices.get(case.window_office_id)
    home = offices.get(case.home_office_id or case.matter.department_office_id)
    rating = case.rating
    running = case.state in UNDER_REVIEW
    return CaseFacts(
        case_id=case.id,
        accepted=case.accepted_at is not None,
        decided=case.decided_at is not None,
        due_passed=running and reading is not None and reading.overdue,
        early=bool(reading and reading.early),
        overdue=bool(reading and reading.overdue),
        trip_saved=mailed or picked_at_window,
        distance_km=distance_km(window, home) if window and home else 0.0,
        rating=rating.score if rating else None,
        bad_rating=bool(rating and rating.bad),
        rectified=bool(rating and rating.bad and rating.rectified_at is not None),
    )


@dataclass(frozen=True)
class Indicators:
    cases: int
    accepted: int
    decided: int
    should_be_decided: int
    early: int
    overdue: int
    trips_saved: int
    distance_saved_km: float
    rated: int
    rating_sum: int
    bad: int
    rectified: int

    @property
    def acceptance_rate(self) -> float | None:
        return _ratio(self.accepted, self.cases)

    @property
    def completion_rate(self) -> float | None:
        return _ratio(self.decided, self.should_be_decided)

    @property
    def early_rate(self) -> float | None:
        return _ratio(self.early, self.cases)

    @property
    def overdue_rate(self) -> float | None:
        return _ratio(self.overdue, self.cases)

    @property
    def rating_coverage(self) -> float | None:
        return _ratio(self.rated, self.cases)

    @property
    def average_rating(self) -> float | None:
        return _ratio(self.rating_sum, self.rated)

    @property
    def bad_rating_rate(self) -> float | None:
        return _ratio(self.bad, self.rated)

    @property
    def rectification_rate(self) -> float | None:
        return _ratio(self.rectified, self.bad)

    def __add__(self, other: Indicators) -> Indicators:
        """Indicators of two disjoint sets of cases (for rolling days up into periods)."""
        return Indicators(**{name: getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__})


def indicators(facts: Iterable[CaseFacts]) -> Indicators:
    rows = list(facts)
    rated = [f for f in rows if f.rating is not None]
    return Indicators(
        cases=len(rows),
        accepted=sum(f.accepted for f in rows),
        decided=sum(f.decided for f in rows),
        should_be_decided=sum(f.decided or (f.accepted and f.due_passed) for f in rows),
        early=sum(f.early for f in rows),
        overdue=sum(f.overdue for f in rows),
        trips_saved=sum(f.trip_saved for f in rows),
        distance_saved_km=round(sum(f.distance_km for f in rows), 3),
        rated=len(rated),
        rating_sum=sum(f.rating or 0 for f in rated),
        bad=sum(f.bad_rating for f in rows),
        rectified=sum(f.rectified for f in rows),
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator
