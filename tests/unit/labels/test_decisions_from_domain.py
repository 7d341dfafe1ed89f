"""The written decisions built from the aggregates: each exists only once its decision does
(NotApplicable before), says what the case recorded, and names the bodies of review and suit."""

from __future__ import annotations

import io
from datetime import date

import pypdf
import pytest

from adapters.calendar import load_calendar
from handoff.case import Case, MaterialSubmission, Outcome
from handoff.codes import PackageCode, hash_token
from handoff.matter import Delivery, Mode
from handoff.package import Direction, Item, Medium, Package, party_office
from handoff.ports import Office
from handoff.services import NotFound
from labels.decisions import render_denial_decision, render_rejection_decision
from labels.from_domain import (
    NotApplicable,
    acceptance_notice_data,
    appeal_bodies,
    decisions,
    denial_decision_data,
    iou_receipt_data,
    one_time_notice_data,
    promised_reading,
    receipt_notice_data,
    registration_card_data,
    rejection_decision_data,
    supplement_notice_data,
    supplement_number,
    transfer_slip_data,
)
from labels.registration_card import render_registration_card
from labels.transfer_slip import render_transfer_slip
from tests.unit.domain.conftest import APPLICANT, BUILDING, LIGHTNING, accepted_case, cst, new_case
from tests.unit.labels.test_from_domain import OFFICES, TODAY

CALENDAR = load_calendar()
URL = "https://hf.test.cn/t/abc"
REGIONS = {"441500": "汕尾市", "441502": "城区", "441521": "海丰县", "441581": "陆丰市", "110101": "东城区"}
BODIES = {"review_body": "汕尾市人民政府", "court": "汕尾市城区人民法院"}


def received_case(matter=BUILDING) -> Case:
    case = new_case(matter)
    case.forward(at=cst(2026, 3, 2, 9, 30), actor="clerk-lf")
    case.receive(at=cst(2026, 3, 3, 10), actor="dept-clerk")
    return case


def tolerated_case() -> Case:
    return Case.register(
        case_id="case-iou",
        matter=LIGHTNING,
        mode=Mode.PROXY_COLLECT,
        delivery=Delivery.PICKUP_AT_WINDOW,
        applicant=APPLICANT,
        window_office_id="win-441581",
        department_office_id=LIGHTNING.department_office_id,
        submitted=[MaterialSubmission("《防雷装置竣工验收申请书》"), MaterialSubmission("防雷装置竣工图纸")],
        tolerated=["施工单位的资质证", "授权委托书"],
        iou_due_on=date(2026, 3, 9),
        tracking_token_hash=hash_token("abc"),
        at=cst(2026, 3, 2, 9),
        actor="clerk-lf",
    )


def test_the_one_time_notice_needs_no_case_and_prints_what_the_matter_asks_of_each_missing_item():
    notice = one_time_notice_data(
        LIGHTNING,
        applicant_name=" 张小三 ",
        missing=["施工单位的资质证（该材料不可容缺）", "防雷装置竣工图纸", "防雷装置竣工图纸", "不在清单里的东西"],
        window=OFFICES["win-441581"],
        deciding_unit="汕尾市气象局",
        on=date(2026, 3, 2),
    )
    assert notice.applicant_name == "张小三" and notice.tracking_url == ""
    assert [(r.name, r.requirement) for r in notice.missing] == [
        ("施工单位的资质证（该材料不可容缺）", "复印件 1 份"),
        ("防雷装置竣工图纸", "原件 1 份"),
        ("不在清单里的东西", "按事项办事指南要求提交"),
    ]
    assert notice.date_text == "2026 年 3 月 2 日" and notice.unit == "陆丰市政务服务中心市域通办窗口"
    with pytest.raises(NotApplicable):
        one_time_notice_data(
            LIGHTNING,
            applicant_name="张小三",
            missing=[" "],
            window=OFFICES["win-441581"],
            deciding_unit="",
            on=date(2026, 3, 2),
        )


def test_the_iou_receipt_lists_each_item_owed_with_its_due_date_and_later_when_it_came():
    with pytest.raises(NotApplicable, match="没有容缺材料"):
        iou_receipt_data(new_case(), offices=OFFICES, tracking_url=URL)
    case = tolerated_case()
    receipt = iou_receipt_data(case, offices=OFFICES, tracking_url=URL, public=True)
    assert [(r.name, r.requirement) for r in receipt.items] == [
        ("施工单位的资质证", "2026 年 3 月 9 日前补交"),
        ("授权委托书", "2026 年 3 月 9 日前补交"),
    ]
    assert receipt.applicant_name == "张*三" and receipt.unit.startswith("陆丰市")
    case.fulfil_iou(material="授权委托书", at=cst(2026, 3, 4), actor="clerk-lf")
    later = iou_receipt_data(case, offices=OFFICES, tracking_url=URL)
    assert later.items[1].requirement == "2026 年 3 月 9 日前补交（已于 2026 年 3 月 4 日补交）"


