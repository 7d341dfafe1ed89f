"""Signing in with a user name and a password (api/sessions.py), over HTTP on SQLite and
PostgreSQL: the session cookie and its idle and absolute expiry, logout, the lock-out with
back-off, CSRF on every state-changing request the cookie authenticates (bearer tokens exempt),
the password change, the admin's reset (audited), and demo seeding that never touches an existing
password."""

from __future__ import annotations

import hashlib
import logging
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import select

from adapters.db import domain_tables as t
from adapters.db import sessions as db_sessions
from adapters.demo import DEMO_PASSWORD, start_demo
from adapters.passwords import hash_password

from .test_journeys import registration

pytestmark = pytest.mark.integration

PASSWORD = "潮汕-correct-horse"


async def give_password(api, user_id: str, password: str = PASSWORD, must_change: bool = False) -> None:
    hashed = await hash_password(password)
    async with api.container.engine.begin() as conn:
        await db_sessions.set_password(conn, user_id, hashed, must_change=must_change, at=api.clock.now())


class Browser:
    """What a browser keeps of one sign-in: the two cookies, sent back explicitly (the harness's
    address is https, so the cookies are Secure and the test client would not send them over
    its plain-HTTP loopback)."""

    def __init__(self, api, cookies: SimpleCookie) -> None:
        self.api = api
        self.session = cookies["handoff_session"].value
        self.csrf = cookies["handoff_csrf"].value

    def headers(self, csrf: str | None = "same") -> dict[str, str]:
        headers = {"Cookie": f"handoff_session={self.session}; handoff_csrf={self.csrf}"}
        if csrf is not None:
            headers["X-CSRF-Token"] = self.csrf if csrf == "same" else csrf
        return headers

    async def call(self, method: str, path: str, body=None, csrf: str | None = "same"):
        self.api.client.session.cookie_jar.clear()
        response = await self.api.client.request(method, path, json=body, headers=self.headers(csrf))
        return response.status, await response.json(content_type=None), response


async def sign_in(api, user_id: str, password: str = PASSWORD):
    api.client.session.cookie_jar.clear()
    response = await api.client.post("/api/v1/session", json={"user_id": user_id, "password": password})
    return response, await response.json(content_type=None)


async def signed_in(api, user_id: str, password: str = PASSWORD) -> Browser:
    response, body = await sign_in(api, user_id, password)
    assert response.status == 200, body
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie"):
        cookies.load(header)
    return Browser(api, cookies)


async def test_a_clerk_signs_in_with_the_right_password_and_the_cookie_is_http_only_strict_and_stored_hashed(api):
    await give_password(api, "clerk-lf")
    response, body = await sign_in(api, "clerk-lf")
    assert response.status == 200, body
    assert (body["user_id"], body["role"], body["must_change_password"]) == ("clerk-lf", "window_clerk", False)
    assert body["idle_minutes"] == 30
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie"):
        cookies.load(header)
    session, csrf = cookies["handoff_session"], cookies["handoff_csrf"]
    assert session["httponly"] and session["secure"] and session["samesite"] == "Strict"
    assert not csrf["httponly"] and csrf["secure"] and csrf["samesite"] == "Strict"
    assert csrf.value == body["csrf_token"]
    assert len(session.value) >= 43  # 256 random bits, base64url
    async with api.container.engine.connect() as conn:
        stored = (await conn.execute(select(t.user_sessions.c.token_hash))).scalars().all()
    assert stored == [hashlib.sha256(session.value.encode()).hexdigest()]

    browser = Browser(api, cookies)
    status, me, _ = await browser.call("GET", "/api/v1/me")
    assert status == 200 and me["user_id"] == "clerk-lf" and me["name"] == "陈晓红（陆丰窗口）"


async def test_a_wrong_password_and_an_unknown_user_get_the_same_chinese_refusal(api):
    await give_password(api, "clerk-lf")
    wrong, body = await sign_in(api, "clerk-lf", "not-the-password")
    unknown, other = await sign_in(api, "nobody-here", PASSWORD)
    no_password, third = await sign_in(api, "dept-zj", PASSWORD)
    assert (wrong.status, unknown.status, no_password.status) == (401, 401, 401)
    assert body["title"] == other["title"] == third["title"] == "用户名或密码不正确"
    assert "Set-Cookie" not in wrong.headers


