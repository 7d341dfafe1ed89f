"""The two pages (DESIGN §1, §10).

- ``/t/{token}``: the applicant's tracking page, the link in every SMS. Server-rendered HTML, no
  script, one inline style sheet (allowed by its hash in a strict Content-Security-Policy), small
  enough for a slow phone; it shows the tracking view (masked name and phone, never the ID
  number) and, once the case is finished, a 好差评 form that works without JavaScript
  (post/redirect/get).
- ``/console``: the staff web console, static HTML + JS modules from ``api/static/console``
  that call the JSON API with the bearer token the user pastes in.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import mimetypes
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web

from api.container import Container
from api.keys import CONTAINER
from api.problems import Problem
from api.routes.tracking import rate_by_token, tracking_by_token
from api.routing import clean_text
from handoff.case import BAD_RATING_MAX
from handoff.errors import DomainError, IllegalTransition
from handoff.services import NotFound
from handoff.timeutil import local_text

log = logging.getLogger("handoff.pages")

STATIC = Path(__file__).parent / "static"
CONSOLE = STATIC / "console"
WEEKDAYS = "一二三四五六日"
SCORES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
DECIDED_STATES = (  # a decision was made: the clock shows the time it took
    "decided",
    "result_shipped",
    "ready_for_pickup",
    "delivered",
    "archived",
)
BEFORE_ACCEPTANCE = ("collected", "forwarded", "received", "supplement_requested")

# What the rating form's redirect may say: fixed codes, never text taken from the request.
RATING_ERRORS = {
    "score": "请选择 1 到 5 分中的一个评分。",
    "comment": "评价内容最多 500 个字，请删减后再提交。",
    "characters": "评价内容含有无法显示的控制字符，请删除后再提交。",
    "reason": f"评分为 {BAD_RATING_MAX} 分及以下（不满意）时，请写明不满意的原因，以便整改。",
    "rated": "该办件已经评价过，每个办件只能评价一次。",
    "early": "办件办结后才能评价。",
    "invalid": "评价未能提交，请检查后重试。",
}
MAX_COMMENT = 500


@cache
def _track_css() -> tuple[str, str]:
    css = (STATIC / "track.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return css, digest


def tracking_headers() -> dict[str, str]:
    """The token is the key to the page: keep it out of Referer headers, caches and search engines."""
    _, digest = _track_css()
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'self' data:; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Robots-Tag": "noindex, nofollow",
        "X-Content-Type-Options": "nosniff",
    }


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def day_zh(iso_date: str) -> str:
    d = date.fromisoformat(iso_date)
    return f"{d.year}年{d.month}月{d.day}日（星期{WEEKDAYS[d.weekday()]}）"


def time_zh(iso_time: str | None) -> str:
    return local_text(datetime.fromisoformat(iso_time)) if iso_time else ""


def page(title: str, body: str) -> str:
    css, _ = _track_css()
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex,nofollow">'
        '<link rel="icon" href="data:,">'
        f"<title>{e(title)}</title><style>{css}</style></head><body><main>{body}</main></body></html>"
    )


def html_response(text: str, status: int = 200) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/html", charset="utf-8", headers=tracking_headers())


def not_found_page() -> web.Response:
    body = (
        "<header><p>政务服务 · 办件进度</p><h1>链接无效或已失效</h1></header>"
        '<section class="card"><p>没有找到这个办件进度链接。请核对短信中的链接是否完整'
        "（可以长按短信中的链接直接打开）。</p>"
        '<p class="muted">如仍无法打开，请联系为您收件的政务服务窗口，凭收件时的《申请材料接收通知书》查询。</p>'
        "</section>"
    )
    return html_response(page("链接无效 · 办件进度", body), status=404)


# --------------------------------------------------------------------------- the tracking page


def clock_card(view: dict[str, Any]) -> str:
    clock, state = view.get("clock"), view["state"]
    if not clock:
        if state in BEFORE_ACCEPTANCE:
            text = "审批部门受理后开始计算办理时限，受理当天不计入。"
        elif view.get("closed_reason"):
            text = f"办件已终止：{e(view['closed_reason'])}"
        else:
            text = "本办件没有办理时限。"
        return f'<section class="card"><h2>办理时限</h2><p class="muted">{text}</p></section>'
    used, remaining, promised = clock["used"], clock["remaining"], clock["promised"]
    parts = ['<section class="card clock"><h2>办理时限</h2>']
    if view.get("due_date"):
        parts.append(f'<div class="due"><span>承诺办结日期</span><strong>{e(day_zh(view["due_date"]))}</strong></div>')
    if state not in DECIDED_STATES:
        parts.append(f'<progress max="{max(promised, 1)}" value="{min(max(used, 0), max(promised, 1))}"></progress>')
    if state in DECIDED_STATES:
        parts.append(f"<p>已办结，用时 <b>{used}</b> 个工作日（承诺 {promised} 个工作日）。</p>")
    elif remaining < 0:
        parts.append(
            f"<p>已用 <b>{used}</b> 个工作日，已超过承诺时限 <b>{-remaining}</b> 个工作日"
            f"（承诺 {promised} 个工作日）。</p>"
        )
    else:
        parts.append(
            f"<p>已用 <b>{used}</b> 个工作日 · 剩余 <b>{remaining}</b> 个工作日（承诺 {promised} 个工作日）</p>"
        )
    if clock.get("paused"):
        parts.append(
            '<p class="pause"><b>暂停计时</b>：办件正处于特殊环节，特殊环节所用时间不计入承诺时限，'
            "办结日期将相应顺延。</p>"
        )
    if clock.get("provisional"):
        reason = clock.get("provisional_reason") or "所需年份的节假日安排尚未公布"
        parts.append(f'<p class="muted">以上日期为暂定：{e(reason)}。公布后将重新计算。</p>')
    parts.append("</section>")
    return "".join(parts)


def package_card(view: dict[str, Any]) -> str:
    package = view.get("package")
    if not package:
        return ""
    rows = [f"<dt>材料包</dt><dd>{e(package['code'])}</dd>", f"<dt>状态</dt><dd>{e(package['state_zh'])}</dd>"]
    if package.get("waybill"):
        rows.append(f"<dt>运单号</dt><dd>{e(package['waybill'])}</dd>")
    if package.get("last_movement_at"):
        rows.append(f"<dt>更新时间</dt><dd>{e(time_zh(package['last_movement_at']))}</dd>")
    return f'<section class="card"><h2>材料在哪里</h2><dl>{"".join(rows)}</dl></section>'


def stages_card(view: dict[str, Any]) -> str:
    stages = view.get("stages") or []
    if not stages:
        return ""
    items = []
    for s in stages:
        end = e(s["end_on"]) if s.get("end_on") else "进行中"
        items.append(
            f'<li class="stage"><h3>{e(s["type_zh"])}</h3><p class="muted">{e(s["start_on"])} 至 {end}</p>'
            f"<dl><dt>原因</dt><dd>{e(s['reason'])}</dd><dt>法律依据</dt><dd>{e(s['legal_basis'])}</dd></dl></li>"
        )
    return (
        '<section class="card"><h2>特殊环节</h2><ul>'
        + "".join(items)
        + '</ul><p class="muted">依照《中华人民共和国行政许可法》第四十五条，特殊环节所需时间不计入承诺时限。</p>'
        "</section>"
    )


def safe_url(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    return url if url.startswith(("/", "https://", "http://")) and not url.startswith("//") else None


def notices_card(view: dict[str, Any]) -> str:
    notices = view.get("notices")
    if not isinstance(notices, list) or not notices:
        return ""
    items = []
    for notice in notices:
        if not isinstance(notice, dict):
            continue
        url = safe_url(notice.get("url"))
        title = e(notice.get("title") or "书面告知")
        items.append(f'<li><a href="{e(url)}">{title}</a></li>' if url else f"<li>{title}</li>")
    if not items:
        return ""
    return f'<section class="card"><h2>书面告知</h2><ul class="notices">{"".join(items)}</ul></section>'


def timeline_card(view: dict[str, Any]) -> str:
    entries = list(reversed(view.get("timeline") or []))
    items = "".join(
        f'<li><time datetime="{e(t["at"])}">{e(t.get("at_local") or time_zh(t["at"]))}</time><p>{e(t["text"])}</p></li>'
        for t in entries
    )
    return f'<section class="card"><h2>办理进度</h2><ol class="timeline">{items}</ol></section>'


def rating_card(view: dict[str, Any], token: str, flash: str = "", flash_ok: bool = True) -> str:
    """The rating, or the form; the form's redirect lands on #rating, so its message is shown here."""
    note = f'<p class="flash {"ok" if flash_ok else "bad"}" role="status">{e(flash)}</p>' if flash else ""
    rating = view.get("rating")
    if rating:
        stars = "★" * rating["score"] + "☆" * (5 - rating["score"])
        comment = f"<p>{e(rating['comment'])}</p>" if rating.get("comment") else ""
        return (
            f'<section class="card" id="rating"><h2>您的评价</h2>{note}'
            f'<p><span class="stars" aria-hidden="true">{stars}</span> '
            f"{rating['score']} 分 · {SCORES[rating['score']]}</p>{comment}</section>"
        )
    if not view.get("can_rate"):
        return f'<section class="card" id="rating"><h2>服务评价（好差评）</h2>{note}</section>' if note else ""
    choices = "".join(
        f'<label><input type="radio" name="score" value="{score}" required> {score} 分 · {label}</label>'
        for score, label in SCORES.items()
    )
    return (
        f'<section class="card" id="rating"><h2>服务评价（好差评）</h2>{note}'
        f'<form method="post" action="/t/{e(token)}/rating">'
        f'<fieldset class="scores"><legend>您对本次办理服务满意吗？</legend>{choices}</fieldset>'
        f'<label for="comment">评价内容（选填；不满意时请写明原因）</label>'
        f'<textarea id="comment" name="comment" rows="3" maxlength="{MAX_COMMENT}"></textarea>'
        '<button type="submit">提交评价</button></form></section>'
    )


