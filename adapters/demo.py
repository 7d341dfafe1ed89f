"""Demo data shaped like the seeds' own world (DESIGN §12): 汕尾市 and its districts, a proxy
window in each, departments in the city, and matters from the seeds.

Coordinates are the approximate centres of each seat of government (good to a few kilometres,
which is what 少跑距离 needs). Each matter has its implementations per region (属地: which
department decides for 城区, 海丰, 陆河 and 陆丰 applicants) and their 通办范围. The
防雷装置竣工验收 matter is seed 002's sample with its four materials, two of them 容缺-able, as the
seed publishes it: 办件类型 即办件, 法定期限 10, 承诺期限 1 (an instant case done on the spot or by
the next working day: handoff.matter allows a 即办件 a promised limit of 0 or 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db import domain_tables as t
from adapters.db import sessions
from adapters.db.repositories import save_matter
from adapters.passwords import hash_password
from handoff.matter import CaseKind, Implementation, MaterialRequirement, Matter, Mode, StageType

REGIONS = [
    ("441500", "汕尾市", None, 22.7862, 115.3751),
    ("441502", "城区", "441500", 22.7787, 115.3652),
    ("441521", "海丰县", "441500", 22.9668, 115.3232),
    ("441523", "陆河县", "441500", 23.3015, 115.6600),
    ("441581", "陆丰市", "441500", 22.9452, 115.6443),
]

WINDOWS = [
    ("win-441502", "城区政务服务中心市域通办窗口", "441502", 22.7787, 115.3652, "汕尾市城区香洲街道"),
    ("win-441521", "海丰县政务服务中心市域通办窗口", "441521", 22.9668, 115.3232, "海丰县海城镇"),
    ("win-441523", "陆河县政务服务中心市域通办窗口", "441523", 23.3015, 115.6600, "陆河县河田镇"),
    ("win-441581", "陆丰市政务服务中心市域通办窗口", "441581", 22.9452, 115.6443, "陆丰市东海街道"),
]

DEPARTMENTS = [
    ("dept-441500-qx", "汕尾市气象局", "441500", 22.7862, 115.3751, "汕尾市城区汕尾大道"),
    ("dept-441500-zj", "汕尾市住房和城乡建设局", "441500", 22.7855, 115.3702, "汕尾市城区香洲路"),
    ("dept-441500-sj", "汕尾市市场监督管理局", "441500", 22.7840, 115.3680, "汕尾市城区海滨大道"),
    ("dept-441581-sj", "陆丰市市场监督管理局", "441581", 22.9452, 115.6443, "陆丰市东海街道"),
    # the counties' own bureaus, which decide for their own applicants (属地, seed 002's 实施范围)
    ("dept-441521-qx", "海丰县气象局", "441521", 22.9705, 115.3290, "海丰县海城镇"),
    ("dept-441523-qx", "陆河县气象局", "441523", 23.2990, 115.6560, "陆河县河田镇"),
    ("dept-441581-qx", "陆丰市气象局", "441581", 22.9480, 115.6400, "陆丰市东海街道"),
    ("dept-441521-sj", "海丰县市场监督管理局", "441521", 22.9650, 115.3260, "海丰县海城镇"),
    ("dept-441523-sj", "陆河县市场监督管理局", "441523", 23.3030, 115.6620, "陆河县河田镇"),
]

CITY = ("441500",)
"""通办范围 of the whole city (全市通办): every window of 汕尾 may collect."""

MATTERS = [
    Matter(
        id="m-flzz-ys",
        name="防雷装置竣工验收",
        department_office_id="dept-441500-qx",
        legal_limit=10,
        promised_limit=1,
        kind=CaseKind.INSTANT,
        modes=frozenset({Mode.PROXY_COLLECT, Mode.ONLINE}),
        materials=(
            MaterialRequirement("《防雷装置竣工验收申请书》", notes="加盖公章"),
            MaterialRequirement("防雷装置竣工图纸", notes="加盖施工单位竣工图章并在相应位置签字"),
            MaterialRequirement(
                "施工单位的资质证",
                tolerable=True,
                original=False,
                notes=(
                    "核对原件，资质证需加盖施工单位公章。施工单位必须具备该项目相应行业总承包施工资质，"
                    "且资质证在有效期内。"
                ),
                licence="建筑业企业资质证书",
            ),
            MaterialRequirement("授权委托书", tolerable=True, notes="加盖公章"),
        ),
        matter_type="行政许可",
        service_objects=("自然人", "企业法人", "事业法人", "社会组织法人", "行政机关", "其他组织"),
        visits=0,
        conditions=(
            "（1）防雷装置设计已通过市（县、区）气象主管机构审核，取得《防雷装置设计核准意见书》；"
            "（2）新建、改建、扩建工程的防雷装置与主体工程同时施工，施工单位具备国家规定的相应资质；"
            "（3）按照经审核批准的施工图施工，施工记录完整，且通过具备防雷装置检测资质机构的检测；"
            "（4）安装的防雷产品技术参数与设计报审阶段一致。"
        ),
        result_name="防雷装置验收意见书",
        result_licence="防雷装置验收意见书",
        # seed 002: 实施范围 汕尾市、海丰县、陆河县、陆丰市 (城区 is the city bureau's)
        implementations=(
            Implementation("441500", "dept-441500-qx", CITY),
            Implementation("441521", "dept-441521-qx", CITY),
            Implementation("441523", "dept-441523-qx", CITY),
            Implementation("441581", "dept-441581-qx", CITY),
        ),
    ),
    Matter(
        id="m-jsgc-xk",
        name="建设工程规划许可证核发",
        department_office_id="dept-441500-zj",
        legal_limit=30,  # 20 working days, and the 10 行政许可法 §42 allows to extend them by
        promised_limit=20,
        kind=CaseKind.PROMISED,
        modes=frozenset({Mode.PROXY_COLLECT}),
        materials=(
            MaterialRequirement("建设工程规划许可申请表"),
            MaterialRequirement("建设工程设计方案"),
            MaterialRequirement("土地权属证明", tolerable=True, original=False),
            MaterialRequirement("其他补充说明材料", required=False),
        ),
        stage_limits={StageType.EXPERT_REVIEW: 10, StageType.PUBLIC_NOTICE: 7},
        service_objects=("企业法人", "事业法人", "其他组织"),
        result_name="建设工程规划许可证",
        # the city bureau decides for every district and county
        implementations=tuple(
            Implementation(r, "dept-441500-zj", CITY) for r in ("441502", "441521", "441523", "441581")
        ),
    ),
    Matter(
        id="m-spjy-xk",
        name="食品经营许可证核发",
        department_office_id="dept-441500-sj",
        legal_limit=20,
        promised_limit=10,
        kind=CaseKind.PROMISED,
        modes=frozenset({Mode.PROXY_COLLECT, Mode.DELEGATED}),
        materials=(
            MaterialRequirement("食品经营许可申请书"),
            MaterialRequirement("营业执照复印件", original=False),
            MaterialRequirement("与食品经营相适应的主要设备设施布局、操作流程等文件"),
            MaterialRequirement("食品安全管理制度", tolerable=True),
        ),
        stage_limits={StageType.INSPECTION: 5},
        service_objects=("自然人", "企业法人", "其他组织"),
        result_name="食品经营许可证",
        result_licence="食品经营许可证",
        implementations=(
            Implementation("441502", "dept-441500-sj", CITY),
            # 海丰's licences are collected only in 海丰 and 城区 so far (通办区域 still growing)
            Implementation("441521", "dept-441521-sj", ("441502",)),
            Implementation("441523", "dept-441523-sj", CITY),
            Implementation("441581", "dept-441581-sj", CITY),
        ),
    ),
    Matter(
        id="m-gtzz-bl",
        name="个体工商户营业执照遗失补领",
        department_office_id="dept-441500-sj",
        legal_limit=5,
        promised_limit=0,
        kind=CaseKind.INSTANT,
        modes=frozenset({Mode.PROXY_COLLECT, Mode.DELEGATED}),
        materials=(
            MaterialRequirement("个体工商户补领执照申请书"),
            MaterialRequirement("经营者身份证明", original=False, licence="居民身份证", exempt=True),
        ),
        service_objects=("自然人",),
        result_name="个体工商户营业执照",
        result_licence="营业执照",
        implementations=(
            Implementation("441502", "dept-441500-sj", CITY),
            Implementation("441521", "dept-441521-sj", CITY),
            Implementation("441523", "dept-441523-sj", CITY),
            Implementation("441581", "dept-441581-sj", CITY),
        ),
    ),
]

ENTRUSTMENTS = [("441581", "m-spjy-xk", "dept-441581-sj"), ("441581", "m-gtzz-bl", "dept-441581-sj")]

# One demo user per role for the embedded start (printed with the demo password at start-up).
DEMO_USERS = [
    ("clerk-lf", "陈晓红（陆丰窗口）", "window_clerk", "office:win-441581"),
    (
        "dept-zj",
        "林志强（市住建局）",
        "dept_clerk",
        "office:dept-441500-zj,office:dept-441500-qx,office:dept-441500-sj",
    ),
    ("lead-zj", "黄建国（分管领导）", "dept_lead", "office:dept-441500-zj"),
    ("courier-07", "吴海波（政务专递）", "courier", "region:4415"),
    ("supervisor", "郑丽娟（政务服务管理局）", "supervisor", "region:4415"),
    ("admin", "系统管理员", "admin", "*"),
]

# Where their staff SMS go: obviously made-up mainland mobiles (138 0000 xxxx).
DEMO_PHONES = {
    "clerk-lf": "13800001001",
    "dept-zj": "13800002001",
    "lead-zj": "13800003001",
    "courier-07": "13800004001",
    "supervisor": "13800005001",
    "admin": "13800006001",
}


DEMO_PASSWORD = "shanwei-demo"
"""The one password of the demo users (embedded start only: production refuses demo data)."""


@dataclass(frozen=True)
class DemoUser:
    user_id: str
    role: str
    name: str


@dataclass(frozen=True)
class DemoStart:
    users: list[DemoUser]
    password: str
    given_now: list[str]
    """The demo users who had no password and now have the demo one."""


async def load_demo_world(conn: AsyncConnection, at: datetime | None = None) -> bool:
    """Insert regions, offices and matters unless they are there already, and the demo users
    (with their phones) unless each is there already. True if the world was loaded now."""
    await _load_demo_users(conn, at or datetime.now(UTC))
    if (await conn.execute(select(t.regions.c.code).limit(1))).first() is not None:
        return False
    await conn.execute(
        insert(t.regions),
        [{"code": c, "name": n, "parent_code": p, "lat": la, "lon": lo} for c, n, p, la, lo in REGIONS],
    )
    offices = [("window", *w) for w in WINDOWS] + [("department", *d) for d in DEPARTMENTS]
    await conn.execute(
        insert(t.offices),
        [
            {
                "id": i,
                "name": n,
                "kind": kind,
                "region_code": r,
                "lat": la,
                "lon": lo,
                "address": a,
                "phone": "",
                "carrier": "internal",
            }
            for kind, i, n, r, la, lo, a in offices
        ],
    )
    for matter in MATTERS:
        await save_matter(conn, matter)
    await conn.execute(
        insert(t.entrustments), [{"region_code": r, "matter_id": m, "office_id": o} for r, m, o in ENTRUSTMENTS]
    )
    return True


async def _load_demo_users(conn: AsyncConnection, at: datetime) -> None:
    """Create the demo users that are missing. A user who is there keeps what an admin set (role,
    scope, name), except that a phone left empty (a database from before demo phones) gets the
    demo one."""
    for user_id, name, role, scope in DEMO_USERS:
        phone = DEMO_PHONES[user_id]
        found = (await conn.execute(select(t.users.c.phone).where(t.users.c.id == user_id))).first()
        if found is None:
            await conn.execute(
                insert(t.users).values(id=user_id, name=name, role=role, scope=scope, phone=phone, created_at=at)
            )
        elif not found[0]:
            await conn.execute(update(t.users).where(t.users.c.id == user_id).values(phone=phone))


async def start_demo(conn: AsyncConnection, at: datetime) -> DemoStart:
    """What ``handoff serve`` does with demo data at each start: load what is missing, and give
    the demo password to each demo user who has no password yet. Nothing an admin or a user
    changed is changed back: an existing password is never replaced."""
    await load_demo_world(conn, at)
    ids = [user_id for user_id, *_ in DEMO_USERS]
    rows = await conn.execute(select(t.users.c.id, t.users.c.name, t.users.c.role).where(t.users.c.id.in_(ids)))
    found = {row.id: row for row in rows}
    users, given = [], []
    demo_hash: str | None = None
    for user_id in ids:
        if user_id not in found:
            continue
        user = found[user_id]
        users.append(DemoUser(user_id, user.role, user.name))
        if not await sessions.has_password(conn, user_id):
            demo_hash = demo_hash or await hash_password(DEMO_PASSWORD)
            await sessions.set_password(conn, user_id, demo_hash, must_change=False, at=at)
            given.append(user_id)
    return DemoStart(users=users, password=DEMO_PASSWORD, given_now=given)
