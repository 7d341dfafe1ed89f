"""One end-to-end scenario per actor, over HTTP."""

from __future__ import annotations

import pytest

from tests.support.images import b64, png
from tests.support.outbox import OutboxFeed
from worker.projections import Projector

pytestmark = pytest.mark.integration

PNG = b64(png())

LIGHTNING_MATERIALS = [
    {"name": "《防雷装置竣工验收申请书》", "pages": 3},
    {"name": "防雷装置竣工图纸", "pages": 12, "copies": 2},
]


def registration(**over):
    body = {
        "matter_id": "m-flzz-ys",
        "mode": "proxy_collect",
        "delivery": "pickup_at_window",
        "window_office_id": "win-441581",
        "applicant": {"name": "张小三", "phone": "13812345678", "id_number": "11010519491231002X"},
        "materials": LIGHTNING_MATERIALS,
        "tolerated": ["施工单位的资质证", "授权委托书"],
    }
    body.update(over)
    return body


async def post(api, path, user, body=None, status=200, headers=None):
    response = await api.client.post(
        path, json=body if body is not None else {}, headers={**api.auth(user), **(headers or {})}
    )
    data = await response.json(content_type=None)
    assert response.status == status, data
    return data


async def test_a_window_registers_a_case_and_missing_materials_are_listed_at_once(api):
    response = await api.client.post(
        "/api/v1/cases",
        json=registration(materials=[LIGHTNING_MATERIALS[1]], tolerated=[]),
        headers=api.auth("clerk-lf"),
    )
    problem = await response.json(content_type=None)
    assert response.status == 422 and response.content_type == "application/problem+json"
    assert problem["missing"] == ["《防雷装置竣工验收申请书》", "施工单位的资质证", "授权委托书"]
    assert problem["title"].startswith("材料清单缺少：")

    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    assert case["state"] == "collected" and case["applicant"]["id_number_masked"] == "1101**********002X"
    assert [i["material"] for i in case["ious"]] == ["施工单位的资质证", "授权委托书"]
    assert case["tracking_url"].startswith("https://hf.test.cn/t/")
    assert case["forwarding_due"] == "2026-03-04"