async def test_five_failures_lock_the_user_out_for_a_minute_and_each_further_failure_doubles_the_wait(api, caplog):
    caplog.set_level(logging.INFO, logger="handoff.audit")
    await give_password(api, "clerk-lf")
    await give_password(api, "dept-zj")
    for _ in range(4):
        response, _ = await sign_in(api, "clerk-lf", "wrong-password")
        assert response.status == 401
    fifth, body = await sign_in(api, "clerk-lf", "wrong-password")
    assert fifth.status == 429 and fifth.headers["Retry-After"] == "60"
    assert body["title"] == "登录失败次数过多，账号已暂时锁定，请 1 分钟后再试"

    api.tick(seconds=30)
    right_but_locked, body = await sign_in(api, "clerk-lf")
    assert right_but_locked.status == 429 and right_but_locked.headers["Retry-After"] == "30"
    other_user, _ = await sign_in(api, "dept-zj")
    assert other_user.status == 200  # the lock is the user's, not the address's

    api.tick(seconds=31)
    sixth, body = await sign_in(api, "clerk-lf", "wrong-password")
    assert sixth.status == 429 and sixth.headers["Retry-After"] == "120"
    api.tick(seconds=121)
    seventh, _ = await sign_in(api, "clerk-lf", "wrong-password")
    assert seventh.status == 429 and seventh.headers["Retry-After"] == "240"

    locked = [r for r in caplog.records if getattr(r, "action", "") == "user.locked_out"]
    assert [(r.target, r.levelname) for r in locked] == [("clerk-lf", "WARNING")] * 3

    api.tick(seconds=241)
    right, _ = await sign_in(api, "clerk-lf")
    assert right.status == 200
    again, _ = await sign_in(api, "clerk-lf", "wrong-password")
    assert again.status == 401  # a success starts the count afresh


async def test_a_session_lasts_while_used_and_ends_after_30_idle_minutes(api):
    await give_password(api, "clerk-lf")
    browser = await signed_in(api, "clerk-lf")
    for _ in range(3):
        api.tick(minutes=29)
        status, _, _ = await browser.call("GET", "/api/v1/me")
        assert status == 200
    api.tick(minutes=30)
    status, body, _ = await browser.call("GET", "/api/v1/me")
    assert status == 401 and body["title"] == "登录已过期，请重新登录"


async def test_a_session_ends_after_12_hours_even_when_used_all_the_time(api):
    await give_password(api, "clerk-lf")
    browser = await signed_in(api, "clerk-lf")
    for _ in range(47):
        api.tick(minutes=15)
        status, _, _ = await browser.call("GET", "/api/v1/me")
        assert status == 200
    api.tick(minutes=15)
    status, _, _ = await browser.call("GET", "/api/v1/me")
    assert status == 401


async def test_logout_ends_the_session_and_clears_both_cookies(api):
    await give_password(api, "clerk-lf")
    browser = await signed_in(api, "clerk-lf")
    status, body, response = await browser.call("DELETE", "/api/v1/session")
    assert status == 200 and body == {"signed_out": True}
    cleared: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie"):
        cleared.load(header)
    assert cleared["handoff_session"].value == "" and cleared["handoff_csrf"].value == ""
    status, body, _ = await browser.call("GET", "/api/v1/me")
    assert status == 401 and body["title"] == "登录已过期，请重新登录"


async def test_a_state_changing_request_on_the_cookie_needs_the_csrf_token_and_a_bearer_token_does_not(api):
    await give_password(api, "clerk-lf")
    browser = await signed_in(api, "clerk-lf")
    status, body, _ = await browser.call("POST", "/api/v1/cases", registration(), csrf=None)
    assert status == 403 and body["title"] == "请求缺少有效的防伪校验（CSRF），请刷新页面后重试"
    status, body, _ = await browser.call("POST", "/api/v1/cases", registration(), csrf="x" * 43)
    assert status == 403 and body["type"] == "csrf_failed"
    async with api.container.engine.connect() as conn:
        assert (await conn.execute(select(t.cases.c.id))).first() is None  # nothing registered

    status, case, _ = await browser.call("POST", "/api/v1/cases", registration())
    assert status == 201, case
    status, _, _ = await browser.call("GET", f"/api/v1/cases/{case['id']}", csrf=None)
    assert status == 200  # reading needs no CSRF token

    bearer = await api.client.post("/api/v1/cases", json=registration(), headers=api.auth("clerk-lf"))
    assert bearer.status == 201  # devices and integrations: no cookie, no CSRF


