"""The aiohttp application: one ``create_app(container)`` in production and in tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from adapters.db import files as db_files
from adapters.db import queries
from adapters.db.admin import Conflict, UnknownReference
from adapters.db.repositories import ConcurrentUpdate
from adapters.logistics.internal import NAME as INTERNAL_CARRIER
from api import jsontext
from api import sessions as sessions  # session cookies in authenticate
from api.auth import Principal, Role, Scope
from api.authority import (
    Authority,
    can_read_case,
    can_read_package,
    check_case,
    check_package,
    check_result_courier,
)
from api.container import Container
from api.keys import CONTAINER, METRICS
from api.openapi import build_spec
from api.outages import DEPENDENCY_ZH, RETRY_AFTER_SECONDS, unavailable
from api.outages import TITLE as UNAVAILABLE
from api.pages import add_page_routes
from api.problems import HTTP_TITLES, Problem, problem_response
from api.qr_pages import add_qr_routes
from api.ratelimit import LIMITER, RateLimiter, rate_limit
from api.routes import API
from api.routing import Ctx, Route, parse_query, printable, read_json, read_limited, request_hash
from handoff.codes import hash_token
from handoff.errors import CodeRejected, DomainError, IllegalTransition, InvalidInput, MissingMaterials
from handoff.services import NotFound
from labels.from_domain import NotApplicable

log = logging.getLogger("handoff.api")

MAX_BODY = 4 * 1024 * 1024
BLOB_CLOCK_SKEW = timedelta(minutes=5)
"""How far another replica's clock may lag: a custody event referencing a blob stored by a failed
request is searched from the request's start less this margin."""


def domain_problem(exc: DomainError) -> web.Response:
    if isinstance(exc, MissingMaterials):
        return problem_response(422, exc.title, type="missing_materials", missing=list(exc.missing))
    if isinstance(exc, IllegalTransition):
        return problem_response(409, exc.title, type="illegal_transition", state=exc.state, command=exc.command)
    if isinstance(exc, NotFound):
        return problem_response(404, exc.title, type="not_found")
    if isinstance(exc, NotApplicable):
        return problem_response(409, exc.title, type=exc.code)
    if isinstance(exc, ConcurrentUpdate):
        return problem_response(409, exc.title, type="concurrent_update")
    if isinstance(exc, Conflict):
        return problem_response(409, exc.title, type="conflict")
    if isinstance(exc, UnknownReference):
        return problem_response(
            422, exc.title, type="unknown_reference", errors=[{"field": exc.field, "message": exc.title}]
        )
    if isinstance(exc, CodeRejected):
        return problem_response(422, exc.title, type="code_rejected")
    if isinstance(exc, InvalidInput):
        return problem_response(422, exc.title, type="invalid_input")
    return problem_response(422, exc.title, type=exc.code)


KEPT_HEADERS = ("Allow", "Retry-After")
"""Headers of a raised HTTP exception that its problem+json keeps (405's Allow, 429's Retry-After)."""


