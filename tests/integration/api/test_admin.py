"""The admin's API (regions, offices, matters, entrustments, users and tokens, calendar, parked
messages) and the department lead's inbox, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from adapters.broker.bus import Incoming, Outgoing, Park
from adapters.broker.memory import MemoryBus
from adapters.broker.topology import GROUPS
from handoff.codes import hash_token

from .test_journeys import post, registration

pytestmark = pytest.mark.integration

BUILDING = [{"name": "建设工程规划许可申请表"}, {"name": "建设工程设计方案"}, {"name": "土地权属证明"}]


async def call(api, method, path, user, body=None, status=200):
    response = await api.client.request(method, path, json=body, headers=api.auth(user))
    data = await response.json(content_type=None)
    assert response.status == status, data
    return data


async def get(api, path, user, status=200):
    return await call(api, "GET", path, user, None, status)


async def token_for(api, user_id, role, scope, name="测试用户"):
    issued = await post(
        api, "/api/v1/admin/tokens", "admin", {"user_id": user_id, "name": name, "role": role, "scope": scope}, 201
    )
    api.tokens[user_id] = issued["token"]
    return issued


# --------------------------------------------------------------------------- regions


async def test_regions_are_listed_created_and_updated_and_a_bad_tree_is_refused(api):
    listed = await get(api, "/api/v1/admin/regions", "admin")
    assert [r["code"] for r in listed["items"]] == ["441500", "441502", "441521", "441523", "441581"]
    assert listed["items"][1] == {
        "code": "441502",
        "name": "城区",
        "parent_code": "441500",
        "lat": 22.7787,
        "lon": 115.3652,
    }

    province = {"code": "440000", "name": "广东省", "lat": 23.1317, "lon": 113.2663}
    assert await post(api, "/api/v1/admin/regions", "admin", province, 201) == {**province, "parent_code": None}
    duplicate = await post(api, "/api/v1/admin/regions", "admin", province, 409)
    assert duplicate["title"] == "区划 440000 已存在"
    city = await call(api, "PATCH", "/api/v1/admin/regions/441500", "admin", {"parent_code": "440000"})
    assert city["parent_code"] == "440000" and city["name"] == "汕尾市"

    loop = await call(api, "PATCH", "/api/v1/admin/regions/440000", "admin", {"parent_code": "441502"}, 422)
    assert "循环" in loop["title"] and loop["errors"][0]["field"] == "parent_code"
    unknown = await post(
        api, "/api/v1/admin/regions", "admin", {**province, "code": "441599", "parent_code": "449999"}, 422
    )
    assert unknown["title"] == "上级区划 449999 不存在" and unknown["errors"][0]["field"] == "parent_code"
    for bad in ({"code": "44150"}, {"code": "041500"}, {"lat": 113.2663, "lon": 23.1317}, {"name": ""}):
        await post(api, "/api/v1/admin/regions", "admin", {**province, "code": "441599", **bad}, 422)
    await call(api, "PATCH", "/api/v1/admin/regions/441500", "admin", {"parent_code": "441500"}, 422)
    await call(api, "PATCH", "/api/v1/admin/regions/449999", "admin", {"name": "无"}, 404)
    await get(api, "/api/v1/admin/regions", "supervisor", 403)


# --------------------------------------------------------------------------- offices and users


async def test_an_office_created_through_the_api_can_be_used_to_register_a_case(api):
    office = await post(
        api,
        "/api/v1/admin/offices",
        "admin",
        {"id": "win-441521-gd", "name": "海丰县公平镇便民服务中心", "kind": "window", "region_code": "441521",
         "address": "海丰县公平镇", "phone": "0660-6612345", "carrier": "sf"},
        201,
    )  # fmt: skip
    assert office["lat"] == 22.9668 and office["kind_zh"] == "代收窗口" and office["carrier"] == "sf"
    assert "未知字段" in (await post(api, "/api/v1/admin/offices", "admin", office, 422))["title"]
    body = {k: office[k] for k in ("id", "name", "kind", "region_code")}
    assert (await post(api, "/api/v1/admin/offices", "admin", body, 409))["title"] == "单位 win-441521-gd 已存在"
    unknown = await post(api, "/api/v1/admin/offices", "admin", {**body, "id": "w2", "region_code": "441599"}, 422)
    assert unknown["title"] == "区划 441599 不存在" and unknown["errors"][0]["field"] == "region_code"
    await post(api, "/api/v1/admin/offices", "admin", {**body, "id": "w3", "carrier": "pigeon"}, 422)
    await post(api, "/api/v1/admin/offices", "admin", {**body, "id": "w4", "lat": 22.9}, 422)

    user = await post(
        api,
        "/api/v1/admin/users",
        "admin",
        {"id": "clerk-gp", "name": "蔡小燕", "role": "window_clerk", "scope": "office:win-441521-gd",
         "phone": "+86 138 0000 9999"},
        201,
    )  # fmt: skip
    assert user["phone"] == "13800009999" and user["active_tokens"] == 0 and user["role_zh"] == "代收窗口人员"
    await token_for(api, "clerk-gp", "window_clerk", "office:win-441521-gd", name="蔡小燕")
    case = await post(api, "/api/v1/cases", "clerk-gp", registration(window_office_id="win-441521-gd"), 201)
    assert case["window_office_id"] == "win-441521-gd" and case["case_no"].startswith("441521-")

    windows = await get(api, "/api/v1/admin/offices?kind=window&region=441521", "admin")
    assert [o["id"] for o in windows["items"]] == ["win-441521", "win-441521-gd"]
    assert [o["id"] for o in (await get(api, "/api/v1/admin/offices?q=公平镇", "admin"))["items"]] == ["win-441521-gd"]
    await get(api, "/api/v1/admin/offices?region=abc", "admin", 422)
    moved = await call(api, "PATCH", "/api/v1/admin/offices/win-441521-gd", "admin", {"phone": "0660-6610000"})
    assert moved["phone"] == "0660-6610000" and moved["name"] == "海丰县公平镇便民服务中心"
    in_use = await call(api, "PATCH", "/api/v1/admin/offices/win-441521-gd", "admin", {"kind": "department"}, 409)
    assert "办件" in in_use["title"]
    await call(api, "PATCH", "/api/v1/admin/offices/nowhere", "admin", {"phone": ""}, 404)


async def test_users_are_listed_without_token_hashes_and_revoking_tokens_makes_the_next_request_401(api):
    response = await api.client.get("/api/v1/admin/users", headers=api.auth("admin"))
    text = await response.text()
    users = {u["id"]: u for u in json.loads(text)["items"]}
    assert users["clerk-lf"]["phone"] == "13800001001" and users["clerk-lf"]["active_tokens"] == 1
    assert users["lead-zj"]["role"] == "dept_lead" and users["lead-zj"]["scope"] == "office:dept-441500-zj"
    assert all(hash_token(token) not in text and token not in text for token in api.tokens.values())
    assert "token_hash" not in text
    leads = await get(api, "/api/v1/admin/users?role=dept_lead", "admin")
    assert [u["id"] for u in leads["items"]] == ["lead-zj"]

    await call(api, "PATCH", "/api/v1/admin/users/clerk-lf", "admin", {"phone": "12345"}, 422)
    changed = await call(
        api, "PATCH", "/api/v1/admin/users/clerk-lf", "admin", {"phone": "139-0000-1111", "name": "陈晓红"}
    )
    assert changed["phone"] == "13900001111" and changed["name"] == "陈晓红"
    await call(api, "PATCH", "/api/v1/admin/users/clerk-lf", "admin", {"scope": "office:nope"}, 422)
    await call(api, "PATCH", "/api/v1/admin/users/nobody", "admin", {"name": "无"}, 404)
    clash = {"id": "clerk-lf", "name": "又一个", "role": "window_clerk", "scope": "office:win-441581"}
    assert (await post(api, "/api/v1/admin/users", "admin", clash, 409))["title"] == "用户 clerk-lf 已存在"
    await post(api, "/api/v1/admin/users", "admin", {**clash, "id": "x1", "role": "king"}, 422)
    await post(api, "/api/v1/admin/users", "admin", {**clash, "id": "x2", "scope": "planet:earth"}, 422)

    assert (await api.client.get("/api/v1/ledger", headers=api.auth("clerk-lf"))).status == 200
    revoked = await post(api, "/api/v1/admin/users/clerk-lf/revoke-tokens", "admin")
    assert revoked == {"user_id": "clerk-lf", "revoked": 1}
    assert (await api.client.get("/api/v1/ledger", headers=api.auth("clerk-lf"))).status == 401
    clerks = (await get(api, "/api/v1/admin/users?role=window_clerk", "admin"))["items"]
    assert {u["id"]: u["active_tokens"] for u in clerks} == {"clerk-hf": 1, "clerk-lf": 0}

    issued = await token_for(api, "clerk-lf", "window_clerk", "office:win-441581")
    assert issued["scope"] == "office:win-441581"
    assert (await api.client.get("/api/v1/ledger", headers=api.auth("clerk-lf"))).status == 200
    await post(api, "/api/v1/admin/users/nobody/revoke-tokens", "admin", status=404)


async def test_an_admin_of_one_region_manages_only_that_region_and_cannot_grant_more(api):
    await token_for(api, "admin-lf", "admin", "region:441581", name="陆丰管理员")
    users = await get(api, "/api/v1/admin/users", "admin-lf")
    assert sorted(u["id"] for u in users["items"]) == ["admin-lf", "clerk-lf"]
    assert [r["code"] for r in (await get(api, "/api/v1/admin/regions", "admin-lf"))["items"]] == ["441581"]
    offices = await get(api, "/api/v1/admin/offices", "admin-lf")
    assert [o["id"] for o in offices["items"]] == ["dept-441581-qx", "dept-441581-sj", "win-441581"]
    wide = {"user_id": "x", "name": "x", "role": "admin", "scope": "*"}
    assert (await post(api, "/api/v1/admin/tokens", "admin-lf", wide, 403))["title"] == "不能授予超出本人管理范围的权限"
    await post(api, "/api/v1/admin/tokens", "admin-lf", {**wide, "user_id": "admin", "scope": "region:441581"}, 404)
    await call(api, "PATCH", "/api/v1/admin/users/dept-zj", "admin-lf", {"name": "x"}, 404)
    await call(api, "PATCH", "/api/v1/admin/offices/win-441502", "admin-lf", {"phone": ""}, 404)
    await get(api, "/api/v1/admin/parked?group=notifications", "admin-lf", 403)
    own = {"id": "win-441581-jd", "name": "陆丰市碣石镇便民服务中心", "kind": "window", "region_code": "441581"}
    assert (await post(api, "/api/v1/admin/offices", "admin-lf", own, 201))["lat"] == 22.9452
    await post(api, "/api/v1/admin/offices", "admin-lf", {**own, "id": "w-far", "region_code": "441502"}, 403)
    clerk = {"id": "clerk-jd", "name": "x", "role": "window_clerk", "scope": "office:win-441581-jd"}
    assert (await post(api, "/api/v1/admin/users", "admin-lf", clerk, 201))["scope"] == "office:win-441581-jd"


# --------------------------------------------------------------------------- matters and entrustments

NEW_MATTER = {
    "id": "m-dlzy-xk",
    "name": "城市道路占用挖掘许可",
    "department_office_id": "dept-441500-zj",
    "legal_limit": 20,
    "promised_limit": 5,
    "kind": "promised",
    "modes": ["proxy_collect"],
    "materials": [
        {"name": "占用挖掘城市道路申请表"},
        {"name": "施工方案", "tolerable": True},
        {"name": "交通疏导方案", "required": False},
    ],
    "stage_limits": {"inspection": 3},
    "iou_days": 3,
}


async def test_a_matter_is_created_and_refused_by_the_domain_rules_in_chinese(api):
    created = await post(api, "/api/v1/admin/matters", "admin", NEW_MATTER, 201)
    assert created["stage_limits"] == {"inspection": 3} and created["materials"][1]["tolerable"] is True
    assert (await get(api, "/api/v1/matters/m-dlzy-xk", "clerk-lf"))["promised_limit"] == 5
    assert (await post(api, "/api/v1/admin/matters", "admin", NEW_MATTER, 409))["title"] == "事项 m-dlzy-xk 已存在"
    fresh = {**NEW_MATTER, "id": "m-new"}
    refusals = [
        ({"promised_limit": 25}, "承诺期限"),
        ({"kind": "instant"}, "即办件"),
        ({"materials": [{"name": "申请表"}, {"name": "申请表"}]}, "重名"),
        ({"materials": [{"name": "说明", "required": False, "tolerable": True}]}, "容缺"),
        ({"iou_days": 0}, "容缺补交期限"),
        ({"materials": [{"name": "   "}]}, "材料名称"),
    ]
    for change, words in refusals:
        refused = await post(api, "/api/v1/admin/matters", "admin", {**fresh, **change}, 422)
        assert words in refused["title"], (change, refused)
    for department in ("dept-nowhere", "win-441581"):
        refused = await post(api, "/api/v1/admin/matters", "admin", {**fresh, "department_office_id": department}, 422)
        assert refused["title"] == f"审批部门 {department} 不存在"
        assert refused["errors"] == [{"field": "department_office_id", "message": refused["title"]}]
    await call(
        api, "PUT", "/api/v1/admin/matters/m-nowhere", "admin", {k: v for k, v in fresh.items() if k != "id"}, 404
    )


async def test_editing_a_matter_leaves_the_terms_of_an_existing_case_unchanged(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    assert case["matter"]["promised_limit"] == 1
    terms = await get(api, "/api/v1/matters/m-flzz-ys", "admin")
    edited = {k: v for k, v in terms.items() if k != "id"}
    # a 即办件 may promise at most 1 working day: 5 makes it a 承诺件
    edited.update(
        kind="promised", promised_limit=5, materials=[m for m in terms["materials"] if m["name"] != "授权委托书"]
    )
    assert (await call(api, "PUT", "/api/v1/admin/matters/m-flzz-ys", "admin", edited))["promised_limit"] == 5

    again = await get(api, f"/api/v1/cases/{case['id']}", "clerk-lf")
    assert again["matter"] == case["matter"] and again["ious"] == case["ious"]
    assert [i["material"] for i in again["ious"]] == ["施工单位的资质证", "授权委托书"]
    refused = await post(api, "/api/v1/cases", "clerk-lf", registration(), 422)
    assert refused["missing"] == ["授权委托书（不在本事项材料清单中，不能容缺）"]
    later = await post(api, "/api/v1/cases", "clerk-lf", registration(tolerated=["施工单位的资质证"]), 201)
    assert later["matter"]["promised_limit"] == 5
    sealed = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    assert [i["name"] for i in sealed["items"]] == [m["name"] for m in case["materials"]]


async def test_entrustments_are_listed_set_and_removed_and_decide_where_a_delegated_case_goes(api):
    listed = await get(api, "/api/v1/admin/entrustments", "admin")
    assert [(e["region_code"], e["matter_id"], e["office_id"]) for e in listed["items"]] == [
        ("441581", "m-gtzz-bl", "dept-441581-sj"),
        ("441581", "m-spjy-xk", "dept-441581-sj"),
    ]
    assert listed["items"][0]["office_name"] == "陆丰市市场监督管理局"
    path = "/api/v1/admin/entrustments/441521/m-gtzz-bl"
    elsewhere = await call(api, "PUT", path, "admin", {"office_id": "dept-441581-sj"}, 422)
    assert "不在区划 441521 内" in elsewhere["title"]
    entrusted = await call(api, "PUT", path, "admin", {"office_id": "dept-441521-sj"})  # a demo department
    assert entrusted["region_name"] == "海丰县" and entrusted["matter_name"] == "个体工商户营业执照遗失补领"
    refused = await call(
        api, "PUT", "/api/v1/admin/entrustments/441521/m-flzz-ys", "admin", {"office_id": "dept-441521-sj"}, 422
    )
    assert "不支持异地委托审批" in refused["title"] and refused["errors"][0]["field"] == "matter_id"
    for bad_path, field in (("449999/m-gtzz-bl", "region_code"), ("441521/m-none", "matter_id")):
        problem = await call(api, "PUT", f"/api/v1/admin/entrustments/{bad_path}", "admin", {"office_id": "x"}, 422)
        assert problem["errors"][0]["field"] == field
    assert [
        e["region_code"] for e in (await get(api, "/api/v1/admin/entrustments?region=44152", "admin"))["items"]
    ] == ["441521"]

    delegated = registration(
        matter_id="m-gtzz-bl",
        mode="delegated",
        window_office_id="win-441521",
        materials=[{"name": "个体工商户补领执照申请书"}, {"name": "经营者身份证明"}],
        tolerated=[],
    )
    case = await post(api, "/api/v1/cases", "clerk-hf", delegated, 201)
    assert case["department_office_id"] == "dept-441521-sj"
    assert await call(api, "DELETE", path, "admin") == {"removed": True}
    await call(api, "DELETE", path, "admin", status=404)
    await post(api, "/api/v1/cases", "clerk-hf", delegated, 422)


# --------------------------------------------------------------------------- calendar


SCHEDULE_2027 = """
year = 2027
source = "国务院办公厅关于2027年部分节假日安排的通知"
holidays = ["2027-01-01"]
workdays = []
"""


async def test_the_calendar_lists_packaged_and_uploaded_years_and_warns_from_november(api):
    status = await get(api, "/api/v1/admin/calendar", "admin")
    assert status["covered_years"][0] == 2004 and status["last_covered_year"] == 2026
    assert status["next_year_missing"] is None and status["warning"] is None and status["as_of"] == "2026-03-02"
    packaged = next(s for s in status["schedules"] if s["year"] == 2026)
    assert packaged["origin"] == "packaged" and packaged["source"].startswith("chinesecalendar")
    assert packaged["in_effect"] and packaged["loaded_by"] is None and packaged["holidays"] > 10

    api.tick(days=245)  # 2026-11-02
    november = await get(api, "/api/v1/admin/calendar", "admin")
    assert november["next_year_missing"] == 2027 and "2027" in november["warning"]

    uploaded = await post(api, "/api/v1/admin/calendar", "admin", {"toml": SCHEDULE_2027}, 201)
    assert uploaded == {
        "year": 2027,
        "source": "国务院办公厅关于2027年部分节假日安排的通知",
        "holidays": 1,
        "workdays": 0,
    }
    loaded = await get(api, "/api/v1/admin/calendar", "admin")
    assert loaded["next_year_missing"] is None and loaded["last_covered_year"] == 2027
    year = next(s for s in loaded["schedules"] if s["year"] == 2027)
    assert year["origin"] == "uploaded" and year["loaded_by"] == "admin" and year["loaded_at"].startswith("2026-11-02")
    bad = await post(api, "/api/v1/admin/calendar", "admin", {"toml": "year = 2027"}, 422)
    assert "source" in bad["title"]


# --------------------------------------------------------------------------- parked messages


async def test_parked_messages_are_listed_and_replayed_on_the_in_memory_bus(api):
    assert (await get(api, "/api/v1/admin/parked?group=notifications", "admin", 503))["title"].startswith("本服务没有")
    await post(api, "/api/v1/admin/parked/replay", "admin", {"group": "notifications"}, 503)

    bus = MemoryBus()
    api.container.bus = bus
    handled: list[str] = []
    done = asyncio.Event()

    async def handler(message: Incoming) -> None:
        if not handled:
            handled.append("refused")
            raise Park("短信模板未备案")
        handled.append("handled")
        done.set()

    group = GROUPS["notifications"]
    await bus.consume(group, handler)
    await bus.publish([Outgoing("msg-1", "case.collected", b"{}", "case-1")])
    async with asyncio.timeout(10):
        while not await bus.parked(group):
            await asyncio.sleep(0.01)

    parked = await get(api, "/api/v1/admin/parked?group=notifications", "admin")
    assert parked == {
        "group": "notifications",
        "items": [{"id": "msg-1", "type": "case.collected", "last_error": "Park: 短信模板未备案"}],
    }
    assert (await get(api, "/api/v1/admin/parked?group=logistics", "admin"))["items"] == []
    await get(api, "/api/v1/admin/parked?group=nope", "admin", 422)
    await get(api, "/api/v1/admin/parked", "admin", 422)
    assert await post(api, "/api/v1/admin/parked/replay", "admin", {"group": "logistics"}) == {
        "group": "logistics",
        "replayed": 0,
    }
    replayed = await post(api, "/api/v1/admin/parked/replay", "admin", {"group": "notifications", "limit": 10})
    assert replayed == {"group": "notifications", "replayed": 1}
    async with asyncio.timeout(10):
        await done.wait()
    assert handled == ["refused", "handled"]
    assert (await get(api, "/api/v1/admin/parked?group=notifications", "admin"))["items"] == []
    await bus.close()


# --------------------------------------------------------------------------- the lead's inbox


async def test_the_lead_sees_only_the_cases_copied_to_them_unremarked_first_then_newest(api):
    building = registration(matter_id="m-jsgc-xk", materials=BUILDING, tolerated=[])
    ids = []
    for _ in range(3):
        ids.append((await post(api, "/api/v1/cases", "clerk-lf", building, 201))["id"])
        api.tick(minutes=5)
    other_lead = (await post(api, "/api/v1/cases", "clerk-lf", building, 201))["id"]
    outside = (await post(api, "/api/v1/cases", "clerk-lf", registration(), 201))["id"]
    for n, case_id in enumerate(ids):
        await post(api, f"/api/v1/cases/{case_id}/copies", "dept-zj", {"lead": "lead-zj", "note": f"请阅 {n}"})
        api.tick(minutes=1)
    await post(
        api,
        "/api/v1/admin/users",
        "admin",
        {"id": "lead-zj2", "name": "另一位领导", "role": "dept_lead", "scope": "office:dept-441500-zj"},
        201,
    )
    await post(api, f"/api/v1/cases/{other_lead}/copies", "dept-zj", {"lead": "lead-zj2", "note": "请阅"})
    # a lead who does not lead the case's department cannot be named
    refused = await post(
        api, f"/api/v1/cases/{outside}/copies", "dept-zj", {"lead": "lead-zj", "note": "不在范围"}, 422
    )
    assert refused["errors"][0]["field"] == "lead"
    api.tick(minutes=1)
    await post(api, f"/api/v1/cases/{ids[1]}/remarks", "lead-zj", {"remark": "同意，加快办理"})

    inbox = await get(api, "/api/v1/lead/inbox", "lead-zj")
    assert [i["case_id"] for i in inbox["items"]] == [ids[2], ids[0], ids[1]]
    assert inbox["unremarked"] == 2 and inbox["next_cursor"] is None
    first, _, remarked = inbox["items"]
    assert first["note"] == "请阅 2" and first["remark"] == "" and first["remarked_at"] is None
    assert first["matter"] == {"id": "m-jsgc-xk", "name": "建设工程规划许可证核发"} and first["state"] == "collected"
    assert first["case_no"].startswith("441581-") and first["state_zh"]
    assert remarked["remark"] == "同意，加快办理" and remarked["remarked_at"] is not None

    paged, cursor = [], ""
    while True:
        page = await get(api, f"/api/v1/lead/inbox?limit=1{'&cursor=' + cursor if cursor else ''}", "lead-zj")
        paged += [i["case_id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert paged == [ids[2], ids[0], ids[1]]

    await token_for(api, "lead-zj2", "dept_lead", "office:dept-441500-zj")
    assert [i["case_id"] for i in (await get(api, "/api/v1/lead/inbox", "lead-zj2"))["items"]] == [other_lead]
    naive = base64.urlsafe_b64encode(json.dumps([0, "2026-03-02T09:30:00", ids[0], 1]).encode()).decode()
    for cursor in ("%%%", naive, base64.urlsafe_b64encode(b'{"a": 1}').decode()):
        await get(api, f"/api/v1/lead/inbox?cursor={cursor}", "lead-zj", 422)
        await get(api, f"/api/v1/ledger?cursor={cursor}", "supervisor", 422)
    await get(api, "/api/v1/lead/inbox", "dept-zj", 403)
