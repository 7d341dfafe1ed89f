"""OpenAPI 3.1 from the route table (api/routing.py)."""

from __future__ import annotations

from typing import Any

from api.routing import Route

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string", "description": "中文说明，给人看"},
        "status": {"type": "integer"},
        "missing": {"type": "array", "items": {"type": "string"}},
        "errors": {"type": "array", "items": {"type": "object"}},
        "state": {"type": "string"},
        "command": {"type": "string"},
    },
}

ERROR_TITLES = {
    400: "请求有误（JSON 或编码无效）",
    401: "需要登录",
    403: "无权执行",
    404: "未找到或不在权限范围内",
    409: "与当前状态冲突",
    413: "请求体过大",
    422: "内容无法处理",
    429: "请求过于频繁（Retry-After 秒后再试）",
    503: "服务暂不可用（数据库或消息队列无法连接；Retry-After 秒后再试）",
}


FILE_HEADERS = {
    "Content-Disposition": {
        "description": "attachment，中文文件名（RFC 5987 filename*）及 ASCII 文件名",
        "schema": {"type": "string"},
    },
    "Cache-Control": {"description": "no-store：文书含个人信息，不得缓存", "schema": {"type": "string"}},
}


def build_spec(routes: list[Route]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in routes:
        op: dict[str, Any] = {
            "operationId": route.handler.__name__,
            "summary": route.summary,
            "tags": [route.tag],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
                for name in route.path_params
            ]
            + [
                {"name": name, "in": "query", "required": name in route.required_query, "schema": schema}
                for name, schema in route.query.items()
            ],
            "responses": {},
        }
        if route.idempotent:
            op["parameters"].append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                }
            )
        if route.roles is not None:
            op["security"] = [{"bearer": []}]
            op["description"] = "角色：" + "、".join(sorted(r.value for r in route.roles))
        else:
            op["security"] = []
        if route.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
        elif route.raw_body:
            op["requestBody"] = {"required": True, "content": {"*/*": {"schema": {}}}}
        content: dict[str, Any]
        if route.files:
            content = {media: {"schema": {"type": "string", "format": "binary"}} for media in route.files}
        elif route.content_type == "application/json":
            content = {"application/json": {"schema": route.response or {}}}
        elif route.content_type == "*/*":
            content = {"*/*": {"schema": {}}}
        else:
            content = {route.content_type: {"schema": {"type": "string", "format": "binary"}}}
        op["responses"][str(route.status)] = {"description": route.summary, "content": content}
        if route.files:
            op["responses"][str(route.status)]["headers"] = FILE_HEADERS
        codes = {404, 422, 429, 503} | route.errors
        if route.body is not None:
            codes |= {400, 413}
        if route.roles is not None:
            codes |= {401, 403}
        if route.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.add(409)
        for code in sorted(codes):
            op["responses"][str(code)] = {
                "description": ERROR_TITLES[code],
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Handoff API",
            "version": "1.0.0",
            "description": (
                "异地代收窗口、属地审批部门、快递员、申请人与监管人员使用的接口。"
                "错误为 application/problem+json，title 为中文。"
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
