"""The deadline board over HTTP (SQLite and PostgreSQL): each kind lists the cases that are late
on that duty — the forwarding promise until the department signs, the 预审, the legal limit, the
容缺 materials owed — within the caller's scope."""

from __future__ import annotations

import pytest

from tests.integration.api.test_journeys import PNG, post, registration
from tests.support.outbox import OutboxFeed
from worker.deadlines import DeadlineSettings, DeadlineWatcher

pytestmark = pytest.mark.integration


async def board(api, kind: str, user: str = "supervisor") -> list[dict]:
    response = await api.client.get(f"/api/v1/deadlines?kind={kind}", headers=api.auth(user))
    assert response.status == 200, await response.text()
    return (await response.json())["items"]


async def test_each_board_kind_lists_the_cases_late_on_its_duty(api):
    c = api.container
    # Monday 2026-03-02: three cases of 防雷装置竣工验收 (promised 1, legal 10), two materials owed (容缺)
    on_the_road, signed, accepted = [(await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)) for _ in "abc"]
    packages = [
        await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
        for case in (on_the_road, signed, accepted)
    ]
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [p["id"] for p in packages]},
        201,
    )
    for package in packages:
        await post(
            api,
            f"/api/v1/packages/{package['id']}/delivered",
            "courier-07",
            {"evidence": [{"content_type": "image/png", "data_base64": PNG}]},
        )
    for package in packages[1:]:  # the first one arrived but nobody signed for it
        await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    await post(api, f"/api/v1/cases/{accepted['id']}/accept", "dept-zj")
    for material in ("施工单位的资质证", "授权委托书"):
        await post(api, f"/api/v1/cases/{accepted['id']}/ious/fulfil", "clerk-lf", {"material": material})
    watcher = DeadlineWatcher(c.engine, c.cipher, c.deps.calendar, c.deps, c.uow, DeadlineSettings())
    await OutboxFeed(c.engine, watcher.handle)()

    await watcher.scan()  # nothing is late on the first day
    for kind in ("overdue", "legal_overdue", "forwarding", "prereview"):
        assert await board(api, kind) == [], kind

    api.tick(days=15)  # Tuesday 2026-03-17
    await watcher.scan()

    def nos(items: list[dict]) -> list[str]:
        return [r["case_no"] for r in items]

    assert nos(await board(api, "forwarding")) == [on_the_road["case_no"]]  # delivered is not signed
    [late] = await board(api, "prereview")
    assert late["case_no"] == signed["case_no"] and late["prereview_due_on"] == "2026-03-05"
    assert late["prereview_overdue"] is True
    [legal] = await board(api, "legal_overdue")
    assert legal["case_no"] == accepted["case_no"] and legal["legal_due_on"] == "2026-03-16"
    assert legal["legal_overdue"] is True
    assert nos(await board(api, "overdue")) == [accepted["case_no"]]
    owed = await board(api, "iou")
    assert sorted(nos(owed)) == sorted([on_the_road["case_no"], signed["case_no"]])
    assert {r["iou_due_on"] for r in owed} == {"2026-03-09"}
    assert owed[0]["ious_owed"] == [
        {"material": "授权委托书", "due_on": "2026-03-09"},
        {"material": "施工单位的资质证", "due_on": "2026-03-09"},
    ]
    assert await board(api, "legal_overdue", "clerk-hf") == []  # another window's clerk sees nothing


async def test_an_unknown_board_kind_is_refused(api):
    response = await api.client.get("/api/v1/deadlines?kind=everything", headers=api.auth("supervisor"))
    assert response.status == 422 and response.content_type == "application/problem+json"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in (await response.json(content_type=None))["title"])
