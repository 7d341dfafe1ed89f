"""SMS over the API (SQLite and PostgreSQL): no tracking link at rest anywhere in the database after
a whole case, while the SMS sent carry the right one; a send the provider cannot account for is a
technical failure on the case and in the staff's queue, and a resend sends exactly one new SMS."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from sqlalchemy import JSON, String, Text, select

from adapters.db import notifications as rows
from adapters.db.domain_tables import notifications as n
from adapters.db.tables import metadata
from adapters.sms.console import ConsoleSms
from adapters.sms.settings import ConsoleSmsSettings
from handoff.ports import SmsOutcomeUnknown, SmsReceipt, SmsStatus
from tests.integration.api.test_journeys import PNG, post, registration
from tests.support.outbox import OutboxFeed
from worker.notifications import UNKNOWN_NO_QUERY, Notifier

pytestmark = pytest.mark.integration


class RecordingSms:
    """A fake of our own SmsSender port: records every SMS; while ``cut_off``, the call dies
    without an answer (the provider may or may not have taken it)."""

    name = "fake"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, str]]] = []
        self.cut_off = False

    async def send(self, phone, template_key, params, *, reference=""):
        if self.cut_off:
            raise SmsOutcomeUnknown("fake", "timeout", "无应答")
        self.sent.append((phone, template_key, dict(params)))
        return SmsReceipt("fake", f"m-{len(self.sent)}", SmsStatus.SENDING)


def notifier(api, sender) -> Notifier:
    c = api.container
    return Notifier(c.engine, sender, lambda: c.deps.calendar, c.tracking_url, clock=api.clock.now)


async def get(api, path, user, status=200):
    response = await api.client.get(path, headers=api.auth(user))
    data = await response.json(content_type=None)
    assert response.status == status, data
    return data


async def every_text_in_the_database(engine) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text and JSON value of every table."""
    found = []
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            for row in await conn.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    if value is not None:
                        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                        found.append((table.name, column.name, text))
    return found


