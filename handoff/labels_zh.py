"""Chinese names of states, commands, stage types and modes: what a clerk or applicant reads."""

from __future__ import annotations

STATE_ZH: dict[str, str] = {
    # case states
    "collected": "已收件",
    "forwarded": "已流转",
    "received": "已接收",
    "supplement_requested": "待补正",
    "accepted": "已受理",
    "in_review": "审查中",
    "decided": "已办结",
    "result_shipped": "结果已寄出",
    "ready_for_pickup": "待领取",
    "delivered": "已送达",
    "archived": "已归档",
    "rejected": "不予受理",
    "closed_unsupplemented": "补正不来办结",
    "withdrawn": "已撤回",
    # package states
    "created": "已创建",
    "sealed": "已封装",
    "with_courier": "快递员已揽收",
    "in_transit": "运输中",
    "arrived": "已送达待签收",
    "signed": "已签收",
    "pushed": "已推送",
    "exception": "异常",
}

COMMAND_ZH: dict[str, str] = {
    "register": "收件登记",
    "forward": "流转",
    "receive": "接收",
    "request_supplement": "补正告知",
    "supplement_supplied": "补正受理",
    "close_unsupplemented": "补正不来办结",
    "accept": "受理",
    "reject": "不予受理",
    "open_stage": "启动特殊环节",
    "close_stage": "结束特殊环节",
    "extend": "延期",
    "decide": "办结",
    "ship_result": "寄出结果",
    "deliver": "送达",
    "register_pickup": "发放登记",
    "archive": "归档",
    "withdraw": "撤回",
    "rate": "评价",
    "rectify_rating": "差评整改",
    "fulfil_iou": "容缺材料补齐",
    "copy_to_lead": "抄送领导",
    "remark": "批阅",
    "correct_phone": "改正申请人手机号码",
    "seal": "封装",
    "pick_up": "揽收",
    "report_in_transit": "运输中",
    "deliver_package": "快递送达",
    "sign": "签收",
    "push": "电子推送",
    "report_exception": "登记异常",
}

STAGE_TYPE_ZH: dict[str, str] = {
    "inspection": "勘验",
    "expert_review": "专家评审",
    "rectification": "整改",
    "entrusted_assessment": "委托评估",
    "consultation": "征求意见",
    "director_meeting": "主任办公会",
    "hearing": "听证",
    "public_notice": "公示",
    "testing": "检验检测",
    "supplement": "补正",
}

MODE_ZH: dict[str, str] = {
    "proxy_collect": "异地代收、属地受理",
    "delegated": "异地委托审批",
    "online": "全程网办",
}

DELIVERY_ZH: dict[str, str] = {
    "mail_to_applicant": "邮寄给申请人",
    "pickup_at_window": "代收窗口自取",
    "pickup_at_department": "审批部门自取",
    "electronic": "电子送达",
}

CASE_KIND_ZH: dict[str, str] = {"instant": "即办件", "promised": "承诺件"}

SMS_STATUS_ZH: dict[str, str] = {
    "created": "待发送",
    "sending": "发送中",
    "delivered": "已送达",
    "permanent_failure": "发送失败（号码或内容问题，不再重试）",
    "temporary_failure": "暂时未送达（手机关机或不在服务区）",
    "technical_failure": "发送失败（短信平台故障或结果未知）",
}

SMS_TEMPLATE_ZH: dict[str, str] = {
    "receipt": "收件回执",
    "forwarded": "材料已寄出",
    "signed": "部门已签收",
    "accepted": "已受理",
    "supplement_requested": "补正告知",
    "closed_unsupplemented": "补正不来办结",
    "rejected": "不予受理",
    "stage_opened": "特殊环节开始",
    "stage_closed": "特殊环节结束",
    "extended": "延期",
    "decided": "已办结",
    "result_shipped": "结果已寄出",
    "ready_for_pickup": "待领取",
    "delivered": "已送达",
    "rating_request": "邀请评价",
    "iou_reminder": "容缺材料补交提醒",
    "incoming_package": "材料包待签收",
    "action_needed": "待办提醒",
    "deadline_warning": "到期提醒",
    "overdue": "超期提醒",
}

CARRIER_ZH: dict[str, str] = {
    "sf": "顺丰速运",
    "ems": "中国邮政 EMS",
    "kuaidi100": "快递100",
    "internal": "政务专递",
}
