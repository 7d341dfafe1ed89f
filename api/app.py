"""The aiohttp application: one ``create_app(container)`` in production and in tests."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

import api.admin  # noqa: F401  (registers the admin and lead routes on API)
from adapters.db import queries
from adapters.db.admin import Conflict, UnknownReference
from adapters.db.repositories import ConcurrentUpdate
from api import custody_routes as custody_routes  # registers the checkpoint and custody report routes on API
from api.auth import Principal, Role, Scope
from api.container import Container
from api.openapi import build_spec
from api.pages import add_page_routes
from api.problems import HTTP_TITLES, Problem, problem_response
from api.routes import API
from api.routing import Ctx, Route, printable, read_json, request_hash
from handoff.codes import hash_token
from handoff.errors import CodeRejected, DomainError, IllegalTransition, InvalidInput, MissingMaterials
from handoff.services import NotFound
from labels.from_domain import NotApplicable

log = logging.getLogger("handoff.api")

CONTAINER: web.AppKey[Container] = web.AppKey("container", Container)
METRICS: web.AppKey[CollectorRegistry] = web.AppKey("metrics", CollectorRegistry)
MAX_BODY = 4 * 1024 * 1024


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


@web.middleware
async def problems(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as exc:
        extra = {k: v for k, v in exc.problem.items() if k not in ("title", "status")}
        return problem_response(exc.status_code, exc.problem["title"], **extra)
    except DomainError as exc:
        return domain_problem(exc)
    except web.HTTPRequestEntityTooLarge:
        return problem_response(413, HTTP_TITLES[413])
    except web.HTTPException as exc:
        if exc.status_code < 400:
            raise
        return problem_response(exc.status_code, HTTP_TITLES.get(exc.status_code, "请求失败"))
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return problem_response(500, HTTP_TITLES[500])


async def authenticate(request: web.Request, container: Container) -> Principal | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "访问令牌格式不对，应为 Authorization: Bearer <令牌>")
    async with container.engine.connect() as conn:
        owner = await queries.token_owner(conn, hash_token(token))
    if owner is None:
        raise Problem(401, "访问令牌无效或已吊销")
    return Principal(user_id=owner.user_id, name=owner.name, role=Role(owner.role), scope=Scope.parse(owner.scope))


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
        query = {}
        for name, schema in route.query.items():
            value = request.query.get(name)
            if value is None:
                if name in route.required_query:
                    raise Problem(422, f"缺少查询参数 {name}")
                continue
            if schema.get("type") == "integer":
                if not value.lstrip("-").isdigit():
                    raise Problem(422, f"查询参数 {name} 必须是整数")
                if not schema.get("minimum", -(10**9)) <= int(value) <= schema.get("maximum", 10**9):
                    raise Problem(422, f"查询参数 {name} 超出允许范围")
            if "enum" in schema and value not in schema["enum"]:
                raise Problem(422, f"查询参数 {name} 的取值无效")
            if not printable(value, 2000):
                raise Problem(422, f"查询参数 {name} 含有不允许的字符")
            query[name] = value
        idem_key = request.headers.get("Idempotency-Key") if route.idempotent else None
        raw = await request.read() if route.body is not None else b""
        if idem_key is not None:
            if not 1 <= len(idem_key) <= 200:
                raise Problem(400, "Idempotency-Key 长度应为 1–200 个字符")
            assert principal is not None
            fingerprint = request_hash(request.method.encode() + request.path.encode() + b"\n" + raw)
            async with container.engine.connect() as conn:
                earlier = await queries.idempotent_answer(conn, principal.user_id, idem_key)
            if earlier is not None:
                if earlier[0] != fingerprint:
                    raise Problem(409, "同一个 Idempotency-Key 已用于内容不同的请求")
                return web.Response(
                    status=earlier[1],
                    body=earlier[2].encode(),
                    content_type="application/json",
                    charset="utf-8",
                    headers={"Idempotent-Replayed": "true"},
                )
        body = await read_json(request, route)
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
        result = await route.handler(ctx)
        if isinstance(result, web.StreamResponse):
            return result
        text = json.dumps(result, ensure_ascii=False)
        if idem_key is not None and principal is not None:
            async with container.engine.begin() as conn:
                if await queries.idempotent_answer(conn, principal.user_id, idem_key) is None:
                    await queries.remember_answer(
                        conn, principal.user_id, idem_key, fingerprint, route.status, text, container.deps.clock.now()
                    )
        return web.Response(status=route.status, body=text.encode(), content_type="application/json", charset="utf-8")

    return handle


def create_app(container: Container, registry: CollectorRegistry | None = None) -> web.Application:
    """``registry``: where the HTTP metrics go, shared with the workers of the same process."""
    app = web.Application(middlewares=[problems], client_max_size=MAX_BODY)
    app[CONTAINER] = container
    registry = registry or CollectorRegistry()
    app[METRICS] = registry
    requests = Counter("handoff_http_requests_total", "HTTP requests", ["route", "status"], registry=registry)
    latency = Histogram("handoff_http_request_seconds", "HTTP latency", ["route"], registry=registry)

    @web.middleware
    async def measure(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        response = await handler(request)
        resource = request.match_info.route.resource
        name = resource.canonical if resource is not None else "unmatched"
        requests.labels(name, str(response.status)).inc()
        latency.labels(name).observe(time.perf_counter() - started)
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
        checks: dict[str, Any] = {}
        ok = True
        for name, check in request.app[CONTAINER].readiness.items():
            try:
                await check()
                checks[name] = "ok"
            except Exception as exc:  # a readiness probe reports, it does not crash
                ok = False
                checks[name] = f"不可用：{type(exc).__name__}"
        return web.json_response(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status=200 if ok else 503,
            dumps=lambda d: json.dumps(d, ensure_ascii=False),
        )

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(request.app[METRICS]), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    add_page_routes(app)
    return app
