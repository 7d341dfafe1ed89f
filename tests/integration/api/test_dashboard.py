"""The supervisor's dashboard over HTTP (SQLite and PostgreSQL): every grouping's figures equal
handoff/stats.py's over the cases themselves; a figure's cases are the cases behind it; a bad
rating's 整改 is due after HANDOFF_RECTIFY_DAYS working days and 差评整改率 counts only the ones
answered in time; 督办 reaches the department's queue and its lead's SMS plan; the audit log."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from adapters.db import queries
from api.routes.dashboard import GROUPS
from api.routes.reports import figures_view
from handoff.access import Role
from handoff.services import CaseCommand, dispatch
from handoff.stats import Point, case_facts, indicators, matter_figures
from handoff.timeutil import local_date
from tests.integration.api.test_authority import actor
from tests.integration.api.test_journeys import LIGHTNING_MATERIALS, PNG, post, registration
from tests.support.outbox import OutboxFeed
from worker.notifications import PLANS, Facts, StaffOf
from worker.projections import Projector

pytestmark = pytest.mark.integration

PLANNING = {
    "matter_id": "m-jsgc-xk",
    "tolerated": [],
    "materials": [{"name": "建设工程规划许可申请表"}, {"name": "建设工程设计方案"}, {"name": "土地权属证明"}],
}


COMPLETE = {
    "tolerated": [],
    "materials": [*LIGHTNING_MATERIALS, {"name": "施工单位的资质证"}, {"name": "授权委托书"}],
}


async def received(api, **over: Any) -> str:
    """A case registered at 陆丰, carried by courier-07 and signed for by its department."""
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(**{**COMPLETE, **over}), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    await post(
        api,
        f"/api/v1/packages/{package['id']}/delivered",
        "courier-07",
        {"evidence": [{"content_type": "image/png", "data_base64": PNG}]},
    )
    department = "dept-441500-zj" if over.get("matter_id") == "m-jsgc-xk" else "dept-441500-qx"
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": department})
    return str(case["id"])


async def command(api, case_id: str, name: str, actor: str = "dept-zj", **args: Any) -> None:
    c = api.container
    await dispatch(CaseCommand(case_id=case_id, name=name, actor=actor, args=args), c.uow(), c.deps)


async def project(api) -> None:
    c = api.container
    await OutboxFeed(c.engine, Projector(c.engine, c.cipher, c.deps.calendar, c.deps.clock).handle)()


async def get(api, path: str, user: str = "supervisor", **query: str) -> dict[str, Any]:
    response = await api.client.get(path, params=query, headers=api.auth(user))
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def a_small_world(api) -> list[str]:
    """Five cases of two matters and two departments: decided early, decided and rated badly,
    accepted and left to run late, rejected, and one still on the road."""
    early = await received(api)
    rated = await received(api, **PLANNING)
    late = await received(api, **PLANNING)
    rejected = await received(api)
    road = (await post(api, "/api/v1/cases", "clerk-lf", registration(), 201))["id"]
    for case_id in (early, rated, late):
        await command(api, case_id, "accept")
    await command(api, rejected, "reject", reason="不属于本部门职权范围")
    await command(api, early, "decide", outcome="approved", opinion="同意")
    api.tick(days=3)
    await command(api, rated, "decide", outcome="approved", opinion="同意")
    await command(api, rated, "rate", actor="applicant", score=1, comment="等了太久")
    api.tick(days=40)  # the running one is far past its promised limit
    return [early, rated, late, rejected, road]


def key_of(grouping: str, case, offices) -> str:
    if grouping == "day":
        return local_date(case.collected_at).isoformat()
    if grouping == "month":
        return local_date(case.collected_at).isoformat()[:7]
    if grouping == "window":
        return case.window_office_id
    if grouping == "department":
        return case.department_office_id
    if grouping == "window_region":
        return offices[case.window_office_id].region_code
    if grouping == "department_region":
        return offices[case.department_office_id].region_code
    if grouping == "matter":
        return case.matter.id
    return "all"


async def test_every_groupings_figures_equal_the_stats_computed_from_the_cases(api):
    case_ids = await a_small_world(api)
    await project(api)
    c = api.container
    today = local_date(c.deps.clock.now())
    async with c.engine.connect() as conn:
        offices = await queries.offices(conn)
    points = {o.id: Point(o.lat, o.lon) for o in offices.values()}
    async with c.uow() as uow:
        cases = [await uow.cases.get(i) for i in case_ids]

    for grouping in GROUPS:
        answer = await get(api, "/api/v1/dashboard", group=grouping)
        expected: dict[str, list] = defaultdict(list)
        for case in cases:
            expected[key_of(grouping, case, offices)].append(case)
        assert sorted(g["key"] for g in answer["groups"]) == sorted(expected), grouping
        for group in answer["groups"]:
            members = expected[group["key"]]
            figures = figures_view(indicators(case_facts(x, c.deps.calendar, today, points) for x in members))
            matters = matter_figures(x.matter for x in members)
            shown = group["figures"]
            assert {k: shown[k] for k in figures} == figures, (grouping, group["key"])
            assert shown["time_compression"] == matters.time_compression
            assert shown["instant_share"] == matters.instant_share
        total = figures_view(indicators(case_facts(x, c.deps.calendar, today, points) for x in cases))
        assert {k: answer["total"][k] for k in total} == total

    everything = (await get(api, "/api/v1/dashboard"))["total"]
    assert (everything["cases"], everything["decided"], everything["overdue"], everything["early"]) == (5, 2, 1, 2)
    # two matters, each on its registered terms: (Σ法定 − Σ承诺) / Σ法定 and 即办件 / 事项数
    instant = sum(x.matter.kind.value == "instant" for x in {x.matter.id: x for x in cases}.values())
    assert everything["matters"] == 2 and everything["instant_share"] == instant / 2
    legal, promised = everything["legal_days"], everything["promised_days"]
    assert everything["time_compression"] == (legal - promised) / legal

    # the cases behind a figure: the overdue ones of the planning matter
    drill = await get(api, "/api/v1/dashboard/cases", group="matter", key="m-jsgc-xk", figure="overdue")
    assert sorted(r["case_id"] for r in drill["items"]) == sorted(
        x.id for x in cases if x.matter.id == "m-jsgc-xk" and x.clock(c.deps.calendar, today).overdue
    )
    assert drill["count"] == 1 and drill["figure_zh"] == "逾期"


async def test_a_bad_rating_is_due_for_rectification_and_only_an_answer_in_time_counts(api):
    c = api.container
    in_time, late = await received(api), await received(api)
    for case_id in (in_time, late):
        await command(api, case_id, "accept")
        await command(api, case_id, "decide", outcome="approved", opinion="同意")
        await command(api, case_id, "rate", actor="applicant", score=2, comment="态度差")
    view = await get(api, f"/api/v1/cases/{in_time}")
    assert view["rating"]["rectify_due_on"] == "2026-03-09"  # Monday 03-02 + 5 working days
    await post(api, f"/api/v1/cases/{in_time}/rating/rectify", "dept-zj", {"note": "已约谈窗口人员并整改"})
    ratings = {r["case_id"]: r for r in (await get(api, "/api/v1/dashboard/ratings"))["items"]}
    assert (ratings[in_time]["status"], ratings[late]["status"]) == ("in_time", "open")

    api.tick(days=10)  # past the due day
    ratings = {r["case_id"]: r for r in (await get(api, "/api/v1/dashboard/ratings"))["items"]}
    assert ratings[late]["status"] == "overdue" and ratings[late]["status_zh"] == "逾期未整改"
    await post(api, f"/api/v1/cases/{late}/rating/rectify", "dept-zj", {"note": "整改完成"})
    ratings = {r["case_id"]: r for r in (await get(api, "/api/v1/dashboard/ratings"))["items"]}
    assert ratings[late]["status"] == "late"
    await project(api)
    total = (await get(api, "/api/v1/dashboard"))["total"]
    assert (total["bad"], total["rectified"], total["rectification_rate"]) == (2, 1, 0.5)
    assert c.deps.rectify_days == 5
    drill = await get(api, "/api/v1/dashboard/cases", figure="not_rectified")
    assert [r["case_id"] for r in drill["items"]] == [late]


async def test_a_supervision_reaches_the_departments_queue_and_its_lead(api):
    case_id = await received(api, **PLANNING)
    body = {"note": "群众反映进度慢，请加快办理"}
    supervised = await post(api, f"/api/v1/cases/{case_id}/supervision", "supervisor", body)
    assert supervised["supervisions"][0]["note"] == body["note"]
    await post(api, f"/api/v1/cases/{case_id}/supervision", "supervisor", body, 409)  # one open at a time
    await post(api, f"/api/v1/cases/{case_id}/supervision", "dept-zj", body, 403)  # a role that may not

    queue = (await get(api, "/api/v1/supervisions", "dept-zj"))["items"]
    assert [(r["case_id"], r["note"], r["open"]) for r in queue] == [(case_id, body["note"], True)]
    assert (await get(api, "/api/v1/supervisions", "lead-zj"))["items"][0]["case_id"] == case_id
    await post(api, f"/api/v1/cases/{case_id}/supervision/answer", "dept-zj", {"answer": "已加快，明日办结"})
    assert (await get(api, "/api/v1/supervisions", "dept-zj"))["items"] == []
    [answered] = (await get(api, "/api/v1/supervisions", "supervisor", state="all"))["items"]
    assert answered["answer"] == "已加快，明日办结" and answered["open"] is False


def test_the_lead_of_the_department_gets_the_sms_of_a_supervision_and_of_a_bad_rating():
    facts = Facts(
        phone="13812345678",
        case_no="S-1",
        delivery="pickup_at_window",
        window_office_id="win-441581",
        department_office_id="dept-441500-zj",
        offices={},
        accepted_on=None,
        limit=1,
        extensions=(),
        stages=(),
        today=date(2026, 3, 2),
    )
    calendar: Any = None
    [planned] = PLANS["case.supervised"]({"data": {"note": "快", "seq": 1}}, facts, calendar)
    assert planned.to == StaffOf("dept-441500-zj", (Role.DEPT_LEAD,)) and planned.template == "action_needed"
    [rated] = PLANS["case.rated"]({"data": {"score": 1, "rectify_due_on": "2026-03-09"}}, facts, calendar)
    assert rated.to == StaffOf("dept-441500-zj", (Role.DEPT_LEAD,)) and "2026-03-09" in rated.params["action"]
    assert PLANS["case.rated"]({"data": {"score": 5, "rectify_due_on": None}}, facts, calendar) == []


async def test_admin_writes_are_in_the_audit_log_and_offices_keep_their_opening_hours(api):
    hours = "工作日 8:30–12:00，14:30–17:30"
    office = await api.client.patch(
        "/api/v1/admin/offices/win-441581", json={"hours": hours}, headers=api.auth("admin")
    )
    assert office.status == 200 and (await office.json())["hours"] == hours
    log = await get(api, "/api/v1/admin/audit", "admin")
    assert log["items"][0]["action"] == "office.updated" and log["items"][0]["target"] == "win-441581"
    assert log["items"][0]["actor"] == "admin" and log["items"][0]["action_zh"] == "修改单位"

    bad = await api.client.get("/api/v1/admin/audit?cursor=null", headers=api.auth("admin"))
    assert bad.status == 422 and (await bad.json())["title"] == "分页游标无效"

    # an admin of 陆丰 reads the entries of admins within 陆丰 only
    county_admin = await actor(api, "admin-lf", "admin", "region:441581")
    assert (await get(api, "/api/v1/admin/audit", county_admin))["items"] == []
    changed = await api.client.patch(
        "/api/v1/admin/offices/win-441581", json={"phone": "0660-8888888"}, headers=api.auth(county_admin)
    )
    assert changed.status == 200
    [own] = (await get(api, "/api/v1/admin/audit", county_admin))["items"]
    assert own["actor"] == "admin-lf"
    assert [e["actor"] for e in (await get(api, "/api/v1/admin/audit", "admin"))["items"]] == ["admin-lf", "admin"]
