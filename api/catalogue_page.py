"""``/matters``: the published catalogue (公布代收代办事项清单, seed 002) as one server-rendered
page in Chinese, without script: per region with a proxy window, the matters its windows collect
(通办), for applicants of which regions, decided by which department (属地); then each matter's
elements (事项要素) and material list. The same data as ``GET /api/v1/public/matters``."""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from typing import Any

from aiohttp import web

from api.keys import CONTAINER
from api.pages import STATIC, e
from api.routes.catalogue import published_catalogue

TITLE = "公布代收代办事项清单"


@cache
def _css() -> tuple[str, str]:
    css = (STATIC / "track.css").read_text(encoding="utf-8") + (STATIC / "catalogue.css").read_text(encoding="utf-8")
    return css, base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()


def headers() -> dict[str, str]:
    _, digest = _css()
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'self' data:; "
            "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=300",
    }


def _region_section(region: dict[str, Any]) -> str:
    windows = "".join(
        f"<li>{e(w['name'])}" + (f"（{e(w['address'])}）" if w["address"] else "") + "</li>" for w in region["windows"]
    )
    if region["matters"]:
        rows = "".join(
            f'<tr><th scope="row"><a href="#{e(m["id"])}">{e(m["name"])}</a></th><td>'
            + "<br>".join(f"{e(a['region_name'])}：{e(a['department_name'])}" for a in m["applicants"])
            + "</td></tr>"
            for m in region["matters"]
        )
        table = (
            f'<div class="scroll"><table><caption>{e(region["name"])}可代收的事项'
            f"（{len(region['matters'])} 项）</caption>"
            '<thead><tr><th scope="col">事项名称</th><th scope="col">申请人所属区划：属地审批部门</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>"
        )
    else:
        table = '<p class="muted">本区划暂无可代收的通办事项。</p>'
    return (
        f'<section class="card" id="region-{e(region["code"])}"><h2>{e(region["name"])}</h2>'
        f'<p class="muted">代收窗口：</p><ul>{windows}</ul>{table}</section>'
    )


def _material_row(n: int, m: dict[str, Any]) -> str:
    need = "必要" if m["required"] else "非必要"
    marks = []
    if m["tolerable"]:
        marks.append('<span class="tag tol">可容缺</span>')
    if m["exempt"]:
        marks.append(f'<span class="tag">免提交（以电子证照“{e(m["licence"])}”代替）</span>')
    elif m["licence"]:
        marks.append(f"可用电子证照“{e(m['licence'])}”")
    notes = e(m["notes"]) + ("<br>" if m["notes"] and marks else "") + " ".join(marks)
    return (
        f'<tr><td>{n}</td><th scope="row">{e(m["name"])}</th><td>{need}</td>'
        f"<td>{'原件' if m['original'] else '复印件'}</td><td>{m['copies']}</td>"
        f"<td>{e(m['form'])}</td><td>{notes}</td></tr>"
    )


def _matter_section(m: dict[str, Any]) -> str:
    limits = f"法定 {m['legal_limit']} 个工作日，承诺 {m['promised_limit']} 个工作日"
    rows = [
        ("实施清单名称", e(m["list_name"])),
        ("事项类型", e(m["matter_type"])),
        ("办件类型", e(m["kind_zh"])),
        ("办理时限", limits),
        ("服务对象", e("、".join(m["service_objects"]) or "不限")),
        ("办理形式", e("、".join(m["modes_zh"]))),
        ("到现场次数", f"{m['visits']} 次"),
    ]
    if m["special_procedures"]:
        rows.append(
            (
                "特别程序",
                e("；".join(f"{s['type_zh']}（不超过 {s['days']} 个工作日）" for s in m["special_procedures"]))
                + "（特别程序所需时间不计入承诺期限）",
            )
        )
    result = e(m["result_name"]) + (f"（电子证照：{e(m['result_licence'])}）" if m["result_licence"] else "")
    rows.append(("办理结果", result))
    places = "；".join(
        f"{i['region_name']}申请人：{i['department_name']}"
        + (f"（通办范围：{'、'.join(s['name'] for s in i['scope'])}）" if i["scope"] else "")
        for i in m["implementations"]
    )
    rows.append(("实施部门", e(places)))
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    conditions = f"<h4>受理条件</h4><p>{e(m['conditions'])}</p>" if m["conditions"] else ""
    materials = "".join(_material_row(n, x) for n, x in enumerate(m["materials"], start=1))
    return (
        f'<section class="card matter" id="{e(m["id"])}"><h3>{e(m["name"])}</h3><dl>{dl}</dl>{conditions}'
        f'<div class="scroll"><table><caption>申请材料（第 {m["version"]} 版）</caption><thead><tr>'
        '<th scope="col">序号</th><th scope="col">材料名称</th><th scope="col">必要性</th><th scope="col">材料类型</th>'
        '<th scope="col">份数</th><th scope="col">材料形式</th><th scope="col">填报须知</th></tr></thead>'
        f"<tbody>{materials}</tbody></table></div></section>"
    )


def catalogue_page(data: dict[str, Any]) -> str:
    css, _ = _css()
    nav = "".join(f'<li><a href="#region-{e(r["code"])}">{e(r["name"])}</a></li>' for r in data["regions"])
    body = (
        f"<header><p>政务服务 · 全市通办</p><h1>{TITLE}</h1>"
        "<p>在下列窗口可以就近提交申请材料，由申请人所属区划的审批部门办理（异地代收、属地受理）。</p></header>"
        f'<nav class="regions card" aria-label="按区划查看"><h2>按区划查看</h2><ul>{nav}</ul></nav>'
        + "".join(_region_section(r) for r in data["regions"])
        + '<section class="card"><h2>事项要素与申请材料</h2><p class="muted">办件按登记时公布的版本办理。</p></section>'
        + "".join(_matter_section(m) for m in data["items"])
        + "<footer>标注“可容缺”的材料，可先行受理、限期补齐；"
        "标注“免提交”的材料，窗口通过电子证照核验，无需提交纸质材料。</footer>"
    )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1"><link rel="icon" href="data:,">'
        f'<title>{TITLE}</title><style>{css}</style></head><body><main class="wide">{body}</main></body></html>'
    )


async def matters_page(request: web.Request) -> web.Response:
    data = await published_catalogue(request.app[CONTAINER])
    return web.Response(text=catalogue_page(data), content_type="text/html", charset="utf-8", headers=headers())