@web.middleware
async def problems(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as exc:
        extra = {k: v for k, v in exc.problem.items() if k not in ("title", "status")}
        return keep_headers(exc, problem_response(exc.status_code, exc.problem["title"], **extra))
    except DomainError as exc:
        return domain_problem(exc)
    except web.HTTPRequestEntityTooLarge:
        return problem_response(413, HTTP_TITLES[413])
    except web.HTTPException as exc:
        if exc.status_code < 400:
            raise
        return keep_headers(exc, problem_response(exc.status_code, HTTP_TITLES.get(exc.status_code, "请求失败")))
    except asyncio.CancelledError:
        if client_gone(request):
            log.info("client disconnected", extra={"path": request.path, "method": request.method})
        raise
    except Exception as exc:
        return unexpected(request, exc)


def keep_headers(exc: web.HTTPException, response: web.Response) -> web.Response:
    for name in KEPT_HEADERS:
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def unexpected(request: web.Request, exc: Exception) -> web.StreamResponse:
    """What no handler answered: a client that hung up (INFO, nobody to answer), a database or
    broker out of reach (503 with Retry-After), or our bug (500, logged with its traceback)."""
    where = {"path": request.path, "method": request.method}
    if isinstance(exc, ConnectionResetError) and client_gone(request):
        log.info("client disconnected: %s", exc, extra=where)
        return web.Response(status=499)  # never read: the connection is gone
    dependency = unavailable(exc)
    if dependency is not None:
        log.warning("%s unavailable: %s: %s", dependency, type(exc).__name__, exc, extra=where)
        response = problem_response(
            503,
            UNAVAILABLE,
            type="dependency_unavailable",
            dependency=dependency,
            detail=f"{DEPENDENCY_ZH[dependency]}暂时无法连接",
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    log.exception("unhandled error", extra=where)
    return problem_response(500, HTTP_TITLES[500])


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Answers of the API carry personal data: no cache may keep them, no browser may sniff them
    into something else. The published spec may be cached."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith("/api/v1/") and request.path != "/api/v1/openapi.json":
        response.headers.setdefault("Cache-Control", "no-store")


async def authenticate(request: web.Request, container: Container) -> Principal | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return await sessions.from_cookie(request, container)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "访问令牌格式不对，应为 Authorization: Bearer <令牌>")
    token_hash = hash_token(token)
    cache = container.principals
    cached = cache.get(token_hash)
    if cached is not None:
        principal, expires_at = cached.principal, cached.expires_at
    else:
        generation = cache.generation
        async with container.engine.connect() as conn:
            owner = await queries.token_owner(conn, token_hash)
        if owner is None:
            raise Problem(401, "访问令牌无效或已吊销")
        principal = Principal(
            user_id=owner.user_id, name=owner.name, role=Role(owner.role), scope=Scope.parse(owner.scope)
        )
        expires_at = owner.expires_at
        cache.put(token_hash, principal, expires_at, generation)
    if expires_at <= container.deps.clock.now():
        raise Problem(401, "访问令牌已过期")
    return principal


def endpoint(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        container = request.app[CONTAINER]
        principal = await authenticate(request, container) if route.roles is not None else None
        if route.roles is not None:
            if principal is None:
                raise Problem(401, HTTP_TITLES[401])
            if principal.role not in route.roles:
                raise Problem(403, f"{HTTP_TITLES[403]}（需要角色：{'、'.join(sorted(r.value for r in route.roles))}）")
        if not all(printable(v) for v in request.match_info.values()):
            raise Problem(404, "未找到")
        query = parse_query(route, request.query)
        idem_key = request.headers.get("Idempotency-Key") if route.idempotent else None
        raw = await request.read() if route.body is not None else b""
        if idem_key is not None and not 1 <= len(idem_key) <= 200:
            raise Problem(400, "Idempotency-Key 长度应为 1–200 个字符")
        body = await read_json(request, route)
        if route.raw_body and route.unit:
            # An upload is read before its unit of work begins: a slow client never holds a
            # database connection (SQLite has one) while its file trickles in.
            body = await read_limited(request, container.material_max_bytes)
            if route.prepare is not None:
                body = await route.prepare(container, body)
        regions: dict[str, str] = {}
        if principal is not None and not principal.scope.everything:
            regions = await container.office_regions()
        ctx = Ctx(
            request=request,
            principal=principal,
            body=body,
            query=query,
            path=dict(request.match_info),
            office_regions=regions,
        )
        if not route.unit:
            return _json_answer(await route.handler(ctx), route.status)
        fingerprint = request_hash(request.method.encode() + request.path.encode() + b"\n" + raw)
        return await _in_one_unit(ctx, route, container, idem_key, fingerprint)

    return handle


JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def _json_answer(result: Any, status: int, replayed: bool = False) -> web.StreamResponse:
    """A handler's answer: a response as it is, stored JSON text (a replay) or encoded bytes as
    they are, anything else encoded (api/jsontext.py)."""
    if isinstance(result, web.StreamResponse):
        return result
    if isinstance(result, str):
        body = result.encode()
    elif isinstance(result, bytes):
        body = result
    else:
        body = jsontext.dumps(result)
    headers = {"Content-Type": JSON_CONTENT_TYPE}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.Response(status=status, body=body, headers=headers)


async def _in_one_unit(
    ctx: Ctx, route: Route, container: Container, idem_key: str | None, fingerprint: str
) -> web.StreamResponse:
    """The request as one unit of work (DESIGN §10): the idempotency key reserved, the case or
    package of the path loaded once and checked for visibility (404) and authority (403), the
    command, the stored answer and the response built from what is committed — one transaction.
    A concurrent duplicate waits on the reserved key (PostgreSQL: the primary key's row lock;
    SQLite: its single connection) and then replays the answer; a refused command rolls back the
    reservation with everything else, so its retry runs again. Evidence the handler stored for a
    command that then did not commit is removed (``Ctx.new_blobs``), unless another request
    committed a reference to it meanwhile (adapters/db/files.discard_unreferenced).

    On a package's path the command's writes wait for its answer: the step and the stored answer
    are then one statement on PostgreSQL (adapters/db/package_step.py), flushed before the commit
    so that a refused write (409 concurrent_update) is a command that did not commit."""
    committing = False
    started = container.deps.clock.now()
    try:
        async with container.uow() as uow:
            ctx.unit = uow
            if idem_key is not None:
                who = ctx.who
                now = container.deps.clock.now()
                if "package_id" in ctx.path:  # the package comes with the reservation (PostgreSQL)
                    earlier = await queries.reserve_idempotency_key_loading_package(
                        uow, who.user_id, idem_key, fingerprint, now, ctx.path["package_id"]
                    )
                    # the step is written with the answer (a package's answer is built in memory)
                    uow.defer_inner_commits()
                else:
                    earlier = await queries.reserve_idempotency_key(uow.conn, who.user_id, idem_key, fingerprint, now)
                if earlier is not None:
                    return _replay(earlier, fingerprint)
            await _load_target(ctx, route, container)
            result = await route.handler(ctx)
            if isinstance(result, web.StreamResponse):
                await uow.flush()
                committing = True
                await uow.commit()
                return result
            body = jsontext.dumps(result)
            if idem_key is not None:
                uow.answer(ctx.who.user_id, idem_key, route.status, body.decode())
            await uow.flush()  # the effects and the answer; a refused write (409) rolls back the reservation
            committing = True
            await uow.commit()
    except BaseException:
        if not committing:
            for ref in ctx.new_blobs:
                # not if another request found it there meanwhile and committed a reference
                await db_files.discard_unreferenced(container.engine, container.blobs, ref, started - BLOB_CLOCK_SKEW)
        raise
    return _json_answer(body, route.status)


def _replay(earlier: tuple[str, int, str], fingerprint: str) -> web.StreamResponse:
    request_hash_, status, text = earlier
    if request_hash_ != fingerprint:
        raise Problem(422, "同一个 Idempotency-Key 已用于内容不同的请求", kind="idempotency_key_reused")
    if status == 0:  # reserved by a request still in flight (not reachable while reservations commit with answers)
        raise Problem(409, "相同的请求正在处理中，请稍后重试", headers={"Retry-After": "1"})
    return _json_answer(text, status, replayed=True)


async def _load_target(ctx: Ctx, route: Route, container: Container) -> None:
    """The case or package the path names: loaded once into ``ctx``, 404 outside the caller's
    scope, 403 outside the route's authority."""
    uow, who = ctx.uow, ctx.principal
    if who is None:
        return
    if "case_id" in ctx.path:
        case = await uow.cases.get(ctx.path["case_id"])
        if case is None or not can_read_case(who, case, ctx.office_regions):
            raise NotFound(f"办件 {ctx.path['case_id']} 不存在")
        ctx.case = case
        if route.authority is not None:
            check_case(route.authority, who, case, ctx.office_regions)
            if route.authority is Authority.RESULT_DELIVERY and who.role is Role.COURIER:
                packages = await uow.packages.for_case(case.id)
                check_result_courier(who, next((p for p in packages if p.id == case.result_package_id), None))
    elif "package_id" in ctx.path:
        package = await uow.packages.get(ctx.path["package_id"])
        if package is None or not can_read_package(who, package, ctx.office_regions):
            raise NotFound(f"材料包 {ctx.path['package_id']} 不存在")
        ctx.package = package
        if route.authority is not None:
            check_package(route.authority, who, package, ctx.office_regions, internal_carrier=INTERNAL_CARRIER)


async def _auth_listener(app: web.Application) -> AsyncIterator[None]:
    """PostgreSQL: listen for authority changes committed by any process (api/principals.py)."""
    principals = app[CONTAINER].principals
    task = asyncio.get_running_loop().create_task(principals.listen(app[CONTAINER].engine))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(principals.attempted.wait(), 5)
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(container: Container, registry: CollectorRegistry | None = None) -> web.Application:
    """``registry``: where the HTTP metrics go, shared with the workers of the same process."""
    app = web.Application(middlewares=[rate_limit, problems], client_max_size=MAX_BODY)
    app[CONTAINER] = container
    app.cleanup_ctx.append(_auth_listener)
    app[LIMITER] = RateLimiter(container.rate_limits)
    app.on_response_prepare.append(security_headers)
    registry = registry or CollectorRegistry()
    app[METRICS] = registry
    requests = Counter("handoff_http_requests_total", "HTTP requests", ["route", "status"], registry=registry)
    latency = Histogram("handoff_http_request_seconds", "HTTP latency", ["route"], registry=registry)
    # each (route, status)'s children looked up once: ``labels()`` takes a lock and builds keys
    # on every call (2 % of a case view's CPU); routes and statuses are a small, fixed set
    labelled: dict[tuple[str, int], tuple[Any, Any]] = {}

    @web.middleware
    async def measure(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        response = await handler(request)
        resource = request.match_info.route.resource
        name = resource.canonical if resource is not None else "unmatched"
        key = (name, response.status)
        children = labelled.get(key)
        if children is None:
            children = labelled[key] = (requests.labels(name, str(response.status)), latency.labels(name))
        children[0].inc()
        children[1].observe(time.perf_counter() - started)
        return response

    app.middlewares.insert(0, measure)
    for route in API.routes:
        app.router.add_route(route.method, route.path, endpoint(route))
    spec = build_spec(API.routes)

    async def openapi(_: web.Request) -> web.Response:
        return web.json_response(spec, dumps=lambda d: json.dumps(d, ensure_ascii=False))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        container = request.app[CONTAINER]
        checks: dict[str, Any] = {}
        ok = True
        for name, check in container.readiness.items():
            try:
                await asyncio.wait_for(check(), container.readiness_timeout_seconds)
                checks[name] = "ok"
            except Exception as exc:  # a readiness probe reports, it does not crash
                ok = False
                checks[name] = f"不可用：{type(exc).__name__}"
        return web.json_response(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status=200 if ok else 503,
            headers=None if ok else {"Retry-After": str(RETRY_AFTER_SECONDS)},
            dumps=lambda d: json.dumps(d, ensure_ascii=False),
        )

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(request.app[METRICS]), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    add_page_routes(app)
    add_qr_routes(app)
    return app
