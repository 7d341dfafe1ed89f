"""The demo world's cases, so that a newcomer's first screen is not empty (DESIGN §13).

A few dozen applications at the four proxy windows of 汕尾市, in every state a case goes
through: just registered, sealed, in transit, signed for, accepted, paused in a special stage
(勘验, 专家评审, 整改, 补正 after acceptance), waiting for a supplement or with it brought back
through the window, decided either way, result on its way, waiting for pickup, picked up, rated
(a 差评 among them, one answered), archived; and the branches (不予受理, 补正不来办结, 撤回), one
overdue and one due soon, one 全程网办 with electronic materials, one 即办件, one 异地委托审批.

Every case is built through the application services (handoff/services.py) with a clock set to
the past, one command at a time, as the clerks would have done it: every event, custody record,
hash chain, manifest, package code and clock is real, and the dates fall on the working days of
the calendar in use, over the last weeks, every step before today. The people are made up (the
names are common ones; the phones are in 137 0000 xxxx); the organisations are invented.

Idempotent: each case has a fixed id (a UUID derived from its key), and a case that is there is
never built again. The past steps are not texted: the notifications group is told, through its
inbox, that it has seen the events of the demo build (worker/notifications.py writes the same
row when it handles one); every other consumer group (clocks, indicators, logistics) handles
them as it handles any event. Only the embedded start calls this (cli/serve.py), and production
refuses demo data before anything is loaded (Settings.production_refusal).

To adapt the world (other matters, regions, electronic materials), change :data:`STORIES`: each
is a plain async function of one :class:`Story`.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db import domain_tables as t
from adapters.db.tables import inbox, outbox
from handoff import events as ev
from handoff.case import MaterialSubmission, Outcome
from handoff.clock import add_working_days
from handoff.errors import DomainError
from handoff.matter import Delivery, Mode, StageType
from handoff.package import Item
from handoff.ports import Calendar, UnitOfWork
from handoff.services import (
    CaseCommand,
    CourierReport,
    Deps,
    HandOverBatch,
    RegisterCase,
    SealOutbound,
    ShipResult,
    SignPackage,
    TakeInAtWindow,
    dispatch,
)

log = logging.getLogger("handoff.demo")
CHINA = timezone(timedelta(hours=8))
NAMESPACE = uuid.UUID("6f1c2a4e-2b1d-4c55-9a57-5d0e3c7a1f15")
NOTIFICATIONS = "notifications"
"""The notifications group's name in the inbox (worker/notifications.CONSUMER; a test keeps them equal)."""
LAW_45 = "《中华人民共和国行政许可法》第四十五条"

# Staff who act in the demo cases besides the demo users of adapters/demo.py: a clerk at each of
# the other windows, and the clerk of 陆丰's entrusted department. They sign in only once an admin
# gives them a password.
STAFF = [
    ("clerk-cq", "李秀英（城区窗口）", "window_clerk", "office:win-441502", "13800001002"),
    ("clerk-hf", "蔡文杰（海丰窗口）", "window_clerk", "office:win-441521", "13800001003"),
    ("clerk-lh", "叶美华（陆河窗口）", "window_clerk", "office:win-441523", "13800001004"),
    ("dept-lfsj", "庄志明（陆丰市市场监管局）", "dept_clerk", "office:dept-441581-sj", "13800002002"),
    ("dept-hfsj", "王海燕（海丰县市场监管局）", "dept_clerk", "office:dept-441521-sj", "13800002003"),
    ("dept-lhsj", "彭振东（陆河县市场监管局）", "dept_clerk", "office:dept-441523-sj", "13800002004"),
    ("dept-lfqx", "陈耀光（陆丰市气象局）", "dept_clerk", "office:dept-441581-qx", "13800002005"),
    ("dept-hfqx", "黄秋萍（海丰县气象局）", "dept_clerk", "office:dept-441521-qx", "13800002006"),
    ("dept-lhqx", "叶俊明（陆河县气象局）", "dept_clerk", "office:dept-441523-qx", "13800002007"),
]
CLERKS = {"win-441581": "clerk-lf", "win-441502": "clerk-cq", "win-441521": "clerk-hf", "win-441523": "clerk-lh"}
DEPARTMENT_CLERKS = {
    "dept-441500-zj": "dept-zj",  # the demo user dept-zj works for the three city bureaus
    "dept-441500-qx": "dept-zj",
    "dept-441500-sj": "dept-zj",
    "dept-441581-sj": "dept-lfsj",
    "dept-441521-sj": "dept-hfsj",
    "dept-441523-sj": "dept-lhsj",
    "dept-441581-qx": "dept-lfqx",
    "dept-441521-qx": "dept-hfqx",
    "dept-441523-qx": "dept-lhqx",
}
DEPARTMENTS = set(DEPARTMENT_CLERKS)
REGION_OF_ADDRESS = {"汕尾市城区": "441502", "海丰县": "441521", "陆河县": "441523", "陆丰市": "441581"}
COURIER = "courier-07"
LEAD = "lead-zj"

