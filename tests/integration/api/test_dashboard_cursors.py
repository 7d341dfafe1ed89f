"""The boards over HTTP: pages follow opaque cursors to the end, and a cursor that is not one
of the board's (garbage, another board's, a time without a zone) is a 422 in Chinese."""

from __future__ import annotations

import base64
import json

import pytest

from tests.integration.api.test_journeys import post, registration
from tests.support.outbox import OutboxFeed

pytestmark = pytest.mark.integration


async def get(api, path, user, status=200):
    response = await api.client.get(path, headers=api.auth(user))
    data = await response.json(content_type=None)
    assert response.status == status, data
    return data


async def walk(api, path, user):
    seen, cursor = [], None
    while True:
        page = await get(api, path + (f"&cursor={cursor}" if cursor else ""), user)
        seen += page["items"]
        if page["next_cursor"] is None:
            return seen
        cursor = page["next_cursor"]
        assert all(cursor != item.get("case_id") for item in page["items"])  # opaque, not an id


async def test_board_and_stalled_pages_follow_their_cursors_and_refuse_foreign_ones(api):
    from worker.deadlines import DeadlineSettings, DeadlineWatcher

    c = api.container
    cases = [await post(api, "/api/v1/cases", "clerk-lf", registration(), 201) for _ in range(3)]
    packages = [await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201) for case in cases[:2]]
    watcher = DeadlineWatcher(c.engine, c.cipher, c.deps.calendar, c.deps, c.uow, DeadlineSettings())
    await OutboxFeed(c.engine, watcher.handle)()
    api.tick(days=4)
    await watcher.scan()

    whole = await get(api, "/api/v1/deadlines?kind=forwarding", "clerk-lf")
    assert len(whole["items"]) == 3 and whole["next_cursor"] is None
    assert await walk(api, "/api/v1/deadlines?kind=forwarding&limit=1", "clerk-lf") == whole["items"]
    stalled = await get(api, "/api/v1/packages/stalled", "supervisor")
    assert sorted(p["package_id"] for p in stalled["items"]) == sorted(p["id"] for p in packages)
    assert await walk(api, "/api/v1/packages/stalled?limit=1", "supervisor") == stalled["items"]

    forwarding_cursor = (await get(api, "/api/v1/deadlines?kind=forwarding&limit=1", "clerk-lf"))["next_cursor"]
    naive = base64.urlsafe_b64encode(json.dumps(["2026-03-02T09:30:00", "p"]).encode()).decode()
    for path in (
        "/api/v1/deadlines?kind=overdue&cursor=%25%25%25",
        f"/api/v1/deadlines?kind=overdue&cursor={forwarding_cursor}",
        f"/api/v1/deadlines?kind=due_soon&cursor={cases[0]['id']}",
        "/api/v1/packages/stalled?cursor=%25%25%25",
        f"/api/v1/packages/stalled?cursor={naive}",
        f"/api/v1/packages/stalled?cursor={forwarding_cursor}",
    ):
        problem = await get(api, path, "supervisor", 422)
        assert problem["title"] == "分页游标无效", path
