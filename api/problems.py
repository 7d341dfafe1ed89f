"""RFC 9457 problem details with a Chinese ``title``: the only shape an error leaves the API in."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import jsontext

PROBLEM = "application/problem+json"
PROBLEM_CONTENT_TYPE = f"{PROBLEM}; charset=utf-8"


class Problem(web.HTTPException):
    """Raise anywhere in a handler; the middleware renders it."""

    def __init__(
        self,
        status: int,
        title: str,
        *,
        kind: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.status_code = status
        super().__init__(reason=None, headers=headers)
        self.problem: dict[str, Any] = {"type": kind, "title": title, "status": status, **extra}


def problem_response(status: int, title: str, *, headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    body = {"type": extra.pop("type", "about:blank"), "title": title, "status": status, **extra}
    return web.Response(
        status=status, body=jsontext.dumps(body), headers={**(headers or {}), "Content-Type": PROBLEM_CONTENT_TYPE}
    )


HTTP_TITLES = {
    400: "请求有误",
    401: "需要登录（缺少或无效的访问令牌）",
    403: "无权执行该操作",
    404: "未找到",
    405: "不支持该请求方法",
    409: "与当前状态冲突",
    411: "需要提供请求体长度",
    413: "请求体过大",
    415: "不支持的内容类型",
    422: "内容无法处理",
    429: "请求过于频繁",
    500: "服务器内部错误",
    503: "服务暂不可用",
}