MATERIALS = {
    "m-flzz-ys": ("《防雷装置竣工验收申请书》", "防雷装置竣工图纸", "施工单位的资质证", "授权委托书"),
    "m-jsgc-xk": ("建设工程规划许可申请表", "建设工程设计方案", "土地权属证明"),
    "m-spjy-xk": (
        "食品经营许可申请书",
        "营业执照复印件",
        "与食品经营相适应的主要设备设施布局、操作流程等文件",
        "食品安全管理制度",
    ),
    "m-gtzz-bl": ("个体工商户补领执照申请书", "经营者身份证明"),
}
COPIES = {"营业执照复印件": False, "施工单位的资质证": False, "经营者身份证明": False, "土地权属证明": False}
PAGES = {"防雷装置竣工图纸": 12, "建设工程设计方案": 36, "与食品经营相适应的主要设备设施布局、操作流程等文件": 8}
PLACES = {
    "win-441581": "陆丰市东海街道",
    "win-441502": "汕尾市城区香洲街道",
    "win-441521": "海丰县海城镇",
    "win-441523": "陆河县河田镇",
}


class DemoClock:
    """The services' clock during the build: set to each step's time in turn."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Person:
    name: str
    phone: str
    address: str
    organisation: str = ""

    @property
    def region(self) -> str:
        """属地: the region of the address, which decides the department (handoff.matter.route)."""
        return next(code for prefix, code in REGION_OF_ADDRESS.items() if self.address.startswith(prefix))


@dataclass
class Builder:
    """What the stories share: the services, the clock they move, and the working days."""

    uow: Callable[[], UnitOfWork]
    deps: Deps
    clock: DemoClock
    workdays: list[date]
    """The working days before today, newest first: ``workdays[0]`` is the last one."""
    now: datetime

    unit: UnitOfWork | None = None
    """The story's unit of work: each command commits into it (a flush), the story commits once."""

    async def run(self, cmd: object) -> list[ev.Event]:
        if self.clock.at >= self.now:
            raise RuntimeError(f"demo step at {self.clock.at} is not in the past")
        if self.unit is None:
            raise RuntimeError("demo step outside its story's unit of work")
        return await dispatch(cmd, self.unit, self.deps)