def tracking_page(view: dict[str, Any], token: str, flash: str = "", flash_ok: bool = True) -> str:
    case_no = f"<p>受理编号 {e(view['case_no'])}</p>" if view.get("case_no") else ""
    header = (
        f"<header><p>政务服务 · 办件进度</p><h1>{e(view['matter_name'])}</h1>{case_no}"
        f'<span class="state">{e(view["state_zh"])}</span></header>'
    )
    applicant = (
        '<section class="card"><h2>申请人</h2><dl>'
        f"<dt>姓名</dt><dd>{e(view['applicant_name'])}</dd><dt>手机</dt><dd>{e(view['applicant_phone'])}</dd>"
        "</dl></section>"
    )
    footer = (
        "<footer>本页只显示脱敏后的个人信息。链接中含有您的查询凭证，请勿转发给他人。"
        "如有疑问，请联系为您收件的政务服务窗口。</footer>"
    )
    body = "".join(
        [
            header,
            clock_card(view),
            package_card(view),
            stages_card(view),
            notices_card(view),
            timeline_card(view),
            rating_card(view, token, flash, flash_ok),
            applicant,
            footer,
        ]
    )
    return page(f"{view['matter_name']} · 办件进度", body)


def _container(request: web.Request) -> Container:
    return request.app[CONTAINER]


