"""Declarative routes: each route states its roles, its request and response schemas and its
summary once; the same table builds the aiohttp router, validates requests, and writes the
OpenAPI 3.1 document — so the spec cannot drift from what the server does."""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
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
        self.validator = Draft202012Validator(self.body, format_checker=FORMATS) if self.body else None

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
    """Read, decode and validate the body; every failure is a 4xx problem. Strings come back
    NFC-normalised; control and format characters are refused (see ``clean_body``)."""
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
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise Problem(400, f"请求体不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列") from exc
    except RecursionError as exc:  # the C decoder gives up around a thousand levels
        raise Problem(400, TOO_DEEP) from exc
    except ValueError as exc:  # NaN or Infinity; an integer of more than 4,300 digits
        raise Problem(400, "请求体不是有效的 JSON：含有无效的数值") from exc
    if depth(data) > MAX_DEPTH:
        raise Problem(400, TOO_DEEP)
    data = clean_body(data)
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


# --------------------------------------------------------------------------- hostile input

MAX_DEPTH = 32
"""Nesting a JSON body may have: ours need four or five levels; deeper is an attack on the
recursive code that reads it (the validator, the decoder itself)."""
TOO_DEEP = f"请求体的 JSON 嵌套层数过多（最多 {MAX_DEPTH} 层）"

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
"""Every date or date-time a client sends lies between these: nothing this service records is
older, and a year 1 or 9999 only breaks the arithmetic (time zones, "the day after")."""
DAY_RANGE = f"{FIRST_DAY.isoformat()} 至 {LAST_DAY.isoformat()}"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII)

MULTILINE_FIELDS = frozenset(
    {"reason", "opinion", "note", "notes", "remark", "remarks", "comment", "toml", "conditions"}
)
"""Free-text fields whose value may span lines (a line feed or a tab is allowed there)."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_day(value: str) -> date:
    """A ``format: date`` value: YYYY-MM-DD, a real day, within 2000-01-01…2100-12-31."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("应为日期 YYYY-MM-DD")
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError("不是有效的日期（YYYY-MM-DD）") from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"超出允许的日期范围（{DAY_RANGE}）")
    return day


def check_moment(value: str) -> datetime:
    """A ``format: date-time`` value: RFC 3339 with its offset, its local date within range (so
    that converting it to UTC cannot leave the calendar)."""
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise ValueError("应为带时区的时间，如 2026-03-02T09:30:00+08:00")
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "Zz" else value)
    except ValueError as exc:
        raise ValueError("不是有效的时间（RFC 3339，如 2026-03-02T09:30:00+08:00）") from exc
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise ValueError(f"超出允许的日期范围（{DAY_RANGE}）")
    return moment


FORMATS = FormatChecker()
FORMATS.checks("date", raises=ValueError)(check_day)
FORMATS.checks("date-time", raises=ValueError)(check_moment)


def depth(data: Any) -> int:
    """How deeply ``data`` nests lists and objects (a scalar is 0), without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, level)
        stack.extend((v, level + 1) for v in value if isinstance(v, (dict, list)))
    return deepest


_SPACES = re.compile("[\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_SPACES_AND_BREAKS = re.compile("[\n\t\u0020\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")


def forbidden_char(value: str, *, multiline: bool = False) -> str | None:
    """The first control (Cc) or format (Cf) character of ``value`` — U+0000, escape sequences,
    bidi overrides (U+202E), zero-width spaces (U+200B) … — or None; line feed and tab are text
    in a multi-line field. Fast for the usual string: ``isprintable`` runs in C."""
    if value.isprintable():
        return None
    rest = (_SPACES_AND_BREAKS if multiline else _SPACES).sub("", value)
    if rest.isprintable():
        return None
    return next((ch for ch in rest if unicodedata.category(ch) in ("Cc", "Cf")), None)


def clean_text(value: str, field: str, *, multiline: bool = False) -> str:
    """One free-text value as stored: NFC (one spelling of a name whatever the keyboard), CR LF as
    LF in multi-line text; a control or format character is refused with a 422 naming the field."""
    if multiline and "\r" in value:
        value = value.replace("\r\n", "\n")
    bad = forbidden_char(value, multiline=multiline)
    if bad is not None:
        raise Problem(
            422,
            f"{field} 含有不允许的控制字符或格式字符（U+{ord(bad):04X}），请删除后重试",
            type="invalid_characters",
            errors=[{"field": field, "message": "含有不允许的控制字符或格式字符"}],
        )
    return value if unicodedata.is_normalized("NFC", value) else unicodedata.normalize("NFC", value)


MAX_INT = 2**31 - 1
"""Integers a body may hold (counts, pages, days, sequence numbers): what a database column holds.
Numbers too large to be finite floats are refused as well."""


def _clean_scalar(value: Any, path: str, multiline: bool) -> Any:
    if isinstance(value, str):
        return clean_text(value, path, multiline=multiline)
    too_big = isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT
    if too_big or (isinstance(value, float) and not math.isfinite(value)):  # 1e400 reads as infinity
        raise Problem(422, f"{path or '请求体'} 超出允许范围", errors=[{"field": path, "message": "数值超出允许范围"}])
    return value


def clean_body(data: Any) -> Any:
    """Every string of a decoded body (keys too) through ``clean_text`` and every integer within
    ±``MAX_INT``, in place, without recursion; a field is multi-line by its name
    (``MULTILINE_FIELDS``), a list's items by the list's name."""
    if not isinstance(data, (dict, list)):
        return _clean_scalar(data, "", False)
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                name = clean_text(key, f"{where or '请求体'} 的字段名")
                value = node.pop(key)
                path = f"{where}/{name}".lstrip("/")
                if isinstance(value, (dict, list)):
                    stack.append((value, path))
                node[name] = _clean_scalar(value, path, name in MULTILINE_FIELDS)
        else:
            multiline = where.rsplit("/", 1)[-1] in MULTILINE_FIELDS
            for i, value in enumerate(node):
                path = f"{where}/{i}".lstrip("/")
                if isinstance(value, (dict, list)):
                    stack.append((value, path))
                node[i] = _clean_scalar(value, path, multiline)
    return data


def parse_query(route: Route, values: Mapping[str, str]) -> dict[str, str]:
    """The route's query parameters, checked against their schemas (integers and their range,
    enums, dates within range), printable and NFC; anything else is a 422 naming the parameter."""
    query: dict[str, str] = {}
    for name, schema in route.query.items():
        value = values.get(name)
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
        check = {"date": check_day, "date-time": check_moment}.get(schema.get("format", ""))
        if check is not None:
            try:
                check(value)
            except ValueError as exc:
                raise Problem(422, f"查询参数 {name} {exc}") from exc
        query[name] = unicodedata.normalize("NFC", value)
    return query


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
        if isinstance(error.cause, ValueError) and error.cause.args:
            return f"{where} {error.cause.args[0]}"
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
