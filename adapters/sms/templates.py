"""Our SMS templates, keyed by our own names, with the Chinese texts the console provider renders.

Alibaba and Tencent send approved templates of their own; the settings map each key to the
provider's template code, and the parameter *names* and *order* declared here are what the
providers' templates must use (Alibaba takes a JSON object by name, Tencent a list by position).

A Chinese SMS is one 70-character segment (a long one is cut into 67-character parts and billed per
part); the signature 【…】 counts. Every template that carries the tracking link is written to fit one
segment with a link of up to ``LINK_BUDGET`` characters.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from handoff.ports import ProviderError, SmsStatus

SEGMENT_CHARS = 70
LONG_PART_CHARS = 67
GSM_SEGMENT_CHARS = 160
GSM_LONG_PART_CHARS = 153
LINK_BUDGET = 36
"""e.g. ``https://zw.swgov.cn/t/abcdefghjkmn`` (34): a 12-character token on a short host."""

# The longest value we expect for each parameter; used only by the one-segment check.
PARAM_BUDGET: Mapping[str, int] = {
    "link": LINK_BUDGET,
    "due": 10,  # 2026-03-20
    "stage": 6,  # 专家评审, 现场勘验
    "place": 10,
    "count": 3,
    "office": 10,
    "case_no": 18,
    "action": 8,
    "days": 3,
    "waybill": 22,
    "material": 20,  # one name, or several joined with 、, or "…等3项" (worker/notifications.py)
}


@dataclass(frozen=True)
class SmsTemplate:
    key: str
    text: str
    audience: str
    """``applicant`` or ``staff``."""
    one_segment: bool = True

    @property
    def params(self) -> tuple[str, ...]:
        """Parameter names in the order they appear (Tencent's TemplateParamSet order)."""
        names: list[str] = []
        for _, name, _, _ in string.Formatter().parse(self.text):
            if name and name not in names:
                names.append(name)
        return tuple(names)


_TEMPLATES = [
    SmsTemplate("receipt", "您的申请材料已收件，办理进度请查看：{link}", "applicant"),
    SmsTemplate("forwarded", "您的材料已寄往审批部门，进度查看：{link}", "applicant"),
    SmsTemplate("pushed", "您的电子材料已推送至审批部门，进度查看：{link}", "applicant"),
    SmsTemplate("signed", "审批部门已签收您的材料，进度查看：{link}", "applicant"),
    SmsTemplate("accepted", "您的申请已受理，{due}前办结，详情：{link}", "applicant"),
    SmsTemplate("supplement_requested", "您需于{due}前补正材料，详见：{link}", "applicant"),
    SmsTemplate("closed_unsupplemented", "您未在期限内补正材料，申请已终止：{link}", "applicant"),
    SmsTemplate("rejected", "您的申请不予受理，原因请查看：{link}", "applicant"),
    SmsTemplate("stage_opened", "您的办件进入{stage}，期间不计时，详情：{link}", "applicant"),
    SmsTemplate("stage_closed", "您的办件{stage}已结束，恢复计时：{link}", "applicant"),
    SmsTemplate("extended", "您的办件已延期至{due}，详情：{link}", "applicant"),
    SmsTemplate("decided", "您的办件已办结，详情请查看：{link}", "applicant"),
    # The waybill (up to 22 characters: our own package code when our courier carries it) may
    # push this one into a second segment: the applicant needs the number more than the saving.
    SmsTemplate("result_shipped", "办理结果已寄出，运单号{waybill}，物流详情：{link}", "applicant", one_segment=False),
    SmsTemplate("ready_for_pickup", "办理结果已到{place}，请带身份证领取：{link}", "applicant"),
    SmsTemplate("delivered", "办理结果已送达，详情：{link}", "applicant"),
    SmsTemplate("result_electronic", "电子办理结果已签发，请下载：{link}", "applicant"),
    SmsTemplate("rating_request", "请为本次政务服务评价（好差评）：{link}", "applicant"),
    SmsTemplate("iou_reminder", "请于{due}前补交容缺材料：{material}，逾期将影响办理。", "applicant"),
    SmsTemplate("incoming_package", "有{count}件材料包正寄往{office}，请及时扫码签收。", "staff"),
    SmsTemplate("action_needed", "办件{case_no}待您处理：{action}。", "staff"),
    SmsTemplate("deadline_warning", "办件{case_no}将于{due}到期，剩余{days}个工作日，请及时办理。", "staff"),
    SmsTemplate("overdue", "办件{case_no}已超期{days}个工作日，请尽快办理并说明原因。", "staff"),
]

TEMPLATES: Mapping[str, SmsTemplate] = {t.key: t for t in _TEMPLATES}


def template(key: str, provider: str = "handoff") -> SmsTemplate:
    try:
        return TEMPLATES[key]
    except KeyError:
        raise ProviderError(provider, SmsStatus.PERMANENT_FAILURE, "template", f"未知的短信模板：{key}") from None


def check_params(key: str, params: Mapping[str, str], provider: str = "handoff") -> SmsTemplate:
    """The template, once its parameters are exactly the ones it declares."""
    tpl = template(key, provider)
    missing = [p for p in tpl.params if not params.get(p)]
    extra = sorted(set(params) - set(tpl.params))
    if missing or extra:
        detail = "；".join(
            part
            for part in (
                "缺少参数 " + "、".join(missing) if missing else "",
                "多余参数 " + "、".join(extra) if extra else "",
            )
            if part
        )
        raise ProviderError(provider, SmsStatus.PERMANENT_FAILURE, "template_params", f"短信模板 {key}：{detail}")
    return tpl


def render(key: str, params: Mapping[str, str]) -> str:
    """The Chinese text of one SMS, without the signature."""
    return check_params(key, params).text.format(**params)


def segments(text: str) -> int:
    """How many billed segments ``text`` (signature included) takes."""
    if all(ord(c) < 128 for c in text):
        single, part = GSM_SEGMENT_CHARS, GSM_LONG_PART_CHARS
    else:
        single, part = SEGMENT_CHARS, LONG_PART_CHARS
    if len(text) <= single:
        return 1
    return -(-len(text) // part)


def longest_text(key: str, sign_name: str) -> str:
    """The template rendered with every parameter at its budgeted length, signature included."""
    tpl = template(key)
    filler = {p: "字" * PARAM_BUDGET.get(p, 10) for p in tpl.params}
    return f"【{sign_name}】" + tpl.text.format(**filler)


def fits_one_segment(key: str, sign_name: str) -> bool:
    return segments(longest_text(key, sign_name)) == 1