@dataclass
class Story:
    """One case walked from its registration, day by day (working days) and hour by hour."""

    builder: Builder
    key: str
    window: str
    ago: int
    """Working days before today on which the story is now (1: the last working day)."""
    minute: int = 0
    case_id: str = ""
    department: str = ""
    outbound: str = ""
    result: str = ""
    stages: dict[str, str] = field(default_factory=dict)

    @property
    def clerk(self) -> str:
        return CLERKS[self.window]

    @property
    def dept_clerk(self) -> str:
        return DEPARTMENT_CLERKS[self.department]

    # ------------------------------------------------------------------ time

    def at(self, hour: int, minute: int = 0) -> None:
        """Move to a local time of the current day (never backwards: a step after the given
        time goes on a few minutes later)."""
        day = self.builder.workdays[self.ago - 1]
        wanted = datetime(day.year, day.month, day.day, hour, (minute + self.minute) % 60, tzinfo=CHINA)
        current = self.builder.clock.at
        self.builder.clock.at = max(wanted.astimezone(UTC), current + timedelta(minutes=7))

    def next_day(self, days: int = 1, hour: int = 9, minute: int = 0) -> None:
        if self.ago - days < 1:
            raise RuntimeError(f"demo story {self.key} runs into today")
        self.ago -= days
        self.builder.clock.at = datetime.min.replace(tzinfo=UTC)
        self.at(hour, minute)

    def later(self, minutes: int) -> None:
        self.builder.clock.at += timedelta(minutes=minutes)

    # ------------------------------------------------------------------ steps

    async def command(self, name: str, actor: str | None = None, **args: Any) -> list[ev.Event]:
        return await self.builder.run(
            CaseCommand(case_id=self.case_id, name=name, actor=actor or self.dept_clerk, args=args)
        )

    async def register(
        self,
        matter_id: str,
        person: Person,
        *,
        mode: Mode = Mode.PROXY_COLLECT,
        delivery: Delivery = Delivery.MAIL_TO_APPLICANT,
        tolerated: Sequence[str] = (),
    ) -> None:
        self.at(9, 10)
        materials = [
            MaterialSubmission(
                name,
                pages=PAGES.get(name, 2),
                original=COPIES.get(name, True),
                electronic=mode is Mode.ONLINE,
            )
            for name in MATERIALS[matter_id]
            if name not in tolerated
        ]
        [collected, *_] = await self.builder.run(
            RegisterCase(
                matter_id=matter_id,
                mode=mode,
                delivery=delivery,
                applicant_name=person.name,
                applicant_phone=person.phone,
                applicant_address=person.address,
                applicant_organisation=person.organisation,
                applicant_region_code=person.region,
                window_office_id=self.window,
                actor=self.clerk,
                materials=materials,
                tolerated=tolerated,
                case_id=self.case_id,
            )
        )
        assert isinstance(collected, ev.CaseCollected)
        self.department = collected.department_office_id

    async def seal(self, electronic: bool = False) -> None:
        self.later(15)
        events = await self.builder.run(SealOutbound(case_id=self.case_id, actor=self.clerk, electronic=electronic))
        self.outbound = _created_package(events)

    async def hand_over(self, package_id: str = "") -> None:
        self.at(16, 0)
        await self.builder.run(
            HandOverBatch(
                office_id=self.window, courier=COURIER, package_ids=[package_id or self.outbound], actor=self.clerk
            )
        )

    async def in_transit(self, package_id: str, place: str) -> None:
        self.next_day(hour=8, minute=30)
        await self.builder.run(
            CourierReport(package_id=package_id, step="in_transit", courier=COURIER, actor=COURIER, place=place)
        )

    async def delivered(self, package_id: str, place: str) -> None:
        self.at(11, 0)
        await self.builder.run(
            CourierReport(package_id=package_id, step="delivered", courier=COURIER, actor=COURIER, place=place)
        )

    async def sign(self, package_id: str = "", office_id: str = "", actor: str = "") -> None:
        self.later(25)
        await self.builder.run(
            SignPackage(
                package_id=package_id or self.outbound,
                office_id=office_id or self.department,
                actor=actor or self.dept_clerk,
            )
        )

    async def to_department(self) -> None:
        """Sealed, handed to the courier, carried, delivered and signed for: received."""
        await self.seal()
        await self.hand_over()
        await self.in_transit(self.outbound, "汕尾市城区政务专递分拣点")
        await self.delivered(self.outbound, "汕尾市城区")
        await self.sign()

    async def accept(self) -> None:
        self.next_day(hour=10)
        await self.command("accept")

    async def open_stage(self, stage_type: StageType, reason: str, expected_days: int) -> None:
        self.at(10, 30)
        events = await self.command(
            "open_stage", stage_type=stage_type.value, reason=reason, legal_basis=LAW_45, expected_days=expected_days
        )
        opened = next(e for e in events if isinstance(e, ev.StageOpened))
        self.stages[stage_type.value] = opened.stage_id

    async def close_stage(self, stage_type: StageType) -> None:
        self.at(16, 30)
        await self.command("close_stage", stage_id=self.stages[stage_type.value])

    async def decide(self, outcome: Outcome = Outcome.APPROVED, opinion: str = "") -> None:
        self.at(15, 0)
        text = opinion or ("经审查，申请材料齐全、符合法定形式，准予许可。" if outcome is Outcome.APPROVED else "")
        await self.command("decide", outcome=outcome.value, opinion=text)

    async def ship(self) -> None:
        """The result sealed and taken by the courier the next morning (electronic: sent at once)."""
        self.later(40)
        events = await self.builder.run(ShipResult(case_id=self.case_id, actor=self.dept_clerk))
        created = [e for e in events if e.type == "package.created"]
        if created:
            self.result = _created_package(events)
            self.next_day(hour=9, minute=30)
            await self.builder.run(
                CourierReport(package_id=self.result, step="picked_up", courier=COURIER, actor=COURIER)
            )

    async def mailed(self) -> None:
        """The result carried to the applicant's address: delivered (送达)."""
        await self.in_transit(self.result, "汕尾市城区政务专递分拣点")
        await self.delivered(self.result, PLACES[self.window])
        self.later(5)
        await self.command("deliver", actor=COURIER)

    async def at_window(self) -> None:
        """The result carried back to the window, which signs for it: ready for pickup."""
        await self.in_transit(self.result, "汕尾市城区政务专递分拣点")
        await self.delivered(self.result, PLACES[self.window])
        await self.sign(self.result, self.window, self.clerk)

    async def picked_up(self, name: str) -> None:
        self.next_day(hour=14, minute=20)
        await self.command(
            "register_pickup", actor=self.clerk, office_id=self.window, receiver_name=name, by_proxy=False
        )

    async def rate(self, score: int, comment: str = "") -> None:
        self.at(19, 0)
        await self.command("rate", actor="applicant", score=score, comment=comment)

    async def archive(self) -> None:
        self.next_day(hour=17)
        await self.command("archive")


def _created_package(events: Sequence[ev.Event]) -> str:
    package_id = next(e.package_id for e in events if e.type == "package.created")
    assert package_id is not None
    return package_id


# =========================================================================== the people