def test_each_supplement_request_has_its_notice_with_items_and_due_date_and_an_unknown_one_is_not_found():
    case = received_case()
    with pytest.raises(NotApplicable, match="没有补正告知"):
        supplement_notice_data(case, 1, offices=OFFICES, tracking_url=URL)
    items = ["建设工程设计方案", "消防专篇"]
    case.request_supplement(items=items, due_on=date(2026, 3, 20), at=cst(2026, 3, 4), actor="d", calendar=CALENDAR)
    notice = supplement_notice_data(case, 1, offices=OFFICES, tracking_url=URL)
    assert [(r.name, r.requirement) for r in notice.items] == [
        ("建设工程设计方案", "原件 1 份"),
        ("消防专篇", "按审查意见补正"),
    ]
    assert (notice.due_text, notice.after_acceptance, notice.notice_no) == (
        "2026 年 3 月 20 日",
        False,
        f"{case.case_no or case.id}-补1",
    )
    assert notice.contact_phone == "0660-3212345" and notice.unit == "汕尾市住房和城乡建设局"
    for number in (0, 2):
        with pytest.raises(NotFound):
            supplement_notice_data(case, number, offices=OFFICES, tracking_url=URL)
    assert [supplement_number(x) for x in ("supplement-notice-2", "supplement-notice-x", "supplement-notice-")] == [
        2,
        None,
        None,
    ]


def test_the_acceptance_notice_prints_the_due_date_promised_at_acceptance_not_a_later_one():
    with pytest.raises(NotApplicable, match="尚未受理"):
        acceptance_notice_data(received_case(), offices=OFFICES, promised=None, tracking_url=URL)
    case = accepted_case(BUILDING)  # accepted Monday 2026-03-02, 20 working days
    case.extend(days=5, approver="王局长", reason="复杂", at=cst(2026, 3, 6), actor="d", calendar=CALENDAR)
    notice = acceptance_notice_data(case, offices=OFFICES, promised=promised_reading(case, CALENDAR), tracking_url=URL)
    assert notice.due_text == "2026 年 3 月 30 日"
    assert notice.promised_text.startswith("20 个工作日") and notice.delivery_text == "邮寄给申请人"
    assert notice.accepted_text == "2026-03-02 11:00" and notice.owed == ()


def test_a_rejection_decision_exists_only_for_a_rejected_case_and_carries_its_reason():
    case = received_case()
    with pytest.raises(NotApplicable, match="不予受理"):
        rejection_decision_data(case, offices=OFFICES, tracking_url=URL, **BODIES)
    case.reject(reason="申请事项不属于本机关职权范围。", at=cst(2026, 3, 4), actor="d")
    decision = rejection_decision_data(case, offices=OFFICES, tracking_url=URL, **BODIES)
    assert decision.reason == "申请事项不属于本机关职权范围。" and "第三十二条" in decision.legal_basis
    assert (decision.review_body, decision.court, decision.date_text) == (
        "汕尾市人民政府",
        "汕尾市城区人民法院",
        "2026 年 3 月 4 日",
    )
    assert render_rejection_decision(decision).startswith(b"%PDF")
    assert [n.id for n in decisions(case)] == ["rejection-decision"]


def test_a_denial_decision_exists_only_when_the_decision_was_denied():
    approved, denied = accepted_case(BUILDING), accepted_case(BUILDING)
    approved.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 10), actor="d")
    denied.decide(outcome=Outcome.DENIED, opinion="容积率超出规划条件", at=cst(2026, 3, 10), actor="d")
    with pytest.raises(NotApplicable, match="不予许可"):
        denial_decision_data(approved, offices=OFFICES, tracking_url=URL, **BODIES)
    decision = denial_decision_data(denied, offices=OFFICES, tracking_url=URL, public=True, **BODIES)
    assert decision.reason == "容积率超出规划条件" and "第三十八条" in decision.legal_basis
    assert decision.applicant_name == "张*三"
    assert render_denial_decision(decision).startswith(b"%PDF")
    assert [n.id for n in decisions(denied)] == ["acceptance-notice", "denial-decision"]
    assert [n.id for n in decisions(approved)] == ["acceptance-notice"]


def test_decisions_are_listed_in_the_order_they_were_issued():
    case = tolerated_case()
    case.forward(at=cst(2026, 3, 2, 10), actor="clerk-lf")
    case.receive(at=cst(2026, 3, 3, 10), actor="d")
    case.request_supplement(
        items=["防雷装置竣工图纸"], due_on=date(2026, 3, 13), at=cst(2026, 3, 4), actor="d", calendar=CALENDAR
    )
    case.supplement_supplied(at=cst(2026, 3, 5), actor="d")
    case.accept(at=cst(2026, 3, 6), actor="d")
    assert [(n.id, n.title) for n in decisions(case)] == [
        ("iou-receipt", "容缺受理凭证"),
        ("supplement-notice-1", "补正告知书"),
        ("acceptance-notice", "受理通知书"),
    ]
    notice = acceptance_notice_data(case, offices=OFFICES, promised=promised_reading(case, CALENDAR), tracking_url=URL)
    assert [r.name for r in notice.owed] == ["施工单位的资质证", "授权委托书"]


