"""Declarative routes: each route states its roles, its request and response schemas and its
summary once; the same table builds the aiohttp router, validates requests, and writes the
OpenAPI 3.1 document — so the spec cannot drift from what the server does."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator, FormatChecker

from adapters.db.repositories import SqlUnitOfWork
from api.auth import Principal, Role
from api.authority import Authority
from api.problems import Problem
from handoff.case import Case
from handoff.package import Package

JSON = dict[str, Any]


@dataclass
class Ctx:
    request: web.Request
    principal: Principal | None
    body: Any
    query: dict[str, str]
    path: dict[str, str]
    office_regions: dict[str, str] = field(default_factory=dict)
    """office id → region code, read before the handler runs (scope checks need it)."""
    unit: SqlUnitOfWork | None = None
    """The request's unit of work (routes declared with ``unit=True``): one transaction for the
    idempotency key, the visibility and authority checks, the command and the answer."""
    case: Case | None = None
    """The case named by the path's ``{case_id}``, loaded once, visible and within authority."""
    new_blobs: list[str] = field(default_factory=list)
    """Blobs this request stored that did not exist before: removed if its unit does not commit."""
    package: Package | None = None
    """The package named by the path's ``{package_id}``, loaded once, visible and within authority."""

    @property
    def uow(self) -> SqlUnitOfWork:
        if self.unit is None:
            raise RuntimeError("route declared without unit=True")
        return self.unit

    @property
    def who(self) -> Principal:
        if self.principal is None:
            raise Problem(401, "需要登录（缺少或无效的访问令牌）")
        return self.principal

    def date(self, name: str) -> date | None:
        value = self.body.get(name) if isinstance(self.body, dict) else None
        return date.fromisoformat(value) if value else None


Handler = Callable[[Ctx], Awaitable[Any]]


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    roles: frozenset[Role] | None
    body: JSON | None = None
    response: JSON | None = None
    status: int = 200
    query: dict[str, JSON] = field(default_factory=dict)
    required_query: frozenset[str] = frozenset()
    idempotent: bool = False
    content_type: str = "application/json"
    public_errors: tuple[int, ...] = ()
    raw_body: bool = False
    """The body is the provider's own format (form, XML or JSON), read and verified by the adapter."""
    files: tuple[str, ...] = ()
    """A file download: the media types it answers with (PDF, XLSX, CSV), as an attachment."""
    errors: frozenset[int] = frozenset()
    """Problem statuses it answers beyond the ones every route of its kind has (e.g. 409 on a GET,
    503 when a service is missing), for the spec."""
    unit: bool = False
    """The request runs as one unit of work (``Ctx.uow``); idempotent routes must."""
    authority: Authority | None = None
    """Whose office the action needs (api/authority.py), checked on the case or package of the
    path before the handler runs; None for routes that check it themselves or only read."""

    def __post_init__(self) -> None:
        if self.idempotent and not self.unit:
            raise ValueError(f"{self.method} {self.path}: an idempotent route must run as one unit of work")
        if self.authority is not None and not self.unit:
            raise ValueError(f"{self.method} {self.path}: authority is checked inside the unit of work")
        self.validator = Draft202012Validator(self.body, format_checker=FormatChecker()) if self.body else None

    @property
    def path_params(self) -> list[str]:
        return [p.strip("{}") for p in self.path.split("/") if p.startswith("{")]


class Api:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        roles: set[Role] | None,
        body: JSON | None = None,
        response: JSON | None = None,
        status: int = 200,
        query: dict[str, JSON] | None = None,
        required_query: set[str] | None = None,
        idempotent: bool = False,
        content_type: str = "application/json",
        raw_body: bool = False,
        files: tuple[str, ...] = (),
        errors: set[int] | None = None,
        unit: bool = False,
        authority: Authority | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    tag=tag,
                    roles=frozenset(roles) if roles is not None else None,
                    body=body,
                    response=response,
                    status=status,
                    query=query or {},
                    required_query=frozenset(required_query or ()),
                    idempotent=idempotent,
                    content_type=content_type,
                    raw_body=raw_body,
                    files=files,
                    errors=frozenset(errors or ()),
                    unit=unit,
                    authority=authority,
                )
            )
            return handler

        return register


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def read_json(request: web.Request, route: Route) -> Any:
    """Read, decode and validate the body; every failure is a 4xx problem."""
    if route.body is None:
        return None
    raw = await request.read()
    if not raw:
        raise Problem(400, "请求体不能为空，需要 JSON 对象")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, "请求体不是有效的 UTF-8 文本") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Problem(400, f"请求体不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列") from exc
    if _has_nul(data):
        raise Problem(422, "请求内容含有不允许的控制字符（U+0000）")
    assert route.validator is not None
    errors = sorted(route.validator.iter_errors(data), key=lambda e: list(e.path))
    if errors:
        raise Problem(
            422,
            "请求内容不符合要求：" + _describe(errors[0]),
            errors=[
                {"field": "/".join(str(p) for p in e.path) or "(根)", "message": _describe(e)} for e in errors[:20]
            ],
        )
    return data


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def printable(value: str, limit: int = 128) -> bool:
    """Ids and query values are printable and short; anything else cannot name an object (and
    must not reach SQL: PostgreSQL refuses NUL in text)."""
    return 0 < len(value) <= limit and all(ch.isprintable() for ch in value)


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.path) or "请求体"
    validator = error.validator
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"{where} 缺少必填字段 {missing}"
    if validator == "type":
        return f"{where} 的类型不对（应为 {error.validator_value}）"
    if validator == "enum":
        return f"{where} 的取值不在允许范围内：{', '.join(map(str, error.validator_value))}"
    if validator in ("minLength", "minItems"):
        return f"{where} 不能为空"
    if validator in ("maxLength", "maxItems"):
        return f"{where} 过长"
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{where} 超出允许范围"
    if validator == "format":
        return f"{where} 的格式不对（应为 {error.validator_value}）"
    if validator == "pattern":
        return f"{where} 的格式不对"
    if validator == "additionalProperties":
        return f"{where} 含有未知字段"
    return f"{where} 无效"


# --------------------------------------------------------------------------- schema helpers


def obj(required: list[str] | None = None, /, extra: bool = False, **props: JSON) -> JSON:
    schema: JSON = {"type": "object", "properties": props, "additionalProperties": extra}
    if required:
        schema["required"] = required
    return schema


def text(max_length: int = 200, min_length: int = 1) -> JSON:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


def nullable(schema: JSON) -> JSON:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: JSON, max_items: int = 200, min_items: int = 0) -> JSON:
    return {"type": "array", "items": items, "maxItems": max_items, "minItems": min_items}


def enum(values: list[str]) -> JSON:
    return {"type": "string", "enum": values}


DATE: JSON = {"type": "string", "format": "date"}
DATETIME: JSON = {"type": "string", "format": "date-time"}
INT: JSON = {"type": "integer"}
NUMBER: JSON = {"type": "number"}
BOOL: JSON = {"type": "boolean"}
STR: JSON = {"type": "string"}