P = {
    "chen": Person("陈美玲", "13700001001", "陆丰市东海街道人民路 18 号", "陆丰市东海美玲小吃店"),
    "lin": Person("林家豪", "13700001002", "陆丰市城东镇新河路 6 号", "陆丰市城东镇家豪建材有限公司"),
    "huang": Person("黄晓敏", "13700001003", "海丰县海城镇新城路 21 号", "海丰县海晟建筑安装工程有限公司"),
    "zheng": Person("郑国栋", "13700001004", "陆丰市甲子镇瀛江路 9 号", "陆丰市甲子镇瀛江置业有限公司"),
    "wu": Person("吴丽芳", "13700001005", "汕尾市城区新港街道通航路 33 号", "汕尾市城区丽芳餐饮店"),
    "cai": Person("蔡少雄", "13700001006", "陆丰市博美镇振兴路 2 号", "陆丰市博美镇少雄五金店"),
    "zhuang": Person("庄雅琪", "13700001007", "汕尾市城区香洲街道金湖路 15 号", "汕尾市城区雅琪烘焙坊"),
    "peng": Person("彭志远", "13700001008", "陆丰市南塘镇南溪路 4 号", "陆丰市南塘志远农产品有限公司"),
    "xu": Person("许佳慧", "13700001009", "陆丰市东海街道东堤路 7 号", "陆丰市佳慧便利店"),
    "ye": Person("叶伟强", "13700001010", "陆丰市河西街道河西路 12 号", "陆丰市河西伟强电器有限公司"),
    "zhong": Person("钟惠珍", "13700001011", "陆丰市潭西镇潭西路 3 号", "陆丰市潭西镇惠珍粉店"),
    "li": Person("李俊杰", "13700002001", "汕尾市城区香洲街道汕尾大道 88 号", "汕尾市城区俊杰科技有限公司"),
    "he": Person("何静怡", "13700002002", "汕尾市城区凤山街道凤山路 16 号", "汕尾市城区静怡茶饮店"),
    "ou": Person("欧阳建华", "13700002003", "汕尾市城区新港街道海滨大道 5 号", "汕尾市城区建华物业管理有限公司"),
    "su": Person("苏婉婷", "13700002004", "汕尾市城区东涌镇东涌路 27 号", "汕尾市城区婉婷食品商行"),
    "guo": Person("郭振宇", "13700002005", "汕尾市城区马宫街道马宫路 11 号", "汕尾市城区振宇海产品加工厂"),
    "fang": Person("方嘉欣", "13700002006", "汕尾市城区捷胜镇捷胜路 8 号", "汕尾市城区嘉欣餐饮店"),
    "liu": Person("刘志强", "13700003001", "海丰县海城镇二环路 66 号", "海丰县志强电子科技有限公司"),
    "lu": Person("卢晓燕", "13700003002", "海丰县附城镇新园路 9 号", "海丰县晓燕餐饮店"),
    "yang": Person("杨国华", "13700003003", "海丰县梅陇镇梅陇大道 20 号", "海丰县梅陇国华食品厂"),
    "deng": Person("邓丽君", "13700003004", "海丰县城东镇东兴路 14 号", "海丰县丽君烧腊店"),
    "luo": Person("罗文斌", "13700003005", "海丰县公平镇公平大道 3 号", "海丰县公平镇文斌建筑工程有限公司"),
    "xie": Person("谢佩珊", "13700003006", "海丰县海城镇红场路 5 号", "海丰县佩珊甜品店"),
    "wen": Person("温子豪", "13700003007", "海丰县可塘镇珠宝城 2 栋 10 号", "海丰县可塘子豪小食店"),
    "peng2": Person("彭淑贞", "13700004001", "陆河县河田镇人民路 25 号", "陆河县河田淑贞农家菜馆"),
    "ye2": Person("叶建明", "13700004002", "陆河县新田镇新田大道 7 号", "陆河县新田建明工贸有限公司"),
    "zhu": Person("朱晓峰", "13700004003", "陆河县水唇镇水唇路 19 号", "陆河县水唇晓峰置业有限公司"),
    "huang2": Person("黄佳怡", "13700004004", "陆丰市城东镇朝阳路 8 号", "陆丰市佳怡仓储有限公司"),
    "luo2": Person("罗志坚", "13700004005", "陆河县河口镇河口路 6 号", "陆河县河口志坚房地产开发有限公司"),
    "gao": Person("高美娟", "13700001012", "陆丰市东海街道三清路 10 号", "陆丰市东海美娟服装店"),
    "mo": Person("莫振华", "13700001013", "陆丰市城东镇东海大道 101 号", "陆丰市振华实业投资有限公司"),
    "zeng": Person("曾淑华", "13700001014", "汕尾市城区凤山街道汕尾大道 205 号", "汕尾市城区淑华饮食店"),
    "tang": Person("唐伟民", "13700003008", "海丰县海城镇海丰大道 45 号", "海丰县伟民茶餐厅"),
    "chen2": Person("陈思远", "13700004006", "陆河县螺溪镇螺溪路 1 号", "陆河县螺溪思远实业有限公司"),
}


