"""办件档案 (seed 002): find any case in scope by 受理编号, package code, the applicant's name, phone
or ID number, matter, state and dates; its 过程信息 (every step with who took it, when, and the
意见); and the correction of the applicant's phone number (短信回执: "浏览检查系统记录的申请人手机
号码是否正确，如不正确，进行修改").

The search is a POST: the applicant's phone and ID number are personal information (PIPL) and must
not travel in a URL (access logs, proxies, browser history). An ID number is matched through its
keyed hash (DESIGN §10), never compared or stored in clear."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from adapters.db import queries, workqueues
from api.auth import Role
from api.authority import Authority
from api.problems import Problem
from api.routes.admin import audit
from api.routes.common import API, CASE_VIEW, STAFF, container, run_case, visible_case
from api.routes.reports import report_scope
from api.routing import DATE, INT, STR, Ctx, array, nullable, obj, text
from handoff.codes import PackageCode
from handoff.errors import CodeRejected
from handoff.labels_zh import CARRIER_ZH, DELIVERY_ZH, STAGE_TYPE_ZH, STATE_ZH
from handoff.privacy import mask_phone, normalize_id_number, normalize_phone
from handoff.timeutil import CHINA

TAG = "办件档案"

ARCHIVE_ROW = obj(
    ["case_id", "case_no", "collected_at", "matter_name", "state", "state_zh", "applicant", "phone"],
    case_id=STR,
    case_no=STR,
    collected_at=STR,
    matter_name=STR,
    state=STR,
    state_zh=STR,
    applicant=STR,
    phone=STR,
    window=STR,
    department=STR,
)
CASE_STATES = [
    s
    for s in STATE_ZH
    if s not in ("created", "sealed", "with_courier", "in_transit", "arrived", "signed", "pushed", "exception")
]


SEARCH_BODY = obj(
    [],
    case_no=text(24),
    package_code=text(40),
    applicant_name=text(100),
    phone=text(20),
    id_number=text(20),
    matter_id=text(64),
    states=array({"type": "string", "enum": CASE_STATES}, max_items=20),
    cursor=text(200),
    limit={"type": "integer", "minimum": 1, "maximum": 100},
)
SEARCH_BODY["properties"].update({"from": DATE, "to": DATE})


@API.route(
    "POST",
    "/api/v1/archive/search",
    summary=(
        "办件档案查询：按受理编号、材料包编号、申请人姓名、手机号码、身份证号（以密钥散列比对）、事项、状态和收件日期，"
        "范围内的办件按收件时间倒序分页（cursor 为上一页的 next_cursor）"
    ),
    tag=TAG,
    roles=STAFF,
    body=SEARCH_BODY,
    response=obj(["items", "next_cursor"], items=array(ARCHIVE_ROW, max_items=100), next_cursor=nullable(STR)),
)
async def search(ctx: Ctx) -> dict[str, Any]:
    c, b = container(ctx), ctx.body
    limit = int(b.get("limit", 20))
    try:
        after = queries.decode_cursor(b["cursor"]) if b.get("cursor") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "分页游标无效") from exc
    code = None
    if b.get("package_code"):
        try:
            code = PackageCode.parse(b["package_code"]).compact
        except CodeRejected as exc:
            raise Problem(422, f"材料包编号无效：{exc.title}", kind="code_rejected") from exc
    start = datetime.fromisoformat(b["from"]).replace(tzinfo=CHINA) if b.get("from") else None
    end = datetime.fromisoformat(b["to"]).replace(tzinfo=CHINA) + timedelta(days=1) if b.get("to") else None
    query = workqueues.ArchiveQuery(
        case_no=b.get("case_no", "").strip() or None,
        package_code=code,
        applicant_name=b.get("applicant_name", "").strip() or None,
        phone=normalize_phone(b["phone"]) if b.get("phone") else None,
        id_hash=c.cipher.keyed_hash(normalize_id_number(b["id_number"])) if b.get("id_number") else None,
        matter_id=b.get("matter_id") or None,
        states=b.get("states", ()),
        collected_from=start,
        collected_to=end,
    )
    async with c.engine.connect() as conn:
        rows = await workqueues.archive_page(conn, report_scope(ctx), query, after, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    return {
        "items": [
            {
                "case_id": r["id"],
                "case_no": r["case_no"] or "",
                "collected_at": r["collected_at"].isoformat(),
                "matter_name": r["matter_name"] or "",
                "state": r["state"],
                "state_zh": STATE_ZH[r["state"]],
                "applicant": r["applicant_name"],
                "phone": mask_phone(r["applicant_phone"]),
                "window": r["window_name"],
                "department": r["department_name"],
            }
            for r in rows
        ],
        "next_cursor": queries.encode_cursor(rows[-1]["collected_at"], rows[-1]["id"]) if more and rows else None,
    }


# =========================================================================== 过程信息

EVENT_ZH: dict[str, str] = {
    "case.collected": "窗口收件登记",
    "case.forwarded": "材料转出（流转至审批部门）",
    "case.received": "审批部门签收材料",
    "case.supplement_requested": "补正告知",
    "case.supplement_supplied": "补正受理（材料已补齐）",
    "case.closed_unsupplemented": "补正不来办结",
    "case.accepted": "受理",
    "case.rejected": "不予受理",
    "stage.opened": "启动特殊环节",
    "stage.closed": "结束特殊环节",
    "case.extended": "延期",
    "case.iou_fulfilled": "容缺材料补齐",
    "case.decided": "办结",
    "case.result_shipped": "结果寄出",
    "case.supplement_taken_in": "窗口收取补正/容缺材料",
    "case.ready_for_pickup": "结果待领取",
    "case.delivered": "结果送达",
    "case.pickup_registered": "发放登记",
    "case.archived": "归档",
    "case.withdrawn": "撤回申请",
    "case.rated": "申请人评价",
    "case.rating_rectified": "差评整改",
    "case.copied_to_lead": "抄送分管领导",
    "case.lead_remarked": "领导批阅",
    "case.applicant_phone_corrected": "改正申请人手机号码",
    "package.created": "生成材料包",
    "package.sealed": "封装材料包",
    "package.picked_up": "快递员揽收",
    "package.in_transit": "运输中",
    "package.arrived": "快递送达",
    "package.pushed": "电子推送",
    "package.signed": "签收材料包",
    "package.exception": "材料包异常",
    "package.booked": "承运商接单",
    "package.booking_failed": "承运商下单失败",
    "case.deadline_near": "到期提醒",
    "case.overdue": "超期",
    "case.forwarding_overdue": "超过两个工作日未转报",
    "case.prereview_overdue": "预审超时",
    "case.legal_overdue": "超法定期限",
    "case.iou_due_soon": "容缺材料补交提醒",
    "case.iou_overdue": "容缺材料逾期未补交",
    "stage.limit_reached": "特殊环节到达时限",
    "package.stalled": "材料包滞留",
}
OPINION_KEYS = ("opinion", "reason", "remark", "note", "comment")
PARTY_KEYS = ("from_party", "to_party", "party", "courier", "delivered_by", "signed_by", "lead", "approver")

EVENT_VIEW = obj(
    ["seq", "type", "title", "at", "actor", "actor_name", "opinion", "detail"],
    seq=INT,
    type=STR,
    title=STR,
    at=STR,
    actor=STR,
    actor_name=STR,
    opinion=STR,
    detail=STR,
    package_code=nullable(STR),
)


def _party_ids(value: str) -> tuple[str | None, str | None]:
    """(user id, office id) named by a party or actor text."""
    kind, _, rest = value.partition(":")
    if kind == "office" and rest:
        return None, rest
    if kind == "courier" and rest:
        return rest, None
    return (value, None) if value and ":" not in value else (None, None)


def _name(value: str, names: dict[str, str]) -> str:
    kind, _, rest = value.partition(":")
    if kind == "office" and rest:
        return names.get(rest, rest)
    if kind == "courier" and rest:
        return f"快递员 {names.get(rest, rest)}" if rest in names else CARRIER_ZH.get(rest, rest)
    if kind == "applicant":
        return "申请人"
    return names.get(value, CARRIER_ZH.get(value, value))


def _detail(kind: str, data: dict[str, Any], names: dict[str, str]) -> str:
    parts: list[str] = []
    if data.get("items") and isinstance(data["items"], list):
        parts.append("材料：" + "、".join(str(i) for i in data["items"]))
    if data.get("due_on"):
        parts.append(f"期限 {data['due_on']}")
    if data.get("stage_type"):
        parts.append(STAGE_TYPE_ZH.get(data["stage_type"], data["stage_type"]))
    if kind == "case.extended":
        parts.append(f"延长 {data.get('days')} 个工作日，批准人 {data.get('approver', '')}")
    if kind == "case.decided":
        parts.append("准予许可" if data.get("outcome") == "approved" else "不予许可")
    if data.get("material"):
        parts.append(str(data["material"]))
    if kind == "case.result_shipped" and data.get("delivery"):
        parts.append(DELIVERY_ZH.get(data["delivery"], data["delivery"]))
    if kind == "case.pickup_registered":
        parts.append(f"领取人 {data.get('receiver_name', '')}{'（代领）' if data.get('by_proxy') else ''}")
    if kind == "case.applicant_phone_corrected":
        parts.append(f"{data.get('old_phone_masked', '')} → {data.get('new_phone_masked', '')}")
    if kind == "case.rated":
        parts.append(f"{data.get('score')} 分")
    if kind == "package.signed" and data.get("discrepancies"):
        parts.append(f"{data['discrepancies']} 项差异")
    for key in ("from_party", "to_party", "courier", "lead", "office_id", "to_office_id", "place"):
        value = data.get(key)
        if isinstance(value, str) and value:
            label = {
                "from_party": "自",
                "to_party": "至",
                "courier": "快递员",
                "lead": "领导",
                "office_id": "单位",
                "to_office_id": "至",
                "place": "地点",
            }[key]
            shown = names.get(value, value) if key in ("office_id", "to_office_id") else _name(value, names)
            if key == "courier" and shown.startswith("快递员 "):
                shown = shown[4:]
            parts.append(f"{label} {shown}")
    return "；".join(p for p in parts if p)


@API.route(
    "GET",
    "/api/v1/cases/{case_id}/events",
    summary="过程信息：办件及其材料包的每个环节（办理人姓名、时间、意见），按发生顺序",
    tag=TAG,
    roles=STAFF,
    response=obj(["events", "names"], events=array(EVENT_VIEW, max_items=10000), names=obj([], extra=True)),
)
async def case_events(ctx: Ctx) -> dict[str, Any]:
    c = container(ctx)
    async with c.uow() as uow:
        case = await visible_case(ctx, ctx.path["case_id"], uow)
        packages = await uow.packages.for_case(case.id)
        rows = await workqueues.case_history(uow.conn, case.id)
        users: set[str] = set()
        offices: set[str] = {case.window_office_id, case.department_office_id}
        for r in rows:
            payload = r["payload"]
            values = [str(payload.get("actor", ""))]
            data = payload.get("data") or {}
            values += [str(data[k]) for k in (*PARTY_KEYS, "office_id", "to_office_id") if isinstance(data.get(k), str)]
            for value in values:
                user, office = _party_ids(value)
                if user:
                    users.add(user)
                if office:
                    offices.add(office)
            offices.update(v for k in ("office_id", "to_office_id") if isinstance(v := data.get(k), str))
        for p in packages:
            for party in (p.from_party, p.to_party, p.holder):
                user, office = _party_ids(party)
                users.update([user] if user else [])
                offices.update([office] if office else [])
        for copy in case.lead_copies:
            users.add(copy.lead)
        names = await workqueues.names(uow.conn, sorted(users), sorted(offices))
    codes = {p.id: str(p.code) for p in packages}
    events = []
    for r in rows:
        payload, kind = r["payload"], r["type"]
        data = payload.get("data") or {}
        actor = str(payload.get("actor", ""))
        opinion = next((str(data[k]) for k in OPINION_KEYS if isinstance(data.get(k), str) and data[k]), "")
        events.append(
            {
                "seq": int(r["seq"]),
                "type": kind,
                "title": EVENT_ZH.get(kind, kind),
                "at": str(payload.get("occurred_at", "")),
                "actor": actor,
                "actor_name": _name(actor, names) if actor not in ("system", "") else "系统",
                "opinion": opinion,
                "detail": _detail(kind, data, names),
                "package_code": codes.get(r["package_id"]) if r["package_id"] else None,
            }
        )
    return {"events": events, "names": names}


# =========================================================================== 已办办件

HANDLED_STEP_ZH = {**EVENT_ZH, "package.picked_up": "交接快递员", "package.sealed": "封装材料包"}
"""A step as its taker did it (a courier has no 已办办件: a clerk's 揽收 is the hand-over)."""

HANDLED_ROW = obj(
    [*ARCHIVE_ROW["required"], "step", "step_zh", "step_at"],
    **ARCHIVE_ROW["properties"],
    step=STR,
    step_zh=STR,
    step_at=STR,
)


@API.route(
    "GET",
    "/api/v1/archive/handled",
    summary=(
        "已办办件：本人办理过（登记、签收、受理、办结、发放等）的范围内办件，附本人最后一步的操作和时间，"
        "按该时间倒序分页（cursor 为上一页的 next_cursor）；可按办理日期和办件状态筛选"
    ),
    tag=TAG,
    roles=STAFF,
    query={
        "from": DATE,
        "to": DATE,
        "state": {"type": "string", "enum": CASE_STATES},
        "cursor": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    },
    response=obj(["items", "next_cursor"], items=array(HANDLED_ROW, max_items=100), next_cursor=nullable(STR)),
)
async def handled(ctx: Ctx) -> dict[str, Any]:
    c, q = container(ctx), ctx.query
    limit = int(q.get("limit", "20"))
    try:
        after = queries.decode_cursor(q["cursor"]) if q.get("cursor") else None
    except (ValueError, TypeError) as exc:
        raise Problem(422, "分页游标无效") from exc
    try:
        start = datetime.fromisoformat(q["from"]).replace(tzinfo=CHINA) if q.get("from") else None
        end = datetime.fromisoformat(q["to"]).replace(tzinfo=CHINA) + timedelta(days=1) if q.get("to") else None
    except ValueError as exc:
        raise Problem(422, "办理日期应为日期（YYYY-MM-DD）") from exc
    if start is not None and end is not None and end <= start:
        raise Problem(422, "办理日期的结束日期不能早于开始日期")
    query = workqueues.HandledQuery(states=[q["state"]] if q.get("state") else (), since=start, until=end)
    async with c.engine.connect() as conn:
        rows = await workqueues.handled_page(conn, ctx.who.user_id, report_scope(ctx), query, after, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    return {
        "items": [
            {
                "case_id": r["id"],
                "case_no": r["case_no"] or "",
                "collected_at": r["collected_at"].isoformat(),
                "matter_name": r["matter_name"] or "",
                "state": r["state"],
                "state_zh": STATE_ZH[r["state"]],
                "applicant": r["applicant_name"],
                "phone": mask_phone(r["applicant_phone"]),
                "window": r["window_name"],
                "department": r["department_name"],
                "step": r["step_type"],
                "step_zh": HANDLED_STEP_ZH.get(r["step_type"], "办理"),
                "step_at": r["step_at"].isoformat(),
            }
            for r in rows
        ],
        "next_cursor": queries.encode_cursor(rows[-1]["step_at"], rows[-1]["id"]) if more and rows else None,
    }


# =========================================================================== the applicant's phone


@API.route(
    "POST",
    "/api/v1/cases/{case_id}/applicant-phone",
    summary="改正申请人手机号码（记入过程信息和审计日志，只记录脱敏号码；此后的短信和重发都发往新号码）",
    tag=TAG,
    roles={Role.WINDOW_CLERK, Role.DEPT_CLERK},
    body=obj(["phone", "reason"], phone=text(20), reason=text(500)),
    response=CASE_VIEW,
    errors={409},
    unit=True,
    authority=Authority.OWN_OFFICE,
)
async def correct_phone(ctx: Ctx) -> dict[str, Any]:
    view = await run_case(ctx, "correct_phone", {"phone": ctx.body["phone"], "reason": ctx.body["reason"]})
    await audit(ctx, "case.applicant_phone_corrected", ctx.path["case_id"])
    return view
