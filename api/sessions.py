"""Staff sign in with a user name and a password into a session (DESIGN §12); devices and
integrations keep their bearer tokens (api/app.py ``authenticate`` takes either).

- The session cookie ``handoff_session`` is 256 random bits; only its SHA-256 is stored. It is
  HttpOnly, SameSite=Strict, Secure when the request came over TLS or the public address is https.
  A session ends after ``Container.session_idle_minutes`` without a request, after 12 hours in any
  case, at logout, and when its user's password changes elsewhere.
- CSRF: every state-changing request that the cookie authenticates carries the ``handoff_csrf``
  cookie's value in the ``X-CSRF-Token`` header (double submit, compared in constant time). A
  request with a bearer token is not exposed to CSRF (no browser sends it by itself) and is exempt.
- Lock-out: after 5 consecutive failed sign-ins a user is locked for 1 minute, and each further
  failure doubles it up to 1 hour (429 with Retry-After) — per user, whatever the address; the
  per-address limits of api/ratelimit.py apply as well.
- A password set by an admin is one-time: its session may only change it (or sign out).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from adapters.db import sessions as db
from adapters.passwords import hash_password, verify_password
from api.auth import ROLE_ZH, Principal, Role, Scope
from api.container import Container
from api.problems import Problem
from api.routes.common import API, COURIER, STAFF, container
from api.routing import BOOL, STR, Ctx, obj

audit_log = logging.getLogger("handoff.audit")

COOKIE = "handoff_session"
CSRF_COOKIE = "handoff_csrf"
CSRF_HEADER = "X-CSRF-Token"
LONGEST = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=30)
"""A session's last use is written at most this often (idle expiry needs no finer grain)."""
FREE_FAILURES = 5
FIRST_LOCK_SECONDS = 60
LONGEST_LOCK_SECONDS = 3600
MIN_PASSWORD = 10
MAX_PASSWORD = 200
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WHILE_MUST_CHANGE = frozenset(
    {("GET", "/api/v1/me"), ("DELETE", "/api/v1/session"), ("POST", "/api/v1/session/password")}
)
TAG = "登录"
WRONG = "用户名或密码不正确"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lock_seconds(failures: int) -> int:
    """How long FAILURES consecutive failures lock the user: none before the 5th, then 1 minute,
    doubling with each further failure, at most 1 hour."""
    if failures < FREE_FAILURES:
        return 0
    return int(min(FIRST_LOCK_SECONDS << min(failures - FREE_FAILURES, 12), LONGEST_LOCK_SECONDS))


def secure(request: web.Request, c: Container) -> bool:
    return request.secure or c.public_base_url.lower().startswith("https://")


def locked_problem(until: datetime, now: datetime) -> Problem:
    wait = max(1, math.ceil((until - now).total_seconds()))
    minutes = math.ceil(wait / 60)
    return Problem(
        429,
        f"登录失败次数过多，账号已暂时锁定，请 {minutes} 分钟后再试",
        kind="locked_out",
        retry_after=wait,
        headers={"Retry-After": str(wait)},
    )


