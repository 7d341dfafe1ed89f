"""What a package's or a manifest's QR code opens outside the console (issue 17).

The codes print a URL (``{BASE}/P/…`` for a package, ``{BASE}/M/…`` for a 交接单, handoff/codes.py)
so that the console's scanner recognises them; a phone's camera or WeChat opens them as a page.
Without a signed-in session the page says, in Chinese, what the code is and that it is scanned in
the console — nothing about the package (no code, no case, no office). A member of staff signed
in on the same browser (the session cookie) is sent straight to the console's scan screen with
the code filled in (the courier's screen for a courier). A code that is not ours (wrong shape,
key or MAC) gets a 404 page."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from api.keys import CONTAINER
from api.pages import e, html_response, page
from api.problems import Problem
from api.sessions import from_cookie
from handoff.codes import PayloadKind
from handoff.errors import CodeRejected

WHAT = {
    PayloadKind.PACKAGE: (
        "材料包流转二维码",
        "这是政务服务申请材料包（或办理结果材料包）上的流转二维码，"
        "供代收窗口、快递员和审批部门在交接、签收时扫码登记。",
    ),
    PayloadKind.MANIFEST: (
        "交接单二维码",
        "这是材料包批量交接单上的二维码，供快递员和审批部门整批签收时扫码登记。",
    ),
}


def _explain(kind: PayloadKind, console_link: str) -> web.Response:
    title, what = WHAT[kind]
    body = (
        f"<header><p>政务服务 · 材料流转</p><h1>{e(title)}</h1></header>"
        f'<section class="card"><p>{e(what)}</p>'
        "<p>请工作人员登录“材料流转工作台”，使用其中的扫码功能扫描本码；"
        "用手机相机或微信直接扫码只能看到本说明。</p>"
        f'<p><a href="{e(console_link)}">工作人员登录工作台</a></p></section>'
        '<section class="card"><h2>申请人查询办件进度</h2><p class="muted">'
        "请打开收件时短信中的办件进度链接，或凭《申请材料接收通知书》向收件窗口查询。</p></section>"
    )
    return html_response(page(f"{title} · 材料流转", body))


def _refused() -> web.Response:
    body = (
        "<header><p>政务服务 · 材料流转</p><h1>二维码无效</h1></header>"
        '<section class="card"><p>这个二维码不是本系统签发的，或者内容不完整、已被改动。</p>'
        '<p class="muted">请核对材料包或交接单上的二维码，必要时请联系寄出单位。</p></section>'
    )
    return html_response(page("二维码无效 · 材料流转", body), status=404)


async def qr_landing(request: web.Request) -> web.StreamResponse:
    c = request.app[CONTAINER]
    kind_letter = request.match_info["kind"].upper()
    rest = request.match_info["rest"]
    payload = f"{c.signer.base_url}/{kind_letter}/{rest.upper()}"
    try:
        scanned = c.signer.verify(payload)
    except CodeRejected:
        return _refused()
    try:
        who = await from_cookie(request, c)
    except Problem:  # an expired session is no session: the page, not an error
        who = None
    screen = "courier" if who is not None and who.role.value == "courier" else "scan"
    link = f"/console#/{screen}/{quote(payload, safe='')}"
    if who is None:
        return _explain(scanned.kind, "/console")
    # written as is (an HTTPException would normalise the fragment and decode its %2F)
    return web.Response(
        status=303, headers={"Location": link, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


def add_qr_routes(app: web.Application) -> None:
    app.router.add_get("/{kind:[PMpm]}/{rest:[0-9A-Za-z.]{1,60}}", qr_landing)
