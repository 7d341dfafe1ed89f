"""The bridge from the aggregates to the documents, without a database: what each document says
about a case in each of its states, and what it must never say."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.calendar import load_calendar
from handoff.case import Outcome
from handoff.codes import PackageCode
from handoff.matter import Delivery, StageType
from handoff.package import APPLICANT, Direction, Item, Medium, Package, party_office
from handoff.ports import Office
from handoff.services import NotFound
from labels.from_domain import (
    NotApplicable,
    clock_day,
    courier_label_data,
    notices,
    party_address,
    pickup_receipt_data,
    receipt_notice_data,
    registration_card_data,
    stage_notice_data,
)
from labels.pickup_receipt import render_pickup_receipt
from tests.unit.domain.conftest import BUILDING, accepted_case, cst, new_case
from tests.unit.labels.test_documents import page_text, pages

CALENDAR = load_calendar()
OFFICES = {
    "win-441581": Office(
        "win-441581", "陆丰市政务服务中心市域通办窗口", "window", "441581", 22.9, 115.6, "陆丰市东海街道"
    ),
    "dept-441500-zj": Office(
        "dept-441500-zj",
        "汕尾市住房和城乡建设局",
        "department",
        "441500",
        22.8,
        115.4,
        "汕尾市城区香洲路",
        "0660-3212345",
    ),
}
TODAY = date(2026, 3, 20)


def result_package(case_id: str = "case-1") -> Package:
    return Package.create(
        package_id="pkg-r",
        code=PackageCode("441500", date(2026, 3, 18), 3),
        case_id=case_id,
        direction=Direction.RESULT,
        medium=Medium.PAPER,
        from_party=party_office("dept-441500-zj"),
        to_party=APPLICANT,
        items=[Item(1, "建设工程规划许可证", copies=1)],
        at=cst(2026, 3, 18, 9),
        actor="dept-clerk",
    )


def test_the_public_receipt_notice_masks_the_name_and_address_and_the_staff_one_does_not():
    case = new_case()
    staff = receipt_notice_data(case, offices=OFFICES, tracking_url="https://t/x")
    public = receipt_notice_data(case, offices=OFFICES, tracking_url="https://t/x", public=True)
    assert staff.applicant_name == "张小三" and staff.address == "汕尾市城区香洲街道 1 号"
    assert public.applicant_name == "张*三" and public.address == "汕尾市城区香****"
    assert staff.contact_phone == public.contact_phone == "138****5678"
    assert staff.deciding_unit == "汕尾市住房和城乡建设局" and staff.receiving_unit.startswith("陆丰市")


def test_a_card_before_acceptance_says_the_clock_has_not_started():
    case = new_case()
    card = registration_card_data(case, offices=OFFICES, packages=[], reading=None, actors={}, names={})
    assert card.accepted_text == "尚未受理" and card.special_stages == ()
    assert "尚未受理" in card.used_text
    assert [s.name for s in card.stages] == ["收件", "流转", "办理", "送达"]
    assert card.stages[0].received_text == "2026-03-02 09:00" and card.stages[1].received_text == ""


def test_a_card_names_the_people_and_counts_each_special_stage_in_working_days():
    case = accepted_case(BUILDING)
    stage = case.open_stage(
        calendar=CALENDAR,
        stage_type=StageType.EXPERT_REVIEW,
        reason="专家评审",
        legal_basis="第四十五条",
        at=cst(2026, 3, 9),
        actor="u-1",
    )
    case.close_stage(stage_id=stage, at=cst(2026, 3, 16), actor="u-1")
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 17), actor="u-2")
    reading = case.clock(CALENDAR, clock_day(case, TODAY))
    card = registration_card_data(
        case,
        offices=OFFICES,
        packages=[],
        reading=reading,
        actors={"case.collected": "clerk-lf", "case.decided": "u-2"},
        names={"u-1": "黄建华", "u-2": "林志强"},
    )
    (special,) = card.special_stages
    assert (special.name, special.working_days, special.responsible) == ("专家评审", 5, "黄建华")
    assert "本环节时限 10 个工作日" in special.reason
    assert card.stages[0].responsible == "陆丰市政务服务中心市域通办窗口\nclerk-lf"  # an unknown id prints as itself
    assert card.stages[2].responsible == "汕尾市住房和城乡建设局\n林志强" and card.stages[2].opinion == "准予许可。同意"
    assert card.used_text.startswith("实际用时 6 个工作日") and "提前 14 个工作日办结" in card.used_text


def test_a_withdrawn_case_reads_its_clock_on_the_day_it_ended():
    case = accepted_case(BUILDING)
    case.withdraw(reason="不再申请", at=cst(2026, 3, 5), actor="clerk-lf")
    assert clock_day(case, TODAY) == date(2026, 3, 5)
    assert clock_day(accepted_case(BUILDING), TODAY) == TODAY


def test_notices_list_every_stage_and_extension_and_an_unknown_id_is_not_found():
    case = accepted_case(BUILDING)
    stage = case.open_stage(
        calendar=CALENDAR,
        stage_type=StageType.INSPECTION,
        reason="现场勘验",
        legal_basis="第四十五条",
        at=cst(2026, 3, 4),
        actor="u-1",
    )
    case.extend(calendar=CALENDAR, days=3, approver="王局长", reason="复杂", at=cst(2026, 3, 6), actor="u-1")
    assert [(n.id, n.title) for n in notices(case)] == [
        (stage, "特别程序告知书（勘验）"),
        ("ext-1", "特别程序告知书（延长办理期限 3 个工作日）"),
    ]
    reading = case.clock(CALENDAR, TODAY)
    common = {"offices": OFFICES, "reading": reading, "tracking_url": "https://t/x"}
    open_stage = stage_notice_data(case, stage, **common)
    assert not open_stage.is_extension and "勘验结束后按实际用时顺延" in open_stage.due_text
    assert open_stage.contact_phone == "0660-3212345" and open_stage.notice_no.endswith("-特1")
    extension = stage_notice_data(case, "ext-1", **common)
    assert extension.is_extension and "第四十二条" in extension.legal_basis
    assert extension.promised_text == "原承诺 20 个工作日，延长后共 23 个工作日"
    for unknown in ("ext-2", "ext-0", "ext-01x", "nothing", ""):
        with pytest.raises(NotFound):
            stage_notice_data(case, unknown, **common)


def test_the_pickup_receipt_needs_a_pickup_and_prints_the_id_masked():
    case = accepted_case(BUILDING, delivery=Delivery.PICKUP_AT_DEPARTMENT)
    with pytest.raises(NotApplicable, match="尚未发放登记"):
        pickup_receipt_data(case, offices=OFFICES, names={}, result_package=None, scan_payload="")
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 17), actor="u-2")
    case.ready_for_pickup(office_id="dept-441500-zj", at=cst(2026, 3, 17, 16), actor="u-2")
    case.register_pickup(
        office_id="dept-441500-zj",
        receiver_name="李四",
        receiver_id_number="110101199003074514",
        by_proxy=True,
        at=cst(2026, 3, 18),
        actor="u-3",
    )
    receipt = pickup_receipt_data(case, offices=OFFICES, names={"u-3": "郑敏"}, result_package=None, scan_payload="")
    assert receipt.receiver_id_masked == "1101**********4514" and "110101199003074514" not in str(receipt)
    assert (receipt.receiver_relation, receipt.clerk, receipt.window) == (
        "受托人（代领）",
        "郑敏",
        "汕尾市住房和城乡建设局",
    )
    assert receipt.package_code == "" and receipt.result_name == "建设工程规划许可证核发办理结果"
    assert render_pickup_receipt(receipt).startswith(b"%PDF")  # no result package: no package codes


def test_the_pickup_receipt_prints_the_document_type_the_way_of_pickup_and_the_opinion_recorded():
    case = accepted_case(BUILDING, delivery=Delivery.PICKUP_AT_DEPARTMENT)
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 17), actor="u-2")
    case.ready_for_pickup(office_id="dept-441500-zj", at=cst(2026, 3, 17, 16), actor="u-2")
    case.register_pickup(
        office_id="dept-441500-zj",
        receiver_name="李四",
        receiver_id_number="E12345678",
        by_proxy=True,
        at=cst(2026, 3, 18),
        actor="u-3",
        id_type="passport",
        method="self_service",
        note="代领人持授权委托书原件，已核对",
    )
    receipt = pickup_receipt_data(case, offices=OFFICES, names={"u-3": "郑敏"}, result_package=None, scan_payload="")
    (page,) = pages(render_pickup_receipt(receipt))
    text = "".join(page_text(page).split())
    assert "证件类型护照" in text and "居民身份证" not in text.split("核验方式")[0]
    assert "领取方式自助终端领取" in text
    assert "意见代领人持授权委托书原件，已核对" in text
    assert "E123*5678" in text and "E12345678" not in text


def test_a_pickup_receipt_without_an_opinion_says_so_and_prints_the_window_pickup():
    case = accepted_case(BUILDING, delivery=Delivery.PICKUP_AT_DEPARTMENT)
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 17), actor="u-2")
    case.ready_for_pickup(office_id="dept-441500-zj", at=cst(2026, 3, 17, 16), actor="u-2")
    case.register_pickup(
        office_id="dept-441500-zj",
        receiver_name="李四",
        receiver_id_number="110101199003074514",
        by_proxy=True,
        at=cst(2026, 3, 18),
        actor="u-3",
    )
    receipt = pickup_receipt_data(case, offices=OFFICES, names={}, result_package=None, scan_payload="")
    text = "".join(page_text(pages(render_pickup_receipt(receipt))[0]).split())
    assert "证件类型居民身份证" in text and "领取方式窗口现场领取" in text and "意见无" in text


def test_the_courier_label_is_a_privacy_waybill_for_a_person_and_needs_a_waybill():
    case = new_case()
    package = result_package()
    sender = party_address(package.from_party, case=case, offices=OFFICES)
    receiver = party_address(package.to_party, case=case, offices=OFFICES)
    with pytest.raises(NotApplicable, match="运单号"):
        courier_label_data(package, sender=sender, receiver=receiver, scan_payload="P", printed_at=cst(2026, 3, 18))
    package.seal(at=cst(2026, 3, 18), actor="u-2", carrier="ems")
    package.assign_waybill(carrier="ems", waybill="1187654321098", at=cst(2026, 3, 18))
    label = courier_label_data(package, sender=sender, receiver=receiver, scan_payload="P", printed_at=cst(2026, 3, 18))
    assert (label.receiver_name, label.receiver_phone) == ("张*三", "138****5678")
    assert label.receiver_address == "汕尾市城区香洲街道 1 号"
    assert (label.sender_name, label.sender_phone) == ("汕尾市住房和城乡建设局", "0660-3212345")
    assert label.carrier_name == "中国邮政 EMS" and label.contents_text == "办理结果 1 项（纸质）"
    with pytest.raises(NotApplicable):
        party_address("courier:c-07", case=case, offices=OFFICES)


def test_a_short_document_number_is_printed_masked_too():
    case = accepted_case(BUILDING, delivery=Delivery.PICKUP_AT_DEPARTMENT)
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 17), actor="u-2")
    case.ready_for_pickup(office_id="dept-441500-zj", at=cst(2026, 3, 17, 16), actor="u-2")
    case.register_pickup(
        office_id="dept-441500-zj",
        receiver_name="李四",
        receiver_id_number="H1234567",
        by_proxy=True,
        at=cst(2026, 3, 18),
        actor="u-3",
        id_type="hk_macao_permit",
    )
    receipt = pickup_receipt_data(case, offices=OFFICES, names={}, result_package=None, scan_payload="")
    text = "".join(page_text(pages(render_pickup_receipt(receipt))[0]).split())
    assert "H1****67" in text and "H1234567" not in text and "港澳居民来往内地通行证" in text