async def test_after_a_whole_case_no_tracking_link_is_stored_anywhere_yet_every_sms_carries_it(api, tmp_path):
    sms_file = tmp_path / "sms.jsonl"
    console = ConsoleSms(ConsoleSmsSettings(file=str(sms_file)), api.clock)
    feed = OutboxFeed(api.container.engine, notifier(api, console).handle)

    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    cid = case["id"]
    assert "/t/" in case["tracking_url"]  # shown to the clerk who prints the receipt, not stored
    api.tick(minutes=20)
    package = await post(api, f"/api/v1/cases/{cid}/packages", "clerk-lf", {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    api.tick(hours=3)
    await post(
        api,
        f"/api/v1/packages/{package['id']}/delivered",
        "courier-07",
        {"evidence": [{"content_type": "image/png", "data_base64": PNG}]},
        headers={"Idempotency-Key": "deliver-1"},
    )
    api.tick(hours=1)
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    await post(api, f"/api/v1/cases/{cid}/accept", "dept-zj")
    await post(api, f"/api/v1/cases/{cid}/ious/fulfil", "clerk-lf", {"material": "施工单位的资质证"})
    await post(api, f"/api/v1/cases/{cid}/ious/fulfil", "clerk-lf", {"material": "授权委托书"})
    await post(api, f"/api/v1/cases/{cid}/decision", "dept-zj", {"outcome": "approved", "opinion": "验收合格"})
    await post(api, f"/api/v1/cases/{cid}/result", "dept-zj", {})
    full = await get(api, f"/api/v1/cases/{cid}", "clerk-lf")
    result = next(p for p in full["packages"] if p["direction"] == "result")
    await post(
        api,
        "/api/v1/manifests",
        "dept-zj",
        {"office_id": "dept-441500-qx", "courier": "courier-07", "package_ids": [result["id"]]},
        201,
    )
    await post(api, f"/api/v1/packages/{result['id']}/delivered", "courier-07", {})
    await post(api, f"/api/v1/packages/{result['id']}/sign", "clerk-lf", {"office_id": "win-441581"})
    await post(
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
    token = case["tracking_url"].rsplit("/", 1)[1]
    await post(api, f"/api/v1/track/{token}/rating", "admin", {"score": 5, "comment": "很方便"})
    await feed()

    lines = [json.loads(line) for line in sms_file.read_text(encoding="utf-8").splitlines()]
    to_applicant = [m for m in lines if m["phone"] == "13812345678"]
    assert [m["template"] for m in to_applicant] == [
        "receipt",
        "forwarded",
        "signed",
        "accepted",
        "decided",
        "ready_for_pickup",
        "delivered",
        "rating_request",
    ]
    assert {m["params"]["link"] for m in to_applicant} == {case["tracking_url"]}
    stored = await every_text_in_the_database(api.container.engine)
    assert {table for table, _, _ in stored} >= {"notifications", "outbox", "cases"}
    assert [(table, column) for table, column, text in stored if "/t/" in text or token in text] == []
    full = await get(api, f"/api/v1/cases/{cid}", "clerk-lf")
    assert len(full["sms"]) == len(lines) and "/t/" not in json.dumps(full, ensure_ascii=False)


async def test_a_send_nobody_can_account_for_is_shown_failed_and_a_resend_sends_exactly_one_sms(api, caplog):
    sms = RecordingSms()
    worker = notifier(api, sms)
    feed = OutboxFeed(api.container.engine, worker.handle)
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    cid = case["id"]
    sms.cut_off = True
    await feed()  # the receipt's provider call dies without an answer
    sms.cut_off = False
    [shown] = (await get(api, f"/api/v1/cases/{cid}", "clerk-lf"))["sms"]
    assert (shown["status"], shown["failed"]) == ("sending", False)
    api.tick(minutes=11)
    assert await worker.sweep() == (0, 1)  # the fake provider cannot be asked: unknown, not resent
    assert sms.sent == []
    [shown] = (await get(api, f"/api/v1/cases/{cid}", "clerk-lf"))["sms"]
    assert (shown["status"], shown["failed"], shown["reason"]) == ("technical_failure", True, UNKNOWN_NO_QUERY)

    queue = await get(api, "/api/v1/sms/failed", "dept-zj")
    [failed] = queue["items"]
    assert (failed["case_id"], failed["template"], failed["recipient"]) == (cid, "receipt", "138****5678")
    assert failed["case_no"] == case["case_no"] and queue["next_cursor"] is None
    assert (await get(api, "/api/v1/sms/failed", "clerk-hf"))["items"] == []  # another window's scope
    assert (await get(api, "/api/v1/sms/failed?status=permanent_failure", "clerk-lf"))["items"] == []

    await post(api, f"/api/v1/sms/{failed['id']}/resend", "clerk-hf", status=404)
    await post(api, f"/api/v1/sms/{failed['id']}/resend", "supervisor", status=403)
    api.container.sms = worker.dispatch  # this process runs the notifications group: sent at once
    with caplog.at_level(logging.INFO, logger="handoff.audit"):
        resent = await post(api, f"/api/v1/sms/{failed['id']}/resend", "clerk-lf", status=201)
    assert (resent["resend_of"], resent["status"], resent["template"]) == (failed["id"], "sending", "receipt")
    assert sms.sent == [("13812345678", "receipt", {"link": case["tracking_url"]})]
    assert any("sms.resent" in r.getMessage() and "clerk-lf" in r.getMessage() for r in caplog.records)

    again = await post(api, f"/api/v1/sms/{failed['id']}/resend", "dept-zj", status=409)
    assert again["title"] == "这条短信已经重发过，请查看重发的那条"
    not_failed = await post(api, f"/api/v1/sms/{resent['id']}/resend", "clerk-lf", status=409)
    assert "没有发送失败" in not_failed["title"]
    assert (await get(api, "/api/v1/sms/failed", "clerk-lf"))["items"] == []
    api.tick(minutes=30)
    assert await worker.sweep() == (0, 0)
    assert len(sms.sent) == 1
    statuses = [s["status"] for s in (await get(api, f"/api/v1/cases/{cid}", "clerk-lf"))["sms"]]
    assert statuses == ["technical_failure", "sending"]


async def test_a_resend_made_where_no_notifications_group_runs_is_sent_once_by_its_sweeper(api):
    sms = RecordingSms()
    worker = notifier(api, sms)
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    sms.cut_off = True
    await OutboxFeed(api.container.engine, worker.handle)()
    sms.cut_off = False
    api.tick(minutes=11)
    await worker.sweep()
    [failed] = (await get(api, "/api/v1/sms/failed", "clerk-lf"))["items"]
    assert api.container.sms is None  # an API replica without the group
    resent = await post(api, f"/api/v1/sms/{failed['id']}/resend", "clerk-lf", status=201)
    assert resent["status"] == "created" and sms.sent == []
    assert await worker.sweep() == (1, 0)  # a resend is due at once, no grace
    assert await worker.sweep() == (0, 0)
    assert sms.sent == [("13812345678", "receipt", {"link": case["tracking_url"]})]


async def test_the_queue_of_failed_sms_pages_with_a_cursor_newest_first(api):
    sms = RecordingSms()
    worker = notifier(api, sms)
    feed = OutboxFeed(api.container.engine, worker.handle)
    sms.cut_off = True
    cases = []
    for _ in range(3):
        cases.append((await post(api, "/api/v1/cases", "clerk-lf", registration(), 201))["id"])
        await feed()
        api.tick(minutes=1)
    api.tick(minutes=11)
    assert await worker.sweep() == (0, 3)  # settled at one instant: the cursor breaks the tie by id
    first = await get(api, "/api/v1/sms/failed?limit=2", "clerk-lf")
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await get(api, f"/api/v1/sms/failed?limit=2&cursor={first['next_cursor']}", "clerk-lf")
    assert rest["next_cursor"] is None
    assert {i["case_id"] for i in first["items"] + rest["items"]} == set(cases)
    await get(api, "/api/v1/sms/failed?cursor=not-a-cursor", "clerk-lf", status=422)


async def failed_receipt(api):
    """A case whose receipt SMS ended as a technical failure; (case, the failed row, the worker, the fake)."""
    sms = RecordingSms()
    worker = notifier(api, sms)
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    sms.cut_off = True
    await OutboxFeed(api.container.engine, worker.handle)()
    sms.cut_off = False
    api.tick(minutes=11)
    await worker.sweep()
    [failed] = (await get(api, "/api/v1/sms/failed", "clerk-lf"))["items"]
    api.container.sms = worker.dispatch
    return case, failed, worker, sms


async def test_a_failed_sms_is_resent_once_even_when_the_phone_is_corrected_between_two_clicks(api):
    case, failed, worker, sms = await failed_receipt(api)
    await post(api, f"/api/v1/sms/{failed['id']}/resend", "clerk-lf", status=201)
    await post(
        api,
        f"/api/v1/cases/{case['id']}/applicant-phone",
        "clerk-lf",
        {"phone": "13900001111", "reason": "申请人来电告知原号码已停用"},
        200,
    )
    again = await post(api, f"/api/v1/sms/{failed['id']}/resend", "clerk-lf", status=409)
    assert again["title"] == "这条短信已经重发过，请查看重发的那条"
    api.tick(minutes=30)
    await worker.sweep()
    assert [phone for phone, _, _ in sms.sent] == ["13812345678"]


async def test_two_resends_at_once_send_one_sms(api):
    _case, failed, worker, sms = await failed_receipt(api)
    path = f"/api/v1/sms/{failed['id']}/resend"
    responses = await asyncio.gather(
        api.client.post(path, headers=api.auth("clerk-lf")), api.client.post(path, headers=api.auth("clerk-lf"))
    )
    assert sorted(r.status for r in responses) == [201, 409]
    api.tick(minutes=30)
    await worker.sweep()
    assert len(sms.sent) == 1


async def test_a_resend_racing_a_resend_to_the_number_before_the_correction_waits_for_it_and_is_refused(pg_api):
    api = pg_api
    case, failed, _worker, _sms = await failed_receipt(api)
    api.container.sms = None  # the first resend is left to the sweeper: only rows are compared here
    async with api.container.engine.connect() as first:
        await first.begin()
        resent = await rows.resend(first, failed["id"], api.clock.now())
        assert resent is not None and resent["recipient"] == "13812345678"
        # meanwhile the phone is corrected, and a second clerk resends to the new number
        await post(
            api,
            f"/api/v1/cases/{case['id']}/applicant-phone",
            "clerk-lf",
            {"phone": "13900001111", "reason": "申请人来电告知原号码已停用"},
            200,
        )
        second = asyncio.create_task(api.client.post(f"/api/v1/sms/{failed['id']}/resend", headers=api.auth("dept-zj")))
        await asyncio.sleep(0.5)
        assert not second.done()  # it waits for the first resend's transaction
        await first.commit()
    response = await second
    assert response.status == 409, await response.text()
    async with api.container.engine.connect() as conn:
        resends = (await conn.execute(select(n.c.recipient).where(n.c.resend_of == failed["id"]))).all()
    assert [r.recipient for r in resends] == ["13812345678"]