async def track_page(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    try:
        view = await tracking_by_token(_container(request), token)
    except NotFound:
        return not_found_page()
    flash, ok = "", True
    if request.query.get("rated") == "1" and view.get("rating"):
        flash = "感谢您的评价！我们会认真对待每一条意见。"
    elif request.query.get("error") in RATING_ERRORS:
        flash, ok = RATING_ERRORS[request.query["error"]], False
    return html_response(tracking_page(view, token, flash, ok))


def _back(token: str, query: str) -> web.Response:
    """303 to the page; the token has been checked (it named a case), the query is a fixed code."""
    return web.Response(status=303, headers={**tracking_headers(), "Location": f"/t/{token}?{query}#rating"})


async def rate_page(request: web.Request) -> web.StreamResponse:
    """The rating form's POST: validate, dispatch as POST /api/v1/track/{token}/rating does, then
    redirect back to the page (post/redirect/get), with a fixed error code on a bad input."""
    c, token = _container(request), request.match_info["token"]
    try:
        view = await tracking_by_token(c, token)
    except NotFound:
        return not_found_page()
    if view.get("rating"):
        return _back(token, "error=rated")
    if not view.get("can_rate"):
        return _back(token, "error=early")
    try:
        form = await request.post()
    except (ValueError, UnicodeDecodeError):
        return _back(token, "error=invalid")
    raw_score, raw_comment = form.get("score"), form.get("comment", "")
    if not isinstance(raw_score, str) or raw_score.strip() not in ("1", "2", "3", "4", "5"):
        return _back(token, "error=score")
    if not isinstance(raw_comment, str) or len(raw_comment.strip()) > MAX_COMMENT:
        return _back(token, "error=comment")
    try:
        comment = clean_text(raw_comment.strip(), "comment", multiline=True)
    except Problem:  # a control or format character
        return _back(token, "error=characters")
    score = int(raw_score)
    if score <= BAD_RATING_MAX and not comment:
        return _back(token, "error=reason")
    try:
        await rate_by_token(c, token, score, comment)
    except NotFound:
        return not_found_page()
    except IllegalTransition:
        return _back(token, "error=rated")
    except DomainError as exc:
        log.info("rating refused: %s", exc.title)
        return _back(token, "error=invalid")
    return _back(token, "rated=1")


# --------------------------------------------------------------------------- the staff console

CONSOLE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; frame-src blob:; object-src blob:; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    # frame-src and object-src blob:: a document is printed from a hidden frame holding the PDF the
    # console fetched (an object URL made by its own script; the browser's PDF viewer embeds it)
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
    ".wasm": "application/wasm",
}
VENDOR = STATIC / "vendor"