# =========================================================================== the stories
# Each story names the state it leaves its case in; `ago` is the working day it starts on.


async def collected(s: Story) -> None:
    await s.register("m-spjy-xk", P["chen"])


async def collected_lightning(s: Story) -> None:
    await s.register("m-flzz-ys", P["liu"])


async def sealed(s: Story) -> None:
    await s.register("m-jsgc-xk", P["lin"], delivery=Delivery.PICKUP_AT_WINDOW)
    await s.seal()


async def sealed_lh(s: Story) -> None:
    await s.register("m-jsgc-xk", P["ye2"])
    await s.seal()


async def in_transit_tolerated(s: Story) -> None:
    """容缺: the 授权委托书 is owed; the package is on the road."""
    await s.register("m-flzz-ys", P["huang"], tolerated=["授权委托书"])
    await s.seal()
    await s.hand_over()
    await s.in_transit(s.outbound, "汕尾市城区政务专递分拣点")


async def in_transit(s: Story) -> None:
    await s.register("m-spjy-xk", P["he"])
    await s.seal()
    await s.hand_over()


async def received(s: Story) -> None:
    await s.register("m-spjy-xk", P["wu"])
    await s.to_department()


async def received_lightning(s: Story) -> None:
    await s.register("m-flzz-ys", P["peng2"], delivery=Delivery.PICKUP_AT_WINDOW)
    await s.to_department()


async def supplement_requested(s: Story) -> None:
    await s.register("m-jsgc-xk", P["zheng"])
    await s.to_department()
    s.next_day(hour=11)
    await s.command(
        "request_supplement",
        items=["建设工程设计方案（总平面图需加盖设计单位出图章）"],
        due_on=_after(s, 8),
    )


async def supplement_received(s: Story) -> None:
    """补正 brought to the remote window, carried in a supplement package, signed for: supplied."""
    await s.register("m-spjy-xk", P["cai"])
    await s.to_department()
    s.next_day(hour=11)
    await s.command("request_supplement", items=["食品安全管理制度（需加盖公章）"], due_on=_after(s, 10))
    s.next_day(hour=10)
    events = await s.builder.run(
        TakeInAtWindow(
            case_id=s.case_id, items=[Item(seq=1, name="食品安全管理制度（需加盖公章）", pages=6)], actor=s.clerk
        )
    )
    supplement = _created_package(events)
    await s.hand_over(supplement)
    await s.in_transit(supplement, "汕尾市城区政务专递分拣点")
    await s.delivered(supplement, "汕尾市城区")
    await s.sign(supplement)


async def accepted_due_soon(s: Story) -> None:
    """Promised 10 working days, accepted 9 working days ago: one day left."""
    await s.register("m-spjy-xk", P["zhuang"])
    await s.to_department()
    await s.accept()


async def overdue(s: Story) -> None:
    await s.register("m-spjy-xk", P["lu"])
    await s.to_department()
    await s.accept()


async def accepted(s: Story) -> None:
    await s.register("m-jsgc-xk", P["luo"])
    await s.to_department()
    await s.accept()


async def inspection(s: Story) -> None:
    """勘验 under way: the clock is paused."""
    await s.register("m-spjy-xk", P["peng"])
    await s.to_department()
    await s.accept()
    s.next_day()
    await s.open_stage(StageType.INSPECTION, "现场核查经营场所布局与设备设施", 5)


async def expert_review(s: Story) -> None:
    await s.register("m-jsgc-xk", P["ou"])
    await s.to_department()
    await s.accept()
    s.next_day(2)
    await s.open_stage(StageType.EXPERT_REVIEW, "建筑高度超过 24 米，设计方案须经专家评审", 10)
    s.later(30)
    await s.command("copy_to_lead", lead=LEAD, note="涉及沿海景观控制区，请阅示")


async def rectification(s: Story) -> None:
    """勘验 found problems: 整改 under way."""
    await s.register("m-spjy-xk", P["yang"])
    await s.to_department()
    await s.accept()
    s.next_day()
    await s.open_stage(StageType.INSPECTION, "现场核查加工车间与仓储条件", 5)
    s.next_day(2)
    await s.close_stage(StageType.INSPECTION)
    s.later(20)
    await s.open_stage(StageType.RECTIFICATION, "现场核查发现生熟分区不清、防鼠设施缺失，责令整改", 10)


async def supplement_after_acceptance(s: Story) -> None:
    """补正 after acceptance: a special stage of type supplement."""
    await s.register("m-jsgc-xk", P["zhu"])
    await s.to_department()
    await s.accept()
    s.next_day(2, hour=11)
    await s.command("request_supplement", items=["土地权属证明（不动产权证书复印件需核对原件）"], due_on=_after(s, 10))