async def test_a_user_changes_their_password_and_their_other_sessions_end(api):
    await give_password(api, "clerk-lf")
    here = await signed_in(api, "clerk-lf")
    elsewhere = await signed_in(api, "clerk-lf")
    change = "/api/v1/session/password"
    status, body, _ = await here.call("POST", change, {"old_password": "wrong-one!", "new_password": "a-new-secret-1"})
    assert status == 422 and body["title"] == "原密码不正确"
    status, body, _ = await here.call("POST", change, {"old_password": PASSWORD, "new_password": "short"})
    assert status == 422 and body["title"] == "新密码至少 10 个字符"
    status, body, _ = await here.call("POST", change, {"old_password": PASSWORD, "new_password": "clerk-lf  "})
    assert status == 422 and body["title"] == "新密码不能与用户名相同"

    status, body, _ = await here.call("POST", change, {"old_password": PASSWORD, "new_password": "海丰-new-secret"})
    assert status == 200 and body == {"changed": True}
    assert (await here.call("GET", "/api/v1/me"))[0] == 200
    assert (await elsewhere.call("GET", "/api/v1/me"))[0] == 401
    assert (await sign_in(api, "clerk-lf"))[0].status == 401
    assert (await sign_in(api, "clerk-lf", "海丰-new-secret"))[0].status == 200


async def test_an_admin_resets_a_password_to_a_one_time_one_that_must_be_changed_and_the_reset_is_audited(api, caplog):
    caplog.set_level(logging.INFO, logger="handoff.audit")
    await give_password(api, "clerk-lf")
    before = await signed_in(api, "clerk-lf")
    refused = await api.client.post("/api/v1/admin/users/clerk-lf/password", headers=api.auth("supervisor"))
    assert refused.status == 403
    response = await api.client.post("/api/v1/admin/users/clerk-lf/password", headers=api.auth("admin"))
    reset = await response.json()
    assert response.status == 200 and reset["must_change"] is True and len(reset["password"]) >= 10
    audited = [r for r in caplog.records if getattr(r, "action", "") == "user.password_reset"]
    assert [(r.actor, r.target) for r in audited] == [("admin", "clerk-lf")]
    assert reset["password"] not in caplog.text
    assert (await before.call("GET", "/api/v1/me"))[0] == 401  # the reset signs the user out everywhere

    assert (await sign_in(api, "clerk-lf"))[0].status == 401
    response, body = await sign_in(api, "clerk-lf", reset["password"])
    assert response.status == 200 and body["must_change_password"] is True
    browser = await signed_in(api, "clerk-lf", reset["password"])
    status, body, _ = await browser.call("GET", "/api/v1/staff?role=courier")
    assert status == 403 and body["type"] == "password_change_required"
    assert (await browser.call("GET", "/api/v1/me"))[0] == 200
    status, _, _ = await browser.call(
        "POST", "/api/v1/session/password", {"old_password": reset["password"], "new_password": "陆丰-my-own-pass"}
    )
    assert status == 200
    assert (await browser.call("GET", "/api/v1/staff?role=courier"))[0] == 200
    missing = await api.client.post("/api/v1/admin/users/nobody/password", headers=api.auth("admin"))
    assert missing.status == 404


async def test_demo_seeding_gives_the_demo_password_only_to_demo_users_without_one(api):
    await give_password(api, "clerk-lf")
    async with api.container.engine.begin() as conn:
        first = await start_demo(conn, api.clock.now())
    assert "clerk-lf" not in first.given_now and "dept-zj" in first.given_now
    assert first.password == DEMO_PASSWORD
    assert (await sign_in(api, "clerk-lf"))[0].status == 200
    assert (await sign_in(api, "clerk-lf", DEMO_PASSWORD))[0].status == 401
    assert (await sign_in(api, "dept-zj", DEMO_PASSWORD))[0].status == 200

    browser = await signed_in(api, "dept-zj", DEMO_PASSWORD)
    status, _, _ = await browser.call(
        "POST", "/api/v1/session/password", {"old_password": DEMO_PASSWORD, "new_password": "住建局-changed-it"}
    )
    assert status == 200
    async with api.container.engine.begin() as conn:
        second = await start_demo(conn, api.clock.now())
    assert second.given_now == []
    assert (await sign_in(api, "dept-zj", DEMO_PASSWORD))[0].status == 401
    assert (await sign_in(api, "dept-zj", "住建局-changed-it"))[0].status == 200