def office(region: str, office_id: str = "dept-x") -> Office:
    return Office(office_id, "某局", "department", region, 22.8, 115.4)


def test_the_bodies_of_review_and_suit_default_from_the_region_and_settings_override_them():
    none: dict[str, str] = {}
    derive = {"region_names": REGIONS, "review_bodies": none, "courts": none}
    assert appeal_bodies(office("441521"), **derive) == ("海丰县人民政府", "海丰县人民法院")
    assert appeal_bodies(office("441581"), **derive) == ("陆丰市人民政府", "陆丰市人民法院")
    assert appeal_bodies(office("441502"), **derive) == ("汕尾市城区人民政府", "汕尾市城区人民法院")
    assert appeal_bodies(office("110101"), **derive) == ("北京市东城区人民政府", "北京市东城区人民法院")
    assert appeal_bodies(office("441500"), **derive) == ("汕尾市人民政府", "汕尾市辖区内有管辖权的人民法院")
    assert appeal_bodies(office("441599"), **derive) == ("依法有管辖权的行政复议机关", "依法有管辖权的人民法院")
    configured = {
        "region_names": REGIONS,
        "review_bodies": {"dept-qx": "广东省气象局", "*": "汕尾市人民政府"},
        "courts": {"*": "汕尾市城区人民法院"},
    }
    assert appeal_bodies(office("441500", "dept-qx"), **configured) == ("广东省气象局", "汕尾市城区人民法院")
    assert appeal_bodies(office("441521"), **configured) == ("汕尾市人民政府", "汕尾市城区人民法院")


def test_internal_paper_shows_the_phone_in_full_and_the_applicants_paper_keeps_it_masked():
    case = accepted_case(BUILDING)
    card = registration_card_data(case, offices=OFFICES, packages=[], reading=None, actors={}, names={})
    assert card.contact_phone == "13812345678"
    notice = receipt_notice_data(case, offices=OFFICES, tracking_url=URL)
    assert notice.contact_phone == "138****5678"
    promised = promised_reading(case, CALENDAR)
    assert "13812345678" not in str(acceptance_notice_data(case, offices=OFFICES, promised=promised, tracking_url=URL))


def test_the_transfer_slip_carries_the_case_number_the_items_owed_and_original_or_copy_per_row():
    case = tolerated_case()
    package = Package.create(
        package_id="pkg-1",
        code=PackageCode("441581", date(2026, 3, 2), 1),
        case_id=case.id,
        direction=Direction.OUTBOUND,
        medium=Medium.PAPER,
        from_party=party_office("win-441581"),
        to_party=party_office("dept-441500-qx"),
        items=[
            Item(1, "《防雷装置竣工验收申请书》", pages=3),
            Item(2, "防雷装置竣工图纸", original=False, remarks="蓝图"),
        ],
        at=cst(2026, 3, 2, 9, 30),
        actor="clerk-lf",
    )
    case.fulfil_iou(material="授权委托书", at=cst(2026, 3, 2, 9, 20), actor="clerk-lf")
    slip = transfer_slip_data(package, case=case, offices=OFFICES, scan_payload="P")
    assert slip.case_no == (case.case_no or case.id) and slip.contact_phone == "13812345678"
    assert [(m.name, m.original, m.remarks) for m in slip.materials] == [
        ("《防雷装置竣工验收申请书》", True, ""),
        ("防雷装置竣工图纸", False, "蓝图"),
    ]
    assert [(r.name, r.requirement) for r in slip.owed] == [("施工单位的资质证", "2026 年 3 月 9 日前补交")]
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_transfer_slip(slip))).pages)
    flat = text.replace("\n", "")
    assert "原件/复印件" in flat and "复印件" in flat and "容缺待补交材料：施工单位的资质证" in flat
    assert "13812345678" in flat and "受理编号" in flat


def test_the_registration_card_records_each_supplement_requested_and_supplied():
    case = received_case()
    case.request_supplement(
        items=["建设工程设计方案"], due_on=date(2026, 3, 13), at=cst(2026, 3, 4), actor="d", calendar=CALENDAR
    )
    case.supplement_supplied(at=cst(2026, 3, 6, 15), actor="d")
    case.accept(at=cst(2026, 3, 9), actor="d")
    case.request_supplement(
        items=["消防专篇", "人防专篇"],
        due_on=date(2026, 3, 20),
        at=cst(2026, 3, 10),
        actor="d",
        calendar=CALENDAR,
        reason="设计方案补正后发现需补充专篇",
    )
    card = registration_card_data(
        case, offices=OFFICES, packages=[], reading=case.clock(CALENDAR, TODAY), actors={}, names={}
    )
    assert [(s.items, s.requested_text, s.due_text, s.supplied_text, s.stage) for s in card.supplements] == [
        ("建设工程设计方案", "2026-03-04 10:00", "2026-03-13", "2026-03-06 15:00", "受理前"),
        ("消防专篇、人防专篇", "2026-03-10 10:00", "2026-03-20", "待补正", "受理后（特殊环节）"),
    ]
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(render_registration_card(card))).pages)
    assert "人防专篇" in text and "2026-03-06 15:00" in " ".join(text.split())