async def extended(s: Story) -> None:
    """延期 with the lead's approval (行政许可法 第四十二条), then copied to the lead and remarked."""
    await s.register("m-jsgc-xk", P["luo2"])
    await s.to_department()
    await s.accept()
    s.next_day(10, hour=15)
    await s.command(
        "extend", days=5, approver=LEAD, reason="项目涉及多个地块的规划条件核实，经分管领导批准延长 5 个工作日"
    )
    s.later(20)
    await s.command("copy_to_lead", lead=LEAD, note="已延期，请阅")
    s.next_day(hour=9, minute=40)
    await s.command("remark", actor=LEAD, remark="同意延期，请抓紧核实，按期办结。")


async def rejected(s: Story) -> None:
    await s.register("m-jsgc-xk", P["xu"])
    await s.to_department()
    s.next_day(hour=11)
    await s.command("reject", reason="申请地块尚未取得建设用地规划许可证，不符合受理条件（《城乡规划法》第四十条）")


async def closed_unsupplemented(s: Story) -> None:
    await s.register("m-jsgc-xk", P["wen"])
    await s.to_department()
    s.next_day(hour=11)
    await s.command("request_supplement", items=["建设工程设计方案（需由具备资质的设计单位出具）"], due_on=_after(s, 3))
    s.next_day(4, hour=10)
    await s.command(
        "close_unsupplemented", opinion="申请人在补正期限内未补正材料，经电话告知后仍未补正，按补正不来办结处理。"
    )


async def withdrawn(s: Story) -> None:
    await s.register("m-spjy-xk", P["xie"])
    await s.to_department()
    s.next_day(hour=15)
    await s.command("withdraw", actor=s.clerk, reason="申请人因经营场所变更，申请撤回")


async def decided_approved(s: Story) -> None:
    await s.register("m-flzz-ys", P["deng"])
    await s.to_department()
    await s.accept()
    s.next_day(hour=14)
    await s.decide()


async def decided_denied(s: Story) -> None:
    await s.register("m-spjy-xk", P["su"])
    await s.to_department()
    await s.accept()
    s.next_day()
    await s.open_stage(StageType.INSPECTION, "现场核查经营场所", 5)
    s.next_day(2)
    await s.close_stage(StageType.INSPECTION)
    s.next_day()
    await s.decide(Outcome.DENIED, "经现场核查，经营场所与申请材料不符，且距离污染源不足 25 米，不予许可。")


async def result_shipped(s: Story) -> None:
    await s.register("m-jsgc-xk", P["li"])
    await s.to_department()
    await s.accept()
    s.next_day(6)
    await s.decide()
    await s.ship()


async def ready_for_pickup(s: Story) -> None:
    await s.register("m-spjy-xk", P["ye"], delivery=Delivery.PICKUP_AT_WINDOW)
    await s.to_department()
    await s.accept()
    s.next_day(4)
    await s.decide()
    await s.ship()
    await s.at_window()


async def ready_for_pickup_lh(s: Story) -> None:
    await s.register("m-flzz-ys", P["huang2"], delivery=Delivery.PICKUP_AT_WINDOW)
    await s.to_department()
    await s.accept()
    s.next_day(hour=11)
    await s.decide()
    await s.ship()
    await s.at_window()


async def delegated_ready_at_department(s: Story) -> None:
    """异地委托审批: 陆丰's entrusted bureau decides; the result waits there."""
    await s.register("m-spjy-xk", P["zhong"], mode=Mode.DELEGATED, delivery=Delivery.PICKUP_AT_DEPARTMENT)
    await s.seal()
    await s.hand_over()
    s.next_day(hour=10)
    await s.delivered(s.outbound, "陆丰市东海街道")
    await s.sign()
    await s.accept()
    s.next_day(3)
    await s.decide()
    await s.ship()


async def instant(s: Story) -> None:
    """即办件 (个体工商户营业执照遗失补领), 异地委托审批: decided on its acceptance date, taken at
    the department the next morning, rated."""
    await s.register("m-gtzz-bl", P["gao"], mode=Mode.DELEGATED, delivery=Delivery.PICKUP_AT_DEPARTMENT)
    await s.seal()
    await s.hand_over()
    s.next_day(hour=9)
    await s.delivered(s.outbound, "陆丰市东海街道")
    await s.sign()
    s.later(30)
    await s.command("accept")
    s.later(40)
    await s.decide(opinion="补领材料齐全，准予补发营业执照。")
    await s.ship()
    s.next_day(hour=10)
    await s.command(
        "register_pickup", actor=s.dept_clerk, office_id=s.department, receiver_name=P["gao"].name, by_proxy=False
    )
    await s.rate(5, "当天就办好了，很方便。")


async def online(s: Story) -> None:
    """全程网办: electronic materials pushed, electronic result, rated."""
    await s.register("m-flzz-ys", P["guo"], mode=Mode.ONLINE, delivery=Delivery.ELECTRONIC)
    await s.seal(electronic=True)
    s.later(50)
    await s.sign()
    await s.accept()
    s.next_day(hour=11)
    await s.decide()
    await s.ship()
    await s.rate(5, "全程网上办理，不用跑腿。")


