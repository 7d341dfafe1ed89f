"""Tokens change no user and do not live for ever (DESIGN §12, issue 13 item 9), on SQLite and
PostgreSQL: a token for an existing user with another role or scope is a 409 that leaves the user
as it was (the audited user update is the way to change one); a token stops working when it
expires, by the service's clock, and is then no longer counted as active."""

from __future__ import annotations

import logging

import pytest

from .test_admin import call, get
from .test_journeys import post

pytestmark = pytest.mark.integration


async def users(api):
    return {u["id"]: u for u in (await get(api, "/api/v1/admin/users", "admin"))["items"]}


async def ledger_status(api, token):
    response = await api.client.get("/api/v1/ledger", headers={"Authorization": f"Bearer {token}"})
    return response.status, response.content_type, await response.json(content_type=None)


async def test_a_token_for_an_existing_user_with_another_role_or_scope_is_409_and_the_user_is_unchanged(api):
    before = await users(api)
    for other in ({"role": "admin", "scope": "office:win-441581"}, {"role": "window_clerk", "scope": "region:4415"}):
        asked = {"user_id": "clerk-lf", "name": "陈晓红（陆丰窗口）", "phone": "13900000000", **other}
        refused = await post(api, "/api/v1/admin/tokens", "admin", asked, 409)
        assert "PATCH /api/v1/admin/users/clerk-lf" in refused["title"] and "不会修改用户" in refused["title"]
    assert await users(api) == before

    same = {"user_id": "clerk-lf", "name": "别的名字", "role": "window_clerk", "scope": "office:win-441581"}
    issued = await post(api, "/api/v1/admin/tokens", "admin", {**same, "phone": "13900000000"}, 201)
    after = await users(api)
    assert after["clerk-lf"] == {**before["clerk-lf"], "active_tokens": 2}
    assert (await ledger_status(api, issued["token"]))[0] == 200

    fresh = {"user_id": "clerk-new", "name": "新同事", "role": "window_clerk", "scope": "office:win-441581"}
    await post(api, "/api/v1/admin/tokens", "admin", fresh, 201)
    assert (await users(api))["clerk-new"]["name"] == "新同事"


async def test_the_user_update_that_changes_a_role_is_written_to_the_audit_log(api, caplog):
    with caplog.at_level(logging.INFO, logger="handoff.audit"):
        changed = await call(api, "PATCH", "/api/v1/admin/users/clerk-lf", "admin", {"scope": "office:win-441521"})
    assert changed["scope"] == "office:win-441521"
    audited = [r for r in caplog.records if r.name == "handoff.audit"]
    assert [(r.action, r.target, r.actor) for r in audited] == [("user.updated", "clerk-lf", "admin")]
    issued = await post(
        api,
        "/api/v1/admin/tokens",
        "admin",
        {"user_id": "clerk-lf", "name": "陈晓红", "role": "window_clerk", "scope": "office:win-441521"},
        201,
    )
    assert issued["scope"] == "office:win-441521"


async def test_an_expired_token_is_refused_with_401_and_no_longer_counted_as_active(api):
    issued = await post(
        api,
        "/api/v1/admin/tokens",
        "admin",
        {"user_id": "clerk-lf", "name": "x", "role": "window_clerk", "scope": "office:win-441581", "expires_days": 2},
        201,
    )
    assert issued["expires_at"] == "2026-03-04T01:30:00+00:00"
    assert (await ledger_status(api, issued["token"]))[0] == 200
    assert (await users(api))["clerk-lf"]["active_tokens"] == 2
    api.tick(days=2)
    status, content_type, problem = await ledger_status(api, issued["token"])
    assert (status, content_type, problem["title"]) == (401, "application/problem+json", "访问令牌已过期")
    assert (await users(api))["clerk-lf"]["active_tokens"] == 1  # the harness's own token


async def test_tokens_last_90_days_for_staff_and_30_for_couriers_unless_told_otherwise(api):
    body = {"name": "x", "scope": "region:4415"}
    staff = await post(api, "/api/v1/admin/tokens", "admin", {**body, "user_id": "sv2", "role": "supervisor"}, 201)
    courier = await post(api, "/api/v1/admin/tokens", "admin", {**body, "user_id": "cr2", "role": "courier"}, 201)
    assert staff["expires_at"] == "2026-05-31T01:30:00+00:00"
    assert courier["expires_at"] == "2026-04-01T01:30:00+00:00"
    until = {**body, "user_id": "sv3", "role": "supervisor", "expires_at": "2026-03-10"}
    dated = await post(api, "/api/v1/admin/tokens", "admin", until, 201)
    assert dated["expires_at"] == "2026-03-10T16:00:00+00:00"  # valid through the 10th, China time

    api.tick(days=30)
    assert (await ledger_status(api, courier["token"]))[0] == 401
    assert (await ledger_status(api, staff["token"]))[0] == 200
    assert (await ledger_status(api, dated["token"]))[0] == 401


@pytest.mark.parametrize(
    "expiry",
    [
        {"expires_days": 0},
        {"expires_days": 367},
        {"expires_at": "2026-03-01"},
        {"expires_at": "2028-01-01"},
        {"expires_at": "2026-03-20T10:00:00"},
        {"expires_at": "下个月"},
        {"expires_at": "9999-12-31"},
        {"expires_days": 5, "expires_at": "2026-03-20"},
    ],
)
async def test_an_expiry_in_the_past_too_far_or_unreadable_is_a_422(api, expiry):
    body = {"user_id": "sv9", "name": "x", "role": "supervisor", "scope": "region:4415", **expiry}
    problem = await post(api, "/api/v1/admin/tokens", "admin", body, 422)
    assert problem["title"]
    assert "sv9" not in await users(api)
