"""The console as a workplace (issue 17): each role's 待办, the 办件档案 search by every key, the
case's 过程信息 and the correction of the applicant's phone, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from adapters.db import domain_tables as t
from adapters.db.tables import outbox
from tests.support.outbox import OutboxFeed

from .test_authority import actor
from .test_documents import download, pdf_text
from .test_journeys import post, registration
from .test_request_path import statements

pytestmark = pytest.mark.integration

TODO_STATEMENTS = 2
"""The offices of a region scope (none for an office scope), then every section in one UNION ALL."""


async def get(api, path: str, user: str, status: int = 200) -> Any:
    response = await api.client.get(path, headers=api.auth(user))
    data = await response.json(content_type=None)
    assert response.status == status, data
    return data


def section(todo: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in todo["sections"] if s["key"] == key)


def case_nos(todo: dict[str, Any], key: str) -> list[str]:
    return [i["case_no"] for i in section(todo, key)["items"]]


async def forwarded_case(api, **over: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(**over), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    return case, package


async def test_the_window_sees_what_to_seal_hand_over_take_in_and_hand_out(api):
    waiting = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    sealed = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{sealed['id']}/packages", "clerk-lf", {}, 201)
    todo = await get(api, "/api/v1/todo", "clerk-lf")
    assert todo["role"] == "window_clerk"
    assert case_nos(todo, "to_seal") == [waiting["case_no"]]
    handed = section(todo, "sealed")
    assert [(i["case_no"], i["package_code"], i["action_zh"]) for i in handed["items"]] == [
        (sealed["case_no"], package["code"], "交接快递")
    ]
    # both cases owe two 容缺 materials (registration() tolerates two), earliest due first
    ious = section(todo, "ious")
    assert ious["count"] == 4 and {i["note"] for i in ious["items"]} == {"施工单位的资质证", "授权委托书"}
    assert todo["total"] == 1 + 1 + 4
    # another window's clerk sees none of it
    other = await get(api, "/api/v1/todo", "clerk-hf")
    assert all(s["count"] == 0 and s["items"] == [] for s in other["sections"])
    # acting on the item takes it off the queue
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    assert case_nos(await get(api, "/api/v1/todo", "clerk-lf"), "sealed") == []


async def test_the_department_sees_packages_to_sign_prereview_supplements_stages_and_results_to_ship(api):
    case, package = await forwarded_case(api)
    todo = await get(api, "/api/v1/todo", "dept-zj")
    assert todo["role"] == "dept_clerk"
    assert case_nos(todo, "incoming") == [case["case_no"]]  # with the courier: on its way
    await post(api, f"/api/v1/packages/{package['id']}/delivered", "courier-07", {})
    todo = await get(api, "/api/v1/todo", "dept-zj")
    assert case_nos(todo, "incoming") == [] and case_nos(todo, "to_sign") == [case["case_no"]]
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    todo = await get(api, "/api/v1/todo", "dept-zj")
    assert case_nos(todo, "to_sign") == []
    prereview = section(todo, "prereview")["items"]
    assert [(i["case_no"], i["action_zh"]) for i in prereview] == [(case["case_no"], "预审受理")]
    # a county's department clerk reads the case (its window is in the county) but does not decide it
    county = await actor(api, "county-clerk", "dept_clerk", "region:441581")
    assert all(s["items"] == [] for s in (await get(api, "/api/v1/todo", county))["sections"])
    cid = case["id"]
    await post(api, f"/api/v1/cases/{cid}/supplement", "dept-zj", {"items": ["竣工图纸"], "due_on": "2026-03-10"})
    todo = await get(api, "/api/v1/todo", "dept-zj")
    assert case_nos(todo, "prereview") == []
    assert [(i["case_no"], i["due_on"]) for i in section(todo, "supplements")["items"]] == [
        (case["case_no"], "2026-03-10")
    ]
    # the window sees the same supplement as something to take in
    window = await get(api, "/api/v1/todo", "clerk-lf")
    assert case_nos(window, "supplements") == [case["case_no"]]
    await post(api, f"/api/v1/cases/{cid}/supplement/supplied", "dept-zj", {})
    await post(api, f"/api/v1/cases/{cid}/accept", "dept-zj", {})
    stage = {"stage_type": "inspection", "reason": "现场勘验", "legal_basis": "《行政许可法》第四十五条"}
    await post(api, f"/api/v1/cases/{cid}/stages", "dept-zj", stage)
    todo = await get(api, "/api/v1/todo", "dept-zj")
    assert [(i["case_no"], i["note"]) for i in section(todo, "stages")["items"]] == [(case["case_no"], "勘验")]
    assert case_nos(todo, "supplements") == []
    view = await get(api, f"/api/v1/cases/{cid}", "dept-zj")
    await post(api, f"/api/v1/cases/{cid}/stages/{view['stages'][0]['id']}/close", "dept-zj", {})
    for material in ("施工单位的资质证", "授权委托书"):
        await post(api, f"/api/v1/cases/{cid}/ious/fulfil", "dept-zj", {"material": material})
    await post(api, f"/api/v1/cases/{cid}/decision", "dept-zj", {"outcome": "approved", "opinion": "同意"})
    todo = await get(api, "/api/v1/todo", "dept-zj")
    assert case_nos(todo, "stages") == [] and case_nos(todo, "to_ship") == [case["case_no"]]
    # nothing late, stalled or rated: the supervisor's queue is there and empty
    supervisor = await get(api, "/api/v1/todo", "supervisor")
    assert [s["key"] for s in supervisor["sections"]] == ["overdue", "due_soon", "stalled", "bad_ratings", "supervised"]
    assert supervisor["total"] == 0


async def test_the_department_queue_lists_overdue_and_due_soon_cases_from_the_deadline_board(api):
    from worker.deadlines import DeadlineSettings, DeadlineWatcher

    c = api.container
    case, package = await forwarded_case(api)
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    await post(api, f"/api/v1/cases/{case['id']}/accept", "dept-zj", {})  # promised limit: 1 working day
    watcher = DeadlineWatcher(c.engine, c.cipher, c.deps.calendar, c.deps, c.uow, DeadlineSettings())
    await OutboxFeed(c.engine, watcher.handle)()
    await watcher.scan()
    todo = await get(api, "/api/v1/todo", "dept-zj")
    assert case_nos(todo, "due_soon") == [case["case_no"]] and case_nos(todo, "overdue") == []
    api.tick(days=3)  # Thursday: two working days used of one
    await watcher.scan()
    todo = await get(api, "/api/v1/todo", "dept-zj")
    overdue = section(todo, "overdue")["items"]
    assert [(i["case_no"], i["overdue"]) for i in overdue] == [(case["case_no"], True)]
    assert case_nos(todo, "due_soon") == [] and case_nos(todo, "legal_overdue") == []
    api.tick(days=14)  # past the legal limit of 10 working days as well
    await watcher.scan()
    todo = await get(api, "/api/v1/todo", "dept-zj")
    assert case_nos(todo, "legal_overdue") == [case["case_no"]]


async def test_after_remarking_a_copy_leaves_the_leads_unread_and_shows_among_read(api):
    case, _ = await forwarded_case(api, matter_id="m-flzz-ys")
    # the lightning matter is the weather bureau's; lead-zj leads 住建: copy a 住建 case instead
    zj = await post(
        api,
        "/api/v1/cases",
        "clerk-lf",
        registration(
            matter_id="m-jsgc-xk",
            materials=[{"name": "建设工程规划许可申请表"}, {"name": "建设工程设计方案"}],
            tolerated=["土地权属证明"],
        ),
        201,
    )
    await post(api, f"/api/v1/cases/{zj['id']}/copies", "dept-zj", {"lead": "lead-zj", "note": "请阅"})
    todo = await get(api, "/api/v1/todo", "lead-zj")
    assert todo["role"] == "dept_lead" and todo["total"] == 1
    assert [(i["case_no"], i["note"], i["action_zh"]) for i in section(todo, "unread")["items"]] == [
        (zj["case_no"], "请阅", "批阅")
    ]
    await post(api, f"/api/v1/cases/{zj['id']}/remarks", "lead-zj", {"remark": "同意，按时办结"})
    todo = await get(api, "/api/v1/todo", "lead-zj")
    assert case_nos(todo, "unread") == [] and todo["total"] == 0
    assert [(i["case_no"], i["note"]) for i in section(todo, "read")["items"]] == [(zj["case_no"], "同意，按时办结")]
    assert case["case_no"] not in case_nos(todo, "read")


async def test_a_queue_is_read_in_two_statements_whatever_the_number_of_sections(api):
    await forwarded_case(api)
    for user in ("clerk-lf", "dept-zj", "lead-zj", "courier-07", "supervisor", "admin"):
        await get(api, "/api/v1/me", user)  # each principal is read once, then cached
        with statements(api.container.engine) as seen:
            await get(api, "/api/v1/todo?limit=5", user)
        assert len(seen) <= TODO_STATEMENTS, f"{user}: {len(seen)} statements:\n" + "\n".join(seen)


# =========================================================================== 待办 of the courier, supervisor, admin


async def test_the_courier_sees_what_to_pick_up_what_it_holds_and_what_it_delivered_today(api):
    waiting = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    sealed = await post(api, f"/api/v1/cases/{waiting['id']}/packages", "clerk-lf", {}, 201)
    case, package = await forwarded_case(api)  # handed over to courier-07
    todo = await get(api, "/api/v1/todo", "courier-07")
    assert todo["role"] == "courier"
    assert [(i["case_no"], i["package_code"], i["action_zh"]) for i in section(todo, "to_pick_up")["items"]] == [
        (waiting["case_no"], sealed["code"], "揽收")
    ]
    assert [(i["package_code"], i["action_zh"]) for i in section(todo, "in_hand")["items"]] == [
        (package["code"], "送达")
    ]
    assert section(todo, "delivered_today")["items"] == [] and todo["total"] == 2
    await post(api, f"/api/v1/packages/{package['id']}/delivered", "courier-07", {})
    todo = await get(api, "/api/v1/todo", "courier-07")
    assert section(todo, "in_hand")["items"] == []
    assert [i["case_no"] for i in section(todo, "delivered_today")["items"]] == [case["case_no"]]
    assert todo["total"] == 1  # what was delivered is shown, not counted
    other = await actor(api, "courier-gz", "courier", "region:4401")
    assert all(s["items"] == [] for s in (await get(api, "/api/v1/todo", other))["sections"])
    api.tick(days=1)
    assert section(await get(api, "/api/v1/todo", "courier-07"), "delivered_today")["items"] == []


async def test_the_supervisor_sees_late_cases_stalled_packages_bad_ratings_and_its_supervisions(api):
    from tests.integration.api.test_dashboard import command, received
    from worker.deadlines import DeadlineSettings, DeadlineWatcher

    c = api.container
    late = await received(api)
    await command(api, late, "accept")
    rated = await received(api)
    await command(api, rated, "accept")
    await command(api, rated, "decide", outcome="approved", opinion="同意")
    await command(api, rated, "rate", actor="applicant", score=1, comment="等了太久")
    stuck, _package = await forwarded_case(api)  # with the courier, and left there
    await post(api, f"/api/v1/cases/{late}/supervision", "supervisor", {"note": "群众反映进度慢，请加快办理"})
    watcher = DeadlineWatcher(c.engine, c.cipher, c.deps.calendar, c.deps, c.uow, DeadlineSettings())
    await OutboxFeed(c.engine, watcher.handle)()
    api.tick(days=7)  # a week later: the 1-day case is overdue, the package has not moved for 5 working days
    await watcher.scan()
    todo = await get(api, "/api/v1/todo", "supervisor")
    assert todo["role"] == "supervisor"
    assert [i["case_id"] for i in section(todo, "overdue")["items"]] == [late]
    assert [i["case_no"] for i in section(todo, "stalled")["items"]] == [stuck["case_no"]]
    bad = section(todo, "bad_ratings")["items"]
    assert [(i["case_id"], i["note"], i["due_on"]) for i in bad] == [(rated, "评价：等了太久", "2026-03-09")]
    [supervision] = section(todo, "supervised")["items"]
    assert (supervision["case_id"], supervision["note"]) == (late, "待答复：群众反映进度慢，请加快办理")
    assert todo["total"] == 3  # the supervisions it issued are shown, not counted
    await post(api, f"/api/v1/cases/{late}/supervision/answer", "dept-zj", {"answer": "已加快，明日办结"})
    await post(api, f"/api/v1/cases/{rated}/rating/rectify", "dept-zj", {"note": "已约谈窗口人员并整改"})
    todo = await get(api, "/api/v1/todo", "supervisor")
    assert section(todo, "bad_ratings")["items"] == []
    assert section(todo, "supervised")["items"][0]["note"] == "已答复：已加快，明日办结"
    # a county supervisor sees nothing of the city's department
    county = await actor(api, "county-supervisor", "supervisor", "region:441581")
    county_todo = await get(api, "/api/v1/todo", county)
    assert section(county_todo, "supervised")["items"] == []


async def test_the_admin_sees_locked_out_users_sms_technical_failures_and_a_missing_calendar(api):
    from adapters.db import sessions as db_sessions

    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    now = api.clock.now()
    async with api.container.engine.begin() as conn:
        await db_sessions.set_password(conn, "clerk-lf", "not-a-hash", must_change=False, at=now)
        await conn.execute(
            t.user_credentials.update()
            .where(t.user_credentials.c.user_id == "clerk-lf")
            .values(failures=5, locked_until=now + timedelta(minutes=1))
        )
        for status, sms_id in (("technical_failure", "sms-1"), ("permanent_failure", "sms-2")):
            await conn.execute(
                t.notifications.insert().values(
                    id=sms_id,
                    event_id=f"e-{sms_id}",
                    case_id=case["id"],
                    recipient="13812345678",
                    audience="applicant",
                    template_key="receipt",
                    params={},
                    status=status,
                    reason="无应答",
                    created_at=now,
                    updated_at=now,
                )
            )
    todo = await get(api, "/api/v1/todo", "admin")
    assert todo["role"] == "admin" and [s["key"] for s in todo["sections"]] == ["locked", "sms_failed"]
    [locked] = section(todo, "locked")["items"]
    assert (locked["case_id"], locked["subject"], locked["state_zh"], locked["note"]) == (
        None,
        "陈晓红（陆丰窗口）",
        "代收窗口人员",
        "连续 5 次登录失败",
    )
    [failed] = section(todo, "sms_failed")["items"]
    assert (failed["case_no"], failed["note"]) == (case["case_no"], "收件回执短信")
    assert todo["total"] == 2
    api.tick(minutes=2)  # the lock-out is over
    assert section(await get(api, "/api/v1/todo", "admin"), "locked")["items"] == []
    api.tick(days=250)  # November: next year's 节假日安排 is due
    todo = await get(api, "/api/v1/todo", "admin")
    [calendar] = section(todo, "calendar")["items"]
    assert calendar["subject"] == "2027 年节假日安排" and calendar["action_zh"] == "上传节假日安排"


# =========================================================================== 办件档案


async def search(api, user: str, status: int = 200, **body: Any) -> Any:
    return await post(api, "/api/v1/archive/search", user, body, status)


async def test_the_archive_finds_a_case_by_each_key_within_scope(api):
    case, package = await forwarded_case(api)
    other = await post(
        api,
        "/api/v1/cases",
        "clerk-lf",
        registration(applicant={"name": "李四", "phone": "13900001111", "id_number": "440103199003075671"}),
        201,
    )
    keys: list[dict[str, Any]] = [
        {"case_no": case["case_no"]},
        {"package_code": package["code"]},
        {"package_code": package["code"].replace("-", "")},
        {"applicant_name": "张小三"},
        {"phone": "138 1234 5678"},
        {"id_number": "11010519491231002x"},
        {"matter_id": "m-flzz-ys", "states": ["forwarded"]},
        {"from": "2026-03-02", "to": "2026-03-02", "states": ["forwarded"]},
    ]
    for key in keys:
        found = await search(api, "clerk-lf", **key)
        assert [r["case_id"] for r in found["items"]] == [case["id"]], key
        assert found["items"][0]["phone"] == "138****5678"
    found = await search(api, "dept-zj", id_number="440103199003075671")
    assert [r["case_no"] for r in found["items"]] == [other["case_no"]]
    # outside the scope, nothing; a wrong key, nothing; a malformed key, a Chinese 422
    assert (await search(api, "clerk-hf", case_no=case["case_no"]))["items"] == []
    assert (await search(api, "clerk-lf", phone="13800000000"))["items"] == []
    assert "身份证" in (await search(api, "clerk-lf", 422, id_number="110105194912310021"))["title"]
    assert "材料包编号" in (await search(api, "clerk-lf", 422, package_code="441581-20260302-0001-0"))["title"]
    assert "手机" in (await search(api, "clerk-lf", 422, phone="12345"))["title"]


async def test_the_archive_pages_newest_first_with_a_cursor(api):
    made = []
    for _ in range(5):
        made.append((await post(api, "/api/v1/cases", "clerk-lf", registration(), 201))["id"])
        api.tick(minutes=1)
    seen: list[str] = []
    cursor = None
    while True:
        page = await search(api, "clerk-lf", applicant_name="张小三", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [r["case_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))
    assert "游标" in (await search(api, "clerk-lf", 422, cursor="not-a-cursor"))["title"]


async def test_the_id_number_is_matched_by_its_keyed_hash_and_never_stored_or_sent_in_clear(api):
    await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    async with api.container.engine.connect() as conn:
        row = (await conn.execute(select(t.cases.c.applicant_id_hash, t.cases.c.applicant_id_enc))).one()
        payloads = [str(p) for p in (await conn.execute(select(outbox.c.payload))).scalars()]
    assert row.applicant_id_hash == api.container.cipher.keyed_hash("11010519491231002X")
    assert "11010519491231002X" not in row.applicant_id_enc
    assert not any("11010519491231002" in p for p in payloads)


# =========================================================================== 过程信息 and the phone


async def test_the_history_names_every_actor_and_keeps_the_opinions(api):
    case, package = await forwarded_case(api)
    cid = case["id"]
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    await post(api, f"/api/v1/cases/{cid}/reject", "dept-zj", {"reason": "不属于本部门职责范围"})
    history = await get(api, f"/api/v1/cases/{cid}/events", "clerk-lf")
    steps = [(e["title"], e["actor_name"]) for e in history["events"]]
    assert steps[0] == ("窗口收件登记", "陈晓红（陆丰窗口）")
    assert ("快递员揽收", "陈晓红（陆丰窗口）") in steps
    assert ("签收材料包", "林志强（市住建局）") in steps
    rejected = history["events"][-1]
    assert (rejected["title"], rejected["actor_name"], rejected["opinion"]) == (
        "不予受理",
        "林志强（市住建局）",
        "不属于本部门职责范围",
    )
    picked = next(e for e in history["events"] if e["type"] == "package.picked_up")
    assert "吴海波（政务专递）" in picked["detail"] and picked["package_code"] == package["code"]
    assert history["names"]["win-441581"] == "陆丰市政务服务中心市域通办窗口"
    assert all("courier-07" not in e["detail"] and "win-441581" not in e["detail"] for e in history["events"])
    await get(api, f"/api/v1/cases/{cid}/events", "clerk-hf", 404)


async def test_a_clerk_corrects_the_applicants_phone_and_it_is_audited(api, caplog):
    case, _ = await forwarded_case(api)
    cid = case["id"]
    with caplog.at_level(logging.INFO, logger="handoff.audit"):
        view = await post(
            api,
            f"/api/v1/cases/{cid}/applicant-phone",
            "clerk-lf",
            {"phone": "139-0000-2222", "reason": "申请人来电更正"},
        )
    assert view["applicant"]["phone"] == "13900002222"
    assert any(r.__dict__.get("action") == "case.applicant_phone_corrected" for r in caplog.records)
    history = await get(api, f"/api/v1/cases/{cid}/events", "dept-zj")
    corrected = history["events"][-1]
    assert (corrected["title"], corrected["actor_name"], corrected["opinion"]) == (
        "改正申请人手机号码",
        "陈晓红（陆丰窗口）",
        "申请人来电更正",
    )
    assert corrected["detail"] == "138****5678 → 139****2222"
    async with api.container.engine.connect() as conn:
        payload = (
            await conn.execute(select(outbox.c.payload).where(outbox.c.type == "case.applicant_phone_corrected"))
        ).scalar_one()
    assert "13900002222" not in str(payload) and "13812345678" not in str(payload)
    # the same number again, a malformed one, another office: refused
    problem = await post(
        api, f"/api/v1/cases/{cid}/applicant-phone", "clerk-lf", {"phone": "13900002222", "reason": "再改"}, 409
    )
    assert "相同" in problem["title"]
    await post(api, f"/api/v1/cases/{cid}/applicant-phone", "clerk-lf", {"phone": "123", "reason": "错"}, 422)
    await post(api, f"/api/v1/cases/{cid}/applicant-phone", "clerk-hf", {"phone": "13900003333", "reason": "无权"}, 404)


# =========================================================================== the window's day


async def ready_for_pickup(api) -> dict[str, Any]:
    from tests.integration.api.test_pages import decided_case

    case, _ = await decided_case(api)
    await post(api, f"/api/v1/cases/{case['id']}/result", "dept-zj", {})
    full = await get(api, f"/api/v1/cases/{case['id']}", "dept-zj")
    result = next(p for p in full["packages"] if p["direction"] == "result")
    await post(
        api,
        "/api/v1/manifests",
        "dept-zj",
        {"office_id": "dept-441500-qx", "courier": "courier-07", "package_ids": [result["id"]]},
        201,
    )
    await post(api, f"/api/v1/packages/{result['id']}/delivered", "courier-07", {})
    todo = await get(api, "/api/v1/todo", "clerk-lf")
    assert [(i["case_no"], i["action_zh"]) for i in section(todo, "results_incoming")["items"]] == [
        (case["case_no"], "签收结果")
    ]
    await post(api, f"/api/v1/packages/{result['id']}/sign", "clerk-lf", {"office_id": "win-441581"})
    return case


async def test_the_window_queue_lists_results_to_hand_out_and_pickup_records_document_type_and_method(api):
    case = await ready_for_pickup(api)
    todo = await get(api, "/api/v1/todo", "clerk-lf")
    assert [(i["case_no"], i["action_zh"]) for i in section(todo, "pickup")["items"]] == [(case["case_no"], "发放登记")]
    picked = await post(
        api,
        f"/api/v1/cases/{case['id']}/pickup",
        "clerk-lf",
        {
            "office_id": "win-441581",
            "receiver_name": "John Smith",
            "receiver_id_number": "E12345678",
            "by_proxy": True,
            "id_type": "passport",
            "method": "self_service",
            "note": "代领人持护照，已核对",
        },
    )
    pickup = picked["pickup"]
    assert (pickup["id_type_zh"], pickup["method_zh"], pickup["note"], pickup["id_number_masked"]) == (
        "护照",
        "自助终端领取",
        "代领人持护照，已核对",
        "E123*5678",
    )
    again = await get(api, f"/api/v1/cases/{case['id']}", "clerk-lf")  # stored, not only answered
    assert again["pickup"] == pickup
    # the receipt prints what was recorded, read back from the database
    _, body = await download(api, f"/api/v1/cases/{case['id']}/documents/pickup-receipt", "clerk-lf")
    text = "".join(pdf_text(body).split())
    assert "证件类型护照" in text and "证件号码E123*5678" in text and "E12345678" not in text
    assert "领取方式自助终端领取" in text and "意见代领人持护照，已核对" in text
    assert case_nos(await get(api, "/api/v1/todo", "clerk-lf"), "pickup") == []
    assert {d["path"] for d in again["documents"]} >= {"acceptance-notice"}


async def test_the_applicant_in_person_needs_no_number_typed_the_one_on_file_is_recorded(api):
    case = await ready_for_pickup(api)
    picked = await post(
        api,
        f"/api/v1/cases/{case['id']}/pickup",
        "clerk-lf",
        {"office_id": "win-441581", "receiver_name": "张小三", "by_proxy": False},
    )
    assert picked["pickup"]["id_number_masked"] == "1101**********002X"
    assert (picked["pickup"]["id_type"], picked["pickup"]["method"]) == ("resident_id", "window")


async def test_the_case_lists_only_the_documents_it_has(api):
    case, package = await forwarded_case(api)
    cid = case["id"]
    view = await get(api, f"/api/v1/cases/{cid}", "clerk-lf")
    assert [d["path"] for d in view["documents"]] == ["iou-receipt"]  # two 容缺 materials owed
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    await post(api, f"/api/v1/cases/{cid}/supplement", "dept-zj", {"items": ["竣工图纸"], "due_on": "2026-03-10"})
    view = await get(api, f"/api/v1/cases/{cid}", "clerk-lf")
    assert [d["path"] for d in view["documents"]] == ["iou-receipt", "supplement-notice/1"]
    for d in view["documents"]:
        response = await api.client.get(f"/api/v1/cases/{cid}/documents/{d['path']}", headers=api.auth("clerk-lf"))
        assert response.status == 200 and response.content_type == "application/pdf", d


async def test_the_search_and_the_history_run_a_handful_of_statements_and_me_names_every_office(api):
    case, _ = await forwarded_case(api)
    me = await get(api, "/api/v1/me", "dept-zj")  # each principal is read once, then cached
    with statements(api.container.engine) as seen:
        await search(api, "clerk-lf", phone="13812345678")
    assert len(seen) <= 1, "\n".join(seen)  # an office scope: the cases page alone
    with statements(api.container.engine) as seen:
        await get(api, f"/api/v1/cases/{case['id']}/events", "dept-zj")
    assert len(seen) <= 4, "\n".join(seen)  # the case, its packages, its events, the names
    assert me["office_names"]["win-441581"] == "陆丰市政务服务中心市域通办窗口"
    assert "win-441581" not in {o["id"] for o in me["offices"]}  # named, not in scope


# =========================================================================== 已办办件


async def test_handled_lists_the_cases_each_user_acted_on_with_their_last_step_newest_first(api):
    first, package = await forwarded_case(api)
    api.tick(minutes=5)
    second = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    api.tick(minutes=5)
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    await post(api, f"/api/v1/cases/{first['id']}/accept", "dept-zj", {})

    mine = await get(api, "/api/v1/archive/handled", "clerk-lf")
    assert [r["case_no"] for r in mine["items"]] == [second["case_no"], first["case_no"]]
    assert mine["items"][0]["step_zh"] == "窗口收件登记" and mine["items"][0]["state_zh"] == "已收件"
    assert mine["items"][1]["step"].startswith("package.")  # the hand-over to the courier, after registering
    assert mine["items"][0]["phone"] == "138****5678" and mine["next_cursor"] is None
    dept = await get(api, "/api/v1/archive/handled", "dept-zj")
    assert [(r["case_no"], r["step_zh"]) for r in dept["items"]] == [(first["case_no"], "受理")]
    # nobody else's steps; another window's clerk acted on none of them
    assert (await get(api, "/api/v1/archive/handled", "clerk-hf"))["items"] == []
    assert (await get(api, "/api/v1/archive/handled", "lead-zj"))["items"] == []


async def test_handled_filters_by_state_and_date_of_the_step_and_pages_with_a_cursor(api):
    made = []
    for _ in range(3):
        made.append((await post(api, "/api/v1/cases", "clerk-lf", registration(), 201))["case_no"])
        api.tick(days=1)
    late, _package = await forwarded_case(api)
    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await get(api, f"/api/v1/archive/handled{query}", "clerk-lf")
        seen += [r["case_no"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [late["case_no"], *reversed(made)]
    collected = await get(api, "/api/v1/archive/handled?state=collected", "clerk-lf")
    assert [r["case_no"] for r in collected["items"]] == list(reversed(made))
    day = (await get(api, "/api/v1/archive/handled", "clerk-lf"))["items"][-1]["step_at"][:10]
    one_day = await get(api, f"/api/v1/archive/handled?from={day}&to={day}", "clerk-lf")
    assert [r["case_no"] for r in one_day["items"]] == [made[0]]
    for bad, word in (("cursor=not-a-cursor", "游标"), ("from=2026-03-05&to=2026-03-01", "结束日期")):
        response = await api.client.get(f"/api/v1/archive/handled?{bad}", headers=api.auth("clerk-lf"))
        assert response.status == 422 and word in (await response.json())["title"]
    response = await api.client.get("/api/v1/archive/handled", headers=api.auth("courier-07"))
    assert response.status == 403


async def test_handled_is_one_statement_for_an_office_scope(api):
    await forwarded_case(api)
    await get(api, "/api/v1/me", "clerk-lf")  # the principal is read once, then cached
    with statements(api.container.engine) as seen:
        found = await get(api, "/api/v1/archive/handled?state=forwarded", "clerk-lf")
    assert len(found["items"]) == 1
    assert len(seen) <= 1, "\n".join(seen)