async def mailed_and_rated(s: Story) -> None:
    await s.register("m-spjy-xk", P["fang"])
    await s.to_department()
    await s.accept()
    s.next_day(5)
    await s.decide()
    await s.ship()
    await s.mailed()
    await s.rate(5, "邮寄到家，省了来回跑。")
    await s.archive()


async def picked_up_with_review(s: Story) -> None:
    """专家评审 done, decided, result back at the window, picked up, rated."""
    await s.register("m-jsgc-xk", P["mo"], delivery=Delivery.PICKUP_AT_WINDOW)
    await s.to_department()
    await s.accept()
    s.next_day(2)
    await s.open_stage(StageType.EXPERT_REVIEW, "设计方案涉及地下空间开发，组织专家评审", 10)
    s.next_day(5)
    await s.close_stage(StageType.EXPERT_REVIEW)
    s.next_day(3)
    await s.decide()
    await s.ship()
    await s.at_window()
    await s.picked_up(P["mo"].name)
    await s.rate(4)


async def picked_up(s: Story) -> None:
    await s.register("m-spjy-xk", P["tang"], delivery=Delivery.PICKUP_AT_WINDOW)
    await s.to_department()
    await s.accept()
    s.next_day(3)
    await s.decide()
    await s.ship()
    await s.at_window()
    await s.picked_up(P["tang"].name)
    await s.rate(5, "窗口服务热情，在家门口就办成了。")


async def bad_rating(s: Story) -> None:
    """差评, not yet answered."""
    await s.register("m-spjy-xk", P["zeng"])
    await s.to_department()
    await s.accept()
    s.next_day(8)
    await s.decide()
    await s.ship()
    await s.mailed()
    await s.rate(2, "办了快两个星期，打电话问进度一直没人接。")


async def bad_rating_rectified(s: Story) -> None:
    """差评 answered by the department (整改)."""
    await s.register("m-jsgc-xk", P["chen2"])
    await s.to_department()
    await s.accept()
    s.next_day(12)
    await s.decide()
    await s.ship()
    await s.mailed()
    await s.rate(1, "结果寄错了地址，多跑了一趟。")
    s.next_day(hour=10)
    await s.command("rectify_rating", note="已向申请人致歉，核对并更正收件地址登记流程，寄件前由第二人复核地址。")


def _after(s: Story, days: int) -> date:
    """``days`` working days after the story's current day (may be after today)."""
    return add_working_days(s.builder.deps.calendar, s.builder.workdays[s.ago - 1], days).due


@dataclass(frozen=True)
class Plan:
    key: str
    window: str
    ago: int
    story: Callable[[Story], Awaitable[None]]
    state: str
    """The case state the story leaves (tests check it)."""


STORIES: list[Plan] = [
    # 陆丰市 (the demo clerk clerk-lf's window)
    Plan("lf-collected", "win-441581", 1, collected, "collected"),
    Plan("lf-sealed", "win-441581", 1, sealed, "collected"),
    Plan("lf-in-transit-tolerated", "win-441581", 2, in_transit_tolerated, "forwarded"),
    Plan("lf-received", "win-441581", 3, received, "received"),
    Plan("lf-supplement-requested", "win-441581", 5, supplement_requested, "supplement_requested"),
    Plan("lf-supplement-received", "win-441581", 9, supplement_received, "received"),
    Plan("lf-due-soon", "win-441581", 11, accepted_due_soon, "accepted"),
    Plan("lf-inspection", "win-441581", 6, inspection, "in_review"),
    Plan("lf-delegated", "win-441581", 8, delegated_ready_at_department, "ready_for_pickup"),
    Plan("lf-instant", "win-441581", 4, instant, "delivered"),
    Plan("lf-ready-for-pickup", "win-441581", 12, ready_for_pickup, "ready_for_pickup"),
    Plan("lf-bad-rating", "win-441581", 16, bad_rating, "delivered"),
    Plan("lf-rejected", "win-441581", 7, rejected, "rejected"),
    Plan("lf-picked-up-review", "win-441581", 22, picked_up_with_review, "delivered"),
    # 城区
    Plan("cq-in-transit", "win-441502", 1, in_transit, "forwarded"),
    Plan("cq-expert-review", "win-441502", 8, expert_review, "in_review"),
    Plan("cq-denied", "win-441502", 9, decided_denied, "decided"),
    Plan("cq-result-shipped", "win-441502", 13, result_shipped, "result_shipped"),
    Plan("cq-online", "win-441502", 6, online, "delivered"),
    Plan("cq-archived", "win-441502", 19, mailed_and_rated, "archived"),
    # 海丰县
    Plan("hf-collected", "win-441521", 1, collected_lightning, "collected"),
    Plan("hf-overdue", "win-441521", 16, overdue, "accepted"),
    Plan("hf-rectification", "win-441521", 10, rectification, "in_review"),
    Plan("hf-approved", "win-441521", 5, decided_approved, "decided"),
    Plan("hf-picked-up", "win-441521", 15, picked_up, "delivered"),
    Plan("hf-closed-unsupplemented", "win-441521", 12, closed_unsupplemented, "closed_unsupplemented"),
    Plan("hf-withdrawn", "win-441521", 6, withdrawn, "withdrawn"),
    Plan("hf-accepted", "win-441521", 4, accepted, "accepted"),
    # 陆河县
    Plan("lh-sealed", "win-441523", 1, sealed_lh, "collected"),
    Plan("lh-received", "win-441523", 2, received_lightning, "received"),
    Plan("lh-supplement-after-acceptance", "win-441523", 7, supplement_after_acceptance, "in_review"),
    Plan("lh-ready-for-pickup", "win-441523", 7, ready_for_pickup_lh, "ready_for_pickup"),
    Plan("lh-extended", "win-441523", 20, extended, "accepted"),
    Plan("lh-bad-rating-rectified", "win-441523", 24, bad_rating_rectified, "delivered"),
]