async def from_cookie(request: web.Request, c: Container) -> Principal | None:
    """The principal of the request's session cookie; None without one. A state-changing
    request must echo the CSRF cookie in X-CSRF-Token (403 otherwise)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    hashed, now = token_hash(token), c.deps.clock.now()
    async with c.engine.connect() as conn:
        owner = await db.session_owner(conn, hashed)
    idle = timedelta(minutes=c.session_idle_minutes)
    if owner is None or now >= owner.expires_at or now >= owner.last_seen_at + idle:
        raise Problem(401, "登录已过期，请重新登录", kind="session_expired")
    if request.method not in SAFE_METHODS:
        sent, kept = request.headers.get(CSRF_HEADER, ""), request.cookies.get(CSRF_COOKIE, "")
        if not sent or not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
            raise Problem(403, "请求缺少有效的防伪校验（CSRF），请刷新页面后重试", kind="csrf_failed")
    if owner.must_change and (request.method, request.path) not in WHILE_MUST_CHANGE:
        raise Problem(403, "请先修改密码（管理员重置的密码只能使用一次）", kind="password_change_required")
    if now - owner.last_seen_at >= TOUCH_EVERY:
        async with c.engine.begin() as conn:
            await db.touch_session(conn, hashed, now)
    return Principal(user_id=owner.user_id, name=owner.name, role=Role(owner.role), scope=Scope.parse(owner.scope))


async def count_failure(c: Container, user_id: str, now: datetime) -> datetime | None:
    """A wrong password: one more failure, and the lock-out it earns (None: not locked yet)."""
    async with c.engine.begin() as conn:
        failures = await db.count_failure(conn, user_id)
        wait = lock_seconds(failures)
        if not wait:
            return None
        until = now + timedelta(seconds=wait)
        await db.lock(conn, user_id, until)
    audit_log.warning(
        "user.locked_out %s for %ss after %s failures",
        user_id,
        wait,
        failures,
        extra={"actor": user_id, "action": "user.locked_out", "target": user_id},
    )
    return until


def set_cookies(response: web.StreamResponse, request: web.Request, c: Container, token: str, csrf: str) -> None:
    common: dict[str, Any] = {"path": "/", "samesite": "Strict", "secure": secure(request, c)}
    max_age = int(LONGEST.total_seconds())
    response.set_cookie(COOKIE, token, httponly=True, max_age=max_age, **common)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, **common)


def clear_cookies(response: web.StreamResponse, request: web.Request, c: Container) -> None:
    for name in (COOKIE, CSRF_COOKIE):
        response.del_cookie(name, path="/", samesite="Strict", secure=secure(request, c))


def check_new_password(user_id: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Problem(422, f"新密码至少 {MIN_PASSWORD} 个字符", kind="weak_password")
    if password.strip().lower() == user_id.lower():
        raise Problem(422, "新密码不能与用户名相同", kind="weak_password")


SIGNED_IN = obj(
    ["user_id", "name", "role", "role_zh", "must_change_password", "csrf_token", "idle_minutes"],
    user_id=STR,
    name=STR,
    role=STR,
    role_zh=STR,
    must_change_password=BOOL,
    csrf_token=STR,
    idle_minutes={"type": "integer"},
)
PASSWORD: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_PASSWORD}


@API.route(
    "POST",
    "/api/v1/session",
    summary="用用户名和密码登录：设置会话 Cookie（HttpOnly）和防伪校验 Cookie handoff_csrf；连续失败 5 次起暂时锁定",
    tag=TAG,
    roles=None,
    body=obj(["user_id", "password"], user_id={"type": "string", "minLength": 1, "maxLength": 64}, password=PASSWORD),
    response=SIGNED_IN,
    errors={401, 429},
)
async def sign_in(ctx: Ctx) -> web.StreamResponse:
    c, now = container(ctx), container(ctx).deps.clock.now()
    user_id, password = ctx.body["user_id"].strip(), ctx.body["password"]
    async with c.engine.connect() as conn:
        found = await db.credential(conn, user_id)
    if found is not None and found.locked_until is not None and now < found.locked_until:
        raise locked_problem(found.locked_until, now)
    ok = await verify_password(found.password_hash if found else None, password)
    if found is None or not ok or not found.active:
        if found is not None and not ok:
            until = await count_failure(c, found.user_id, now)
            if until is not None:
                raise locked_problem(until, now)
        raise Problem(401, WRONG, kind="wrong_credentials")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    async with c.engine.begin() as conn:
        await db.clear_failures(conn, found.user_id)
        await db.forget_ended(conn, found.user_id, now)
        await db.open_session(conn, token_hash(token), found.user_id, now, now + LONGEST)
    role = Role(found.role)
    response = web.json_response(
        {
            "user_id": found.user_id,
            "name": found.name,
            "role": role.value,
            "role_zh": ROLE_ZH[role],
            "must_change_password": found.must_change,
            "csrf_token": csrf,
            "idle_minutes": c.session_idle_minutes,
        }
    )
    set_cookies(response, ctx.request, c, token, csrf)
    return response


@API.route(
    "DELETE",
    "/api/v1/session",
    summary="退出登录（结束本会话，清除 Cookie）",
    tag=TAG,
    roles=STAFF | COURIER,
    response=obj(["signed_out"], signed_out=BOOL),
)
async def sign_out(ctx: Ctx) -> web.StreamResponse:
    c = container(ctx)
    token = ctx.request.cookies.get(COOKIE)
    if token and "Authorization" not in ctx.request.headers:
        async with c.engine.begin() as conn:
            await db.end_session(conn, token_hash(token), c.deps.clock.now())
    response = web.json_response({"signed_out": True})
    clear_cookies(response, ctx.request, c)
    return response


@API.route(
    "POST",
    "/api/v1/session/password",
    summary=f"修改本人密码（原密码 + 新密码；新密码至少 {MIN_PASSWORD} 个字符且不同于用户名）；本人的其他会话随之结束",
    tag=TAG,
    roles=STAFF | COURIER,
    body=obj(["old_password", "new_password"], old_password=PASSWORD, new_password=PASSWORD),
    response=obj(["changed"], changed=BOOL),
    errors={409, 422, 429},
)
async def change_password(ctx: Ctx) -> dict[str, Any]:
    c, who, now = container(ctx), ctx.who, container(ctx).deps.clock.now()
    old, new = ctx.body["old_password"], ctx.body["new_password"]
    async with c.engine.connect() as conn:
        found = await db.credential(conn, who.user_id)
    if found is None:
        raise Problem(409, "该用户尚未设置密码，请联系管理员重置", kind="no_password")
    if found.locked_until is not None and now < found.locked_until:
        raise locked_problem(found.locked_until, now)
    if not await verify_password(found.password_hash, old):
        await count_failure(c, who.user_id, now)
        raise Problem(
            422, "原密码不正确", kind="wrong_password", errors=[{"field": "old_password", "message": "原密码不正确"}]
        )
    check_new_password(who.user_id, new)
    if new == old:
        raise Problem(422, "新密码不能与原密码相同", kind="weak_password")
    hashed = await hash_password(new)
    token = ctx.request.cookies.get(COOKIE) if "Authorization" not in ctx.request.headers else None
    async with c.engine.begin() as conn:
        await db.set_password(conn, who.user_id, hashed, must_change=False, at=now)
        await db.end_sessions(conn, who.user_id, now, keep=token_hash(token) if token else None)
    return {"changed": True}