async def test_the_whole_journey_window_courier_department_applicant(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    cid = case["id"]
    assert case["case_no"].startswith("441581-20260302-0001-")
    api.tick(minutes=20)
    package = await post(api, f"/api/v1/cases/{cid}/packages", "clerk-lf", {}, 201)
    assert package["state"] == "sealed" and package["code"].startswith("441581-20260302-0002-")
    manifest = await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    assert manifest["scan_payload"].startswith("HTTPS://HF.TEST.CN/M/")
    api.tick(hours=3)
    moved = await post(
        api,
        f"/api/v1/packages/{package['id']}/in-transit",
        "courier-07",
        {"place": "海丰中转站"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert moved["state"] == "in_transit"
    again = await post(
        api,
        f"/api/v1/packages/{package['id']}/in-transit",
        "courier-07",
        {"place": "海丰中转站"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert again == moved
    response = await api.client.post(
        f"/api/v1/packages/{package['id']}/in-transit",
        json={"place": "别处"},
        headers={**api.auth("courier-07"), "Idempotency-Key": "k-1"},
    )
    assert response.status == 422  # same key, another body
    delivered = await post(
        api,
        f"/api/v1/packages/{package['id']}/delivered",
        "courier-07",
        {"evidence": [{"content_type": "image/png", "data_base64": PNG}], "client_time": "2026-03-02T12:45:00+08:00"},
    )
    assert delivered["state"] == "arrived"

    api.tick(hours=1)
    scanned = await post(api, "/api/v1/scan", "dept-zj", {"code": package["scan_payload"]})
    assert scanned["id"] == package["id"] and "sign" in scanned["next_actions"]
    typed = await post(api, "/api/v1/scan", "dept-zj", {"code": package["code"].replace("-", " ")})
    assert typed["id"] == package["id"]
    signed = await post(
        api,
        f"/api/v1/packages/{package['id']}/sign",
        "dept-zj",
        {"office_id": "dept-441500-qx", "discrepancies": [{"item_seq": 2, "kind": "pages_differ", "actual_pages": 11}]},
    )
    assert signed["state"] == "signed"
    custody = await (
        await api.client.get(f"/api/v1/packages/{package['id']}/custody", headers=api.auth("supervisor"))
    ).json()
    assert custody["verified"] and [e["kind"] for e in custody["events"]][-2:] == ["delivered", "signed"]

    accepted = await post(api, f"/api/v1/cases/{cid}/accept", "dept-zj")
    assert accepted["clock"]["due_date"] == "2026-03-03"
    await post(api, f"/api/v1/cases/{cid}/ious/fulfil", "clerk-lf", {"material": "施工单位的资质证"})
    await post(api, f"/api/v1/cases/{cid}/ious/fulfil", "clerk-lf", {"material": "授权委托书"})
    decided = await post(
        api, f"/api/v1/cases/{cid}/decision", "dept-zj", {"outcome": "approved", "opinion": "验收合格"}
    )
    assert decided["state"] == "decided" and decided["clock"]["early"] is True
    sealed = await post(api, f"/api/v1/cases/{cid}/result", "dept-zj", {})
    assert sealed["state"] == "decided", "a sealed result has not left the department yet"

    token = case["tracking_url"].rsplit("/", 1)[1]
    tracking = await (await api.client.get(f"/api/v1/track/{token}")).json()
    assert tracking["applicant_name"] == "张*三" and tracking["applicant_phone"] == "138****5678"
    assert "11010519491231002X" not in str(tracking) and "13812345678" not in str(tracking)
    assert tracking["package"]["state_zh"] == "已封装"

    full = await (await api.client.get(f"/api/v1/cases/{cid}", headers=api.auth("clerk-lf"))).json()
    result_package = next(p for p in full["packages"] if p["direction"] == "result")
    await post(
        api,
        "/api/v1/manifests",
        "dept-zj",
        {"office_id": "dept-441500-qx", "courier": "courier-07", "package_ids": [result_package["id"]]},
        201,
    )
    shipped = await (await api.client.get(f"/api/v1/cases/{cid}", headers=api.auth("clerk-lf"))).json()
    assert shipped["state"] == "result_shipped"
    await post(api, f"/api/v1/packages/{result_package['id']}/delivered", "courier-07", {})
    early_pickup = {"office_id": "win-441581", "receiver_name": "张小三", "by_proxy": False}
    await post(api, f"/api/v1/cases/{cid}/pickup", "clerk-lf", early_pickup, 409)  # not signed at the window yet
    await post(api, f"/api/v1/packages/{result_package['id']}/sign", "clerk-lf", {"office_id": "win-441581"})
    ready = await (await api.client.get(f"/api/v1/cases/{cid}", headers=api.auth("clerk-lf"))).json()
    assert ready["state"] == "ready_for_pickup" and ready["next_actions"] == ["register_pickup", "rate"]
    picked = await post(
        api,
        f"/api/v1/cases/{cid}/pickup",
        "clerk-lf",
        {
            "office_id": "win-441581",
            "receiver_name": "李四",
            "receiver_id_number": "110101199003074514",
            "by_proxy": True,
        },
    )
    assert picked["state"] == "delivered" and picked["pickup"]["id_number_masked"] == "1101**********4514"
    rated = await post(api, f"/api/v1/track/{token}/rating", "admin", {"score": 5, "comment": "不用跑市区，很方便"})
    assert rated["state"] == "delivered"

    ledger = await (await api.client.get("/api/v1/ledger", headers=api.auth("supervisor"))).json()
    assert ledger["items"][0]["case_id"] == cid and ledger["items"][0]["phone"] == "138****5678"
    c = api.container
    await OutboxFeed(c.engine, Projector(c.engine, c.cipher, c.deps.calendar, c.deps.clock).handle)()
    figures = await (await api.client.get("/api/v1/indicators", headers=api.auth("supervisor"))).json()
    assert figures["cases"] == 1 and figures["trips_saved"] == 1 and figures["average_rating"] == 5
    assert 25 < figures["distance_saved_km"] < 40


async def test_a_department_opens_and_closes_a_stage_and_extends_with_the_clock_moving(api):
    body = registration(
        matter_id="m-jsgc-xk",
        delivery="mail_to_applicant",
        applicant={"name": "张小三", "phone": "13812345678", "address": "陆丰市东海街道人民路 8 号"},
        tolerated=[],
        materials=[{"name": "建设工程规划许可申请表"}, {"name": "建设工程设计方案"}, {"name": "土地权属证明"}],
    )
    cid = (await post(api, "/api/v1/cases", "clerk-lf", body, 201))["id"]
    package = await post(api, f"/api/v1/cases/{cid}/packages", "clerk-lf", {}, 201)
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-zj"}, 409)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-zj"})
    case = await post(api, f"/api/v1/cases/{cid}/accept", "dept-zj")
    assert case["clock"]["due_date"] == "2026-03-30"
    api.tick(days=7)
    case = await post(
        api,
        f"/api/v1/cases/{cid}/stages",
        "dept-zj",
        {"stage_type": "expert_review", "reason": "设计方案需专家评审", "legal_basis": "行政许可法第四十五条"},
    )
    stage_id = case["stages"][0]["id"]
    api.tick(days=7)
    clock = (await (await api.client.get(f"/api/v1/cases/{cid}/clock", headers=api.auth("supervisor"))).json())["clock"]
    assert clock["paused"] and clock["excluded_days"] == 5
    case = await post(api, f"/api/v1/cases/{cid}/stages/{stage_id}/close", "dept-zj", {})
    assert case["clock"]["due_date"] == "2026-04-07"
    case = await post(
        api, f"/api/v1/cases/{cid}/extensions", "dept-zj", {"days": 10, "approver": "王局长", "reason": "复杂"}
    )
    assert case["clock"]["promised"] == 30 and case["clock"]["due_date"] == "2026-04-21"
    case = await post(api, f"/api/v1/cases/{cid}/copies", "dept-zj", {"lead": "lead-zj", "note": "请阅"})
    case = await post(api, f"/api/v1/cases/{cid}/remarks", "lead-zj", {"remark": "加快办理"})
    assert case["lead_copies"][0]["remark"] == "加快办理"


async def test_the_clock_cannot_be_bent_over_http_and_shows_both_limits(api):
    from datetime import date

    from handoff.clock import add_working_days

    body = registration(
        matter_id="m-jsgc-xk",
        delivery="mail_to_applicant",
        applicant={"name": "张小三", "phone": "13812345678", "address": "陆丰市东海街道人民路 8 号"},
        tolerated=[],
        materials=[{"name": "建设工程规划许可申请表"}, {"name": "建设工程设计方案"}, {"name": "土地权属证明"}],
    )
    cid = (await post(api, "/api/v1/cases", "clerk-lf", body, 201))["id"]
    package = await post(api, f"/api/v1/cases/{cid}/packages", "clerk-lf", {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    signed = await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-zj"})
    assert signed["state"] == "signed"
    case = await post(api, f"/api/v1/cases/{cid}/accept", "dept-zj")  # Monday 2026-03-02
    assert case["prereview"] == {"due_on": "2026-03-05", "overdue": False}
    calendar = api.container.deps.calendar
    legal_due = add_working_days(calendar, date(2026, 3, 2), 30).due.isoformat()
    assert (case["clock"]["due_date"], case["clock"]["legal_due_date"], case["clock"]["legal_overdue"]) == (
        "2026-03-30",
        legal_due,
        False,
    )
    api.tick(days=2)  # Wednesday: the working day before is 03-03
    stage = {"stage_type": "inspection", "reason": "现场勘验", "legal_basis": "行政许可法第四十五条"}
    problem = await post(api, f"/api/v1/cases/{cid}/stages", "dept-zj", {**stage, "start_on": "2026-03-02"}, 422)
    assert "须经分管领导批准" in problem["title"]
    case = await post(
        api, f"/api/v1/cases/{cid}/stages", "dept-zj", {**stage, "start_on": "2026-03-02", "approved_by": "lead-zj"}
    )
    assert case["stages"][0]["approved_by"] == "lead-zj" and case["clock"]["paused"]
    case = await post(api, f"/api/v1/cases/{cid}/stages/{case['stages'][0]['id']}/close", "dept-zj", {})
    case = await post(
        api, f"/api/v1/cases/{cid}/supplement", "dept-zj", {"items": ["补充图纸"], "due_on": "2026-03-06"}
    )
    assert case["supplement_count"] == 1
    problem = await post(
        api, f"/api/v1/cases/{cid}/supplement", "dept-zj", {"items": ["盖章页"], "due_on": "2026-03-09"}, 409
    )
    assert "已有未结束的补正环节" in problem["title"]
    problem = await post(api, f"/api/v1/cases/{cid}/supplement/close", "dept-zj", {"opinion": "逾期未补正"}, 409)
    assert "尚未届满" in problem["title"]
    api.tick(days=5)  # Monday 2026-03-09
    case = await post(
        api, f"/api/v1/cases/{cid}/supplement/close", "dept-zj", {"opinion": "申请人逾期未补正图纸，补正不来办结"}
    )
    assert case["state"] == "closed_unsupplemented" and case["closed_reason"].startswith("申请人逾期未补正")
    assert case["clock"]["stopped_on"] == "2026-03-09" and not case["clock"]["paused"]


async def test_the_boards_list_stalled_packages_and_late_cases_within_the_callers_scope(api):
    from worker.deadlines import DeadlineSettings, DeadlineWatcher

    c = api.container
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    watcher = DeadlineWatcher(c.engine, c.cipher, c.deps.calendar, c.deps, c.uow, DeadlineSettings())
    await OutboxFeed(c.engine, watcher.handle)()
    api.tick(days=4)  # Friday 2026-03-06: nothing has moved since Monday's sealing
    await watcher.scan()

    async def get(path, user):
        response = await api.client.get(path, headers=api.auth(user))
        assert response.status == 200, await response.text()
        return await response.json()

    stalled = await get("/api/v1/packages/stalled", "supervisor")
    assert [(p["code"], p["working_days"]) for p in stalled["items"]] == [(package["code"], 4)]
    assert stalled["stall_days"] == 3
    assert (await get("/api/v1/packages/stalled", "clerk-hf"))["items"] == []  # another window's clerk
    late = await get("/api/v1/deadlines?kind=forwarding", "clerk-lf")
    assert [r["case_no"] for r in late["items"]] == [case["case_no"]]
    assert (await get("/api/v1/deadlines?kind=forwarding", "clerk-hf"))["items"] == []