def case_id_of(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"handoff-demo-case:{key}"))


def recent_workdays(calendar: Calendar, today: date, count: int = 60) -> list[date]:
    """The ``count`` working days before ``today``, newest first."""
    days: list[date] = []
    day = today
    while len(days) < count:
        day -= timedelta(days=1)
        if calendar.is_workday(day):
            days.append(day)
    return days


async def build_demo_cases(
    engine: AsyncEngine,
    uow: Callable[[], UnitOfWork],
    deps: Deps,
    now: datetime | None = None,
    announce: Callable[[int], None] | None = None,
) -> int:
    """Build the demo cases that are not there yet (see the module's docstring); returns how many
    were built now. ``deps`` are the services' own (calendar, tracking tokens); their clock is
    replaced by one set to each step's time. ``announce`` hears how many are about to be built
    (a first start takes a few seconds for them)."""
    now = now or datetime.now(UTC)
    async with engine.connect() as conn:
        offices = set((await conn.execute(select(t.offices.c.id))).scalars())
        matters = set((await conn.execute(select(t.matters.c.id))).scalars())
    missing = sorted((set(CLERKS) | DEPARTMENTS) - offices) + sorted(set(MATERIALS) - matters)
    if missing:  # a database whose regions were not the demo's: its cases would have nowhere to go
        log.info("demo cases skipped: the demo offices and matters are not all there", extra={"missing": missing})
        return 0
    await _add_staff(engine, now)
    async with engine.connect() as conn:
        ids = [case_id_of(p.key) for p in STORIES]
        there = set((await conn.execute(select(t.cases.c.id).where(t.cases.c.id.in_(ids)))).scalars())
        before = (await conn.execute(select(func.coalesce(func.max(outbox.c.seq), 0)))).scalar_one()
    todo = [p for p in STORIES if case_id_of(p.key) not in there]
    if not todo:
        return 0
    if announce is not None:
        announce(len(todo))
    clock = DemoClock(now)
    builder = Builder(
        uow=uow,
        deps=Deps(clock=clock, calendar=deps.calendar, tracking=deps.tracking, new_id=deps.new_id),
        clock=clock,
        workdays=recent_workdays(deps.calendar, now.astimezone(CHINA).date()),
        now=now,
    )
    for plan in todo:
        clock.at = datetime.min.replace(tzinfo=UTC)
        story = Story(builder, plan.key, plan.window, plan.ago, minute=zlib.crc32(plan.key.encode()) % 40)
        story.case_id = case_id_of(plan.key)
        # One transaction per story (the services' commits inside it are flushes): a story is
        # there whole or not at all, and the build costs a few dozen commits, not hundreds.
        try:
            async with uow() as unit:
                builder.unit = unit
                await plan.story(story)
                await unit.commit()
        except DomainError as exc:  # an admin changed a demo matter or office: the others still come
            log.warning("demo case not built", extra={"demo_case": plan.key, "reason": exc.title})
        finally:
            builder.unit = None
    async with engine.begin() as conn:
        built = (await conn.execute(select(outbox.c.id).where(outbox.c.seq > before))).scalars().all()
        if built:
            await conn.execute(
                insert(inbox), [{"message_id": i, "consumer": NOTIFICATIONS, "handled_at": now} for i in built]
            )
    return len(todo)


async def _add_staff(engine: AsyncEngine, at: datetime) -> None:
    async with engine.begin() as conn:
        for user_id, name, role, scope, phone in STAFF:
            if (await conn.execute(select(t.users.c.id).where(t.users.c.id == user_id))).first() is None:
                await conn.execute(
                    insert(t.users).values(id=user_id, name=name, role=role, scope=scope, phone=phone, created_at=at)
                )