@cache
def console_files() -> dict[str, Path]:
    """The console's files by URL name: only what ships in api/static/console is ever served."""
    return {p.name: p for p in CONSOLE.iterdir() if p.is_file() and p.suffix in TYPES}


async def console_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info.get("name", "index.html")
    path = console_files().get(name)
    if path is None:
        raise web.HTTPNotFound()
    content_type = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {**CONSOLE_HEADERS, "Content-Type": content_type}
    if name == "sw.js":  # the console's service worker controls /console as well as /console/…
        headers["Service-Worker-Allowed"] = "/console"
    return web.FileResponse(path, headers=headers)


@cache
def vendor_files() -> dict[str, Path]:
    """Front-end libraries vendored from the npm registry (api/static/vendor), by path."""
    return {
        p.relative_to(VENDOR).as_posix(): p
        for p in VENDOR.rglob("*")
        if p.is_file() and p.suffix in TYPES and p.suffix != ".html"
    }


async def vendor_file(request: web.Request) -> web.StreamResponse:
    path = vendor_files().get(request.match_info["path"])
    if path is None:
        raise web.HTTPNotFound()
    headers = {**CONSOLE_HEADERS, "Content-Type": TYPES[path.suffix], "Cache-Control": "public, max-age=86400"}
    return web.FileResponse(path, headers=headers)


def add_page_routes(app: web.Application) -> None:
    from api.catalogue_page import matters_page

    app.router.add_get("/matters", matters_page)
    app.router.add_get("/t/{token}", track_page)
    app.router.add_post("/t/{token}/rating", rate_page)
    app.router.add_get("/console", console_file)
    app.router.add_get("/console/", console_file)
    app.router.add_get("/console/{name}", console_file)
    app.router.add_get("/console/vendor/{path:[A-Za-z0-9_./-]+}", vendor_file)
