from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from adapters.calendar import load_calendar
from handoff.calendar import ScheduleCalendar
from handoff.case import Applicant, Case, MaterialSubmission
from handoff.codes import hash_token
from handoff.matter import CaseKind, Delivery, MaterialRequirement, Matter, Mode, StageType

CST = timezone(timedelta(hours=8))


def cst(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A time in China, as clerks think of it."""
    return datetime(y, m, d, hh, mm, tzinfo=CST)


CALENDAR = load_calendar()
"""The State Council's calendar as the service loads it (for commands whose guards read the clock)."""


@pytest.fixture(scope="session")
def calendar() -> ScheduleCalendar:
    return CALENDAR


LIGHTNING = Matter(
    id="m-fl-ys",
    name="防雷装置竣工验收",
    department_office_id="dept-441500-qx",
    legal_limit=10,
    promised_limit=1,
    kind=CaseKind.PROMISED,
    modes=frozenset({Mode.PROXY_COLLECT, Mode.ONLINE}),
    materials=(
        MaterialRequirement("《防雷装置竣工验收申请书》"),
        MaterialRequirement("防雷装置竣工图纸"),
        MaterialRequirement("施工单位的资质证", tolerable=True, original=False),
        MaterialRequirement("授权委托书", tolerable=True),
    ),
)

BUILDING = Matter(
    id="m-jz",
    name="建设工程规划许可证核发",
    department_office_id="dept-441500-zj",
    legal_limit=30,  # 20 working days and the 10 行政许可法 §42 allows to extend them by
    promised_limit=20,
    kind=CaseKind.PROMISED,
    modes=frozenset({Mode.PROXY_COLLECT, Mode.DELEGATED}),
    materials=(
        MaterialRequirement("建设工程规划许可申请表"),
        MaterialRequirement("建设工程设计方案"),
        MaterialRequirement("土地权属证明", tolerable=True),
        MaterialRequirement("其他补充说明", required=False),
    ),
    stage_limits={StageType.EXPERT_REVIEW: 10},
)

INSTANT = Matter(
    id="m-jb",
    name="个体工商户营业执照补领",
    department_office_id="dept-441502-sj",
    legal_limit=5,
    promised_limit=0,
    kind=CaseKind.INSTANT,
    modes=frozenset({Mode.PROXY_COLLECT}),
    materials=(MaterialRequirement("补领申请书"),),
)

APPLICANT = Applicant.create("张小三", "138 1234 5678", "11010519491231002X", "汕尾市城区香洲街道 1 号")


def all_materials(matter: Matter) -> list[MaterialSubmission]:
    return [MaterialSubmission(m.name, pages=3) for m in matter.materials if m.required]


def new_case(
    matter: Matter = BUILDING,
    *,
    delivery: Delivery = Delivery.MAIL_TO_APPLICANT,
    at: datetime | None = None,
    case_id: str = "case-1",
) -> Case:
    return Case.register(
        case_id=case_id,
        matter=matter,
        mode=Mode.PROXY_COLLECT,
        delivery=delivery,
        applicant=APPLICANT,
        window_office_id="win-441581",
        department_office_id=matter.department_office_id,
        submitted=all_materials(matter),
        tracking_token_hash=hash_token("abc"),
        at=at or cst(2026, 3, 2, 9),
        actor="clerk-lf",
    )


def accepted_case(matter: Matter = BUILDING, on: date = date(2026, 3, 2), **kw: object) -> Case:
    case = new_case(matter, at=cst(on.year, on.month, on.day, 9), **kw)  # type: ignore[arg-type]
    case.forward(at=cst(on.year, on.month, on.day, 9, 30), actor="clerk-lf")
    case.receive(at=cst(on.year, on.month, on.day, 10), actor="dept-clerk")
    case.accept(at=cst(on.year, on.month, on.day, 11), actor="dept-clerk")
    case.collect_events()
    return case
