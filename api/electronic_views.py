"""What the applicant sees of electronic materials and results: where each electronic item stands
(pushed, signed for, with a problem the department recorded) and the signed results to download;
the tracking page's card and the public verification page (no script, the tracking page's style)."""

from __future__ import annotations

import html
from typing import Any

from adapters.db.files import CaseResult
from handoff.package import CustodyKind, Direction, Medium, Package, PackageState

DISCREPANCY_ZH = {
    "missing": "缺失",
    "damaged": "破损",
    "pages_differ": "页数不符",
    "unreadable": "无法识读",
    "incomplete": "内容不完整",
    "not_matching_paper": "纸质材料与电子材料不符",
}


def electronic_status(packages: list[Package], results: list[CaseResult], token: str | None) -> dict[str, Any]:
    """Per electronic item of the case's outbound packages: its name, how many files, and where it
    stands; and the signed results with their download link (given the tracking token)."""
    items: list[dict[str, Any]] = []
    for package in packages:
        if package.medium is not Medium.ELECTRONIC or package.direction is not Direction.OUTBOUND:
            continue
        signed = next((e for e in package.custody if e.kind is CustodyKind.SIGNED), None)
        for item in package.items:
            problems = [
                DISCREPANCY_ZH.get(d.kind.value, d.kind.value)
                for d in (signed.discrepancies if signed else ())
                if d.item_seq == item.seq
            ]
            if package.state is PackageState.SIGNED:
                status = "审批部门已签收" + (f"，登记问题：{'、'.join(problems)}" if problems else "")
            elif package.state is PackageState.EXCEPTION:
                status = "推送异常，窗口将与您联系"
            else:
                status = "已推送至审批部门，待签收"
            items.append(
                {
                    "name": item.name,
                    "files": sum(1 for f in package.files if f.item_seq == item.seq),
                    "status": status,
                    "problems": problems,
                }
            )
    base = f"/api/v1/track/{token}/results" if token else None
    return {
        "items": items,
        "results": [
            {
                "id": r.id,
                "name": r.name,
                "signer": r.signer,
                "signed_at": r.signed_at.isoformat(),
                "demo": r.demo,
                **({"url": f"{base}/{r.id}"} if base else {}),
            }
            for r in results
        ],
    }


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def electronic_card(view: dict[str, Any]) -> str:
    """The tracking page's card: electronic items and the results to download."""
    data = view.get("electronic") or {}
    items, results = data.get("items") or [], data.get("results") or []
    if not items and not results:
        return ""
    parts = ['<section class="card"><h2>电子材料与电子办理结果</h2>']
    if items:
        rows = "".join(f"<dt>{e(i['name'])}（{int(i['files'])} 个文件）</dt><dd>{e(i['status'])}</dd>" for i in items)
        parts.append(f"<dl>{rows}</dl>")
    for r in results:
        url = r.get("url")
        if isinstance(url, str) and url.startswith("/api/v1/track/"):
            demo = "（演示证书签章，不具法律效力）" if r.get("demo") else ""
            parts.append(
                f'<p><a href="{e(url)}">下载电子办理结果（PDF）</a>{e(demo)}</p>'
                f'<p class="muted">签章：{e(r["signer"])}。可在 <a href="/verify">核验页面</a> 核验文件是否被改动。</p>'
            )
    parts.append("</section>")
    return "".join(parts)


def verify_page(result: dict[str, Any] | None = None, error: str = "") -> str:
    """The public verification form and, after an upload, what it found."""
    parts = [
        "<header><p>政务服务 · 电子办理结果核验</p><h1>核验电子办理结果</h1></header>",
        '<section class="card"><h2>上传 PDF</h2>'
        '<form method="post" action="/verify" enctype="multipart/form-data">'
        '<label for="file">电子办理结果（PDF 文件）</label> '
        '<input id="file" name="file" type="file" accept="application/pdf" required> '
        '<button type="submit">核验</button></form>'
        '<p class="muted">文件只用于本次核验，不会保存。</p></section>',
    ]
    if error:
        parts.append(f'<section class="card"><h2>核验结果</h2><p class="error" role="alert">{e(error)}</p></section>')
    if result is not None:
        rows = [f"<dt>结论</dt><dd>{e(result['verdict_zh'])}</dd>"]
        if result.get("signer"):
            rows.append(f"<dt>签章人</dt><dd>{e(result['signer'])}</dd>")
        if result.get("signed_at"):
            rows.append(f"<dt>签章时间</dt><dd>{e(result['signed_at'])}</dd>")
        if result.get("case_no"):
            rows.append(
                f"<dt>受理编号</dt><dd>{e(result['case_no'])}</dd><dt>事项</dt><dd>{e(result['matter_name'])}</dd>"
            )
        rows.append(f"<dt>文件 SHA-256</dt><dd><code>{e(result['sha256'])}</code></dd>")
        parts.append(f'<section class="card"><h2>核验结果</h2><dl>{"".join(rows)}</dl></section>')
    return "".join(parts)
