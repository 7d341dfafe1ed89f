"""Every transition of the Case and every refusal."""

from __future__ import annotations

from datetime import date

import pytest

from handoff import events as ev
from handoff.case import Applicant, Case, CaseState, MaterialSubmission, Outcome
from handoff.codes import hash_token
from handoff.errors import IllegalTransition, InvalidInput, MissingMaterials
from handoff.matter import CaseKind, Delivery, MaterialRequirement, Matter, Mode, StageType

from .conftest import APPLICANT, BUILDING, CALENDAR, INSTANT, LIGHTNING, accepted_case, all_materials, cst, new_case


def register(matter: Matter, submitted, tolerated=(), iou_due_on=None, mode=Mode.PROXY_COLLECT):
    return Case.register(
        case_id="c",
        matter=matter,
        mode=mode,
        delivery=Delivery.PICKUP_AT_WINDOW,
        applicant=APPLICANT,
        window_office_id="win-441581",
        department_office_id=matter.department_office_id,
        submitted=submitted,
        tolerated=tolerated,
        iou_due_on=iou_due_on,
        tracking_token_hash=hash_token("t"),
        at=cst(2026, 3, 2),
        actor="clerk",
    )


def test_registering_with_every_required_material_collects_the_case():
    case = new_case()
    assert case.state is CaseState.COLLECTED
    [event] = case.collect_events()
    assert isinstance(event, ev.CaseCollected) and event.case_id == "case-1"
    assert event.materials == ("建设工程规划许可申请表", "建设工程设计方案", "土地权属证明")


def test_every_missing_material_is_listed_at_once():
    with pytest.raises(MissingMaterials) as err:
        register(LIGHTNING, [MaterialSubmission("防雷装置竣工图纸")])
    assert err.value.missing == ("《防雷装置竣工验收申请书》", "施工单位的资质证", "授权委托书")
    assert err.value.title == "材料清单缺少：《防雷装置竣工验收申请书》、施工单位的资质证、授权委托书"


def test_tolerated_items_become_ious_with_their_due_date():
    case = register(
        LIGHTNING,
        [MaterialSubmission("《防雷装置竣工验收申请书》"), MaterialSubmission("防雷装置竣工图纸")],
        tolerated=["施工单位的资质证", "授权委托书"],
        iou_due_on=date(2026, 3, 9),
    )
    assert [(i.material, i.due_on) for i in case.ious] == [
        ("施工单位的资质证", date(2026, 3, 9)),
        ("授权委托书", date(2026, 3, 9)),
    ]


def test_an_item_that_may_not_be_tolerated_is_still_missing():
    with pytest.raises(MissingMaterials) as err:
        register(
            BUILDING,
            [MaterialSubmission("建设工程规划许可申请表")],
            tolerated=["建设工程设计方案", "土地权属证明"],
            iou_due_on=date(2026, 3, 9),
        )
    assert err.value.missing == ("建设工程设计方案（该材料不可容缺）",)


def test_tolerance_without_a_due_date_or_in_an_unsupported_mode_is_refused():
    two = [MaterialSubmission("《防雷装置竣工验收申请书》"), MaterialSubmission("防雷装置竣工图纸")]
    with pytest.raises(InvalidInput):
        register(LIGHTNING, two, tolerated=["施工单位的资质证", "授权委托书"])
    with pytest.raises(InvalidInput, match="不支持"):
        register(LIGHTNING, two, mode=Mode.DELEGATED)
    with pytest.raises(InvalidInput, match="电子材料"):
        register(
            LIGHTNING,
            [*two, MaterialSubmission("施工单位的资质证"), MaterialSubmission("授权委托书")],
            mode=Mode.ONLINE,
        )


def test_a_result_mailed_to_the_applicant_needs_their_address():
    with pytest.raises(InvalidInput, match="收件地址"):
        Case.register(
            case_id="c",
            matter=BUILDING,
            mode=Mode.PROXY_COLLECT,
            delivery=Delivery.MAIL_TO_APPLICANT,
            applicant=Applicant.create("李四", "13800138000"),
            window_office_id="win-441581",
            department_office_id=BUILDING.department_office_id,
            submitted=all_materials(BUILDING),
            tracking_token_hash=hash_token("t"),
            at=cst(2026, 3, 2),
            actor="clerk",
        )


def test_bad_applicant_data_is_refused_in_chinese():
    with pytest.raises(InvalidInput, match="手机号码"):
        Applicant.create("李四", "12345")
    with pytest.raises(InvalidInput, match="身份证"):
        Applicant.create("李四", "13800138000", "110105194912310021")
    assert Applicant.create("李四", "+86 138-0013-8000").phone == "13800138000"


def test_the_whole_happy_path_to_the_archive():
    case = accepted_case(BUILDING)
    case.open_stage(
        calendar=CALENDAR,
        stage_type=StageType.EXPERT_REVIEW,
        reason="需专家评审设计方案",
        legal_basis="行政许可法第四十五条",
        at=cst(2026, 3, 10),
        actor="dept",
    )
    assert case.state is CaseState.IN_REVIEW
    stage_id = case.stages[0].id
    case.close_stage(stage_id=stage_id, at=cst(2026, 3, 20), actor="dept")
    case.extend(calendar=CALENDAR, days=5, approver="王局长", reason="材料复杂", at=cst(2026, 3, 23), actor="dept")
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 30), actor="dept")
    case.ship_result(at=cst(2026, 3, 30, 15), actor="dept", result_package_id="pkg-r")
    case.deliver(at=cst(2026, 4, 1), actor="courier")
    case.rate(score=5, comment="很快", at=cst(2026, 4, 1, 12), actor="applicant")
    case.archive(at=cst(2026, 4, 2), actor="dept")
    types = [e.type for e in case.collect_events()]
    assert types == [
        "stage.opened",
        "stage.closed",
        "case.extended",
        "case.decided",
        "case.result_shipped",
        "case.delivered",
        "case.rated",
        "case.archived",
    ]
    assert case.state is CaseState.ARCHIVED


def test_the_case_clock_counts_its_stages_and_extension(calendar):
    case = accepted_case(BUILDING)
    case.open_stage(
        calendar=CALENDAR,
        stage_type=StageType.EXPERT_REVIEW,
        reason="评审",
        legal_basis="依据",
        at=cst(2026, 3, 10),
        actor="dept",
    )
    reading = case.clock(calendar, date(2026, 3, 13))
    assert reading is not None and reading.paused and reading.excluded_days == 3
    assert reading.stages[0].limit == 10  # the matter's own limit for expert review
    case.close_stage(stage_id=case.stages[0].id, at=cst(2026, 3, 20), actor="dept")
    case.extend(calendar=CALENDAR, days=10, approver="王局长", reason="复杂", at=cst(2026, 3, 23), actor="dept")
    reading = case.clock(calendar, date(2026, 3, 23))
    assert reading is not None and reading.promised == 30 and not reading.paused
    assert reading.due_date == date(2026, 4, 24)


def test_no_clock_before_acceptance(calendar):
    assert new_case().clock(calendar, date(2026, 3, 5)) is None


def test_supplement_before_acceptance_waits_and_returns_to_review():
    case = new_case()
    case.forward(at=cst(2026, 3, 2, 11), actor="w")
    case.receive(at=cst(2026, 3, 3), actor="d")
    case.request_supplement(
        calendar=CALENDAR, items=["土地权属证明原件"], due_on=date(2026, 3, 10), at=cst(2026, 3, 3, 11), actor="d"
    )
    assert case.state is CaseState.SUPPLEMENT_REQUESTED
    case.supplement_supplied(at=cst(2026, 3, 5), actor="d")
    assert case.state is CaseState.RECEIVED
    case.accept(at=cst(2026, 3, 5, 11), actor="d")
    assert case.accepted_on == date(2026, 3, 5)


def test_an_unsupplied_request_closes_only_after_its_due_date():
    case = new_case()
    case.forward(at=cst(2026, 3, 2, 11), actor="w")
    case.receive(at=cst(2026, 3, 3), actor="d")
    case.request_supplement(
        calendar=CALENDAR, items=["设计方案盖章页"], due_on=date(2026, 3, 10), at=cst(2026, 3, 3, 11), actor="d"
    )
    with pytest.raises(IllegalTransition, match="尚未届满"):
        case.close_unsupplemented(at=cst(2026, 3, 10, 17), actor="watcher")
    case.close_unsupplemented(at=cst(2026, 3, 11, 0, 5), actor="watcher")
    assert case.state is CaseState.CLOSED_UNSUPPLEMENTED


def test_a_supplement_after_acceptance_is_a_special_stage_that_pauses_the_clock(calendar):
    case = accepted_case(BUILDING)
    case.request_supplement(
        calendar=CALENDAR, items=["补充图纸"], due_on=date(2026, 3, 20), at=cst(2026, 3, 5), actor="d"
    )
    assert case.state is CaseState.IN_REVIEW and case.stages[0].type is StageType.SUPPLEMENT
    with pytest.raises(IllegalTransition, match="特殊环节"):
        case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 6), actor="d")
    case.supplement_supplied(at=cst(2026, 3, 11), actor="d")
    reading = case.clock(calendar, date(2026, 3, 11))
    assert reading is not None and reading.excluded_days == 4  # 03-06, 09, 10, 11


def test_reject_needs_a_reason_and_ends_the_case():
    case = new_case()
    case.forward(at=cst(2026, 3, 2, 11), actor="w")
    case.receive(at=cst(2026, 3, 3), actor="d")
    with pytest.raises(InvalidInput):
        case.reject(reason="  ", at=cst(2026, 3, 3), actor="d")
    case.reject(reason="不属于本部门职权范围", at=cst(2026, 3, 3), actor="d")
    assert case.state is CaseState.REJECTED
    with pytest.raises(IllegalTransition) as err:
        case.accept(at=cst(2026, 3, 4), actor="d")
    assert (err.value.state, err.value.command) == ("rejected", "accept")
    assert err.value.title == "当前状态为“不予受理”，不能执行“受理”"


@pytest.mark.parametrize(
    ("command", "kwargs"),
    [
        ("receive", {}),
        ("accept", {}),
        ("decide", {"outcome": Outcome.APPROVED, "opinion": "同意"}),
        ("ship_result", {"result_package_id": "p"}),
        ("deliver", {}),
        ("archive", {}),
        ("extend", {"days": 3, "approver": "局长", "reason": "r", "calendar": CALENDAR}),
        ("open_stage", {"stage_type": StageType.INSPECTION, "reason": "r", "legal_basis": "b", "calendar": CALENDAR}),
        ("rate", {"score": 5, "comment": ""}),
    ],
)
def test_commands_out_of_order_are_refused_with_state_and_command(command, kwargs):
    case = new_case()
    with pytest.raises(IllegalTransition) as err:
        getattr(case, command)(at=cst(2026, 3, 3), actor="x", **kwargs)
    assert err.value.state == "collected" and err.value.command == command


def test_approval_waits_for_every_tolerated_material():
    case = Case.register(
        case_id="c",
        matter=LIGHTNING,
        mode=Mode.PROXY_COLLECT,
        delivery=Delivery.MAIL_TO_APPLICANT,
        applicant=APPLICANT,
        window_office_id="w",
        department_office_id=LIGHTNING.department_office_id,
        submitted=[
            MaterialSubmission("《防雷装置竣工验收申请书》"),
            MaterialSubmission("防雷装置竣工图纸"),
            MaterialSubmission("授权委托书"),
        ],
        tolerated=["施工单位的资质证"],
        iou_due_on=date(2026, 3, 6),
        tracking_token_hash="h",
        at=cst(2026, 3, 2),
        actor="w",
    )
    case.forward(at=cst(2026, 3, 2, 11), actor="w")
    case.receive(at=cst(2026, 3, 3), actor="d")
    case.accept(at=cst(2026, 3, 3, 10), actor="d")
    assert next(e for e in case.collect_events() if isinstance(e, ev.CaseAccepted)).tolerated
    with pytest.raises(IllegalTransition, match="施工单位的资质证"):
        case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 3, 15), actor="d")
    case.fulfil_iou(material="施工单位的资质证", at=cst(2026, 3, 4), actor="w")
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 4, 15), actor="d")
    assert case.state is CaseState.DECIDED


def test_extensions_are_capped_at_ten_working_days():
    case = accepted_case(BUILDING)
    case.extend(calendar=CALENDAR, days=6, approver="局长", reason="r", at=cst(2026, 3, 5), actor="d")
    with pytest.raises(InvalidInput, match="10"):
        case.extend(calendar=CALENDAR, days=5, approver="局长", reason="r", at=cst(2026, 3, 6), actor="d")


def test_stage_dates_cannot_precede_acceptance_or_lie_in_the_future():
    case = accepted_case(BUILDING)
    with pytest.raises(InvalidInput):
        case.open_stage(
            calendar=CALENDAR,
            stage_type=StageType.INSPECTION,
            reason="r",
            legal_basis="b",
            at=cst(2026, 3, 5),
            actor="d",
            start_on=date(2026, 3, 1),
        )
    with pytest.raises(InvalidInput):
        case.open_stage(
            calendar=CALENDAR,
            stage_type=StageType.INSPECTION,
            reason="r",
            legal_basis="b",
            at=cst(2026, 3, 5),
            actor="d",
            start_on=date(2026, 3, 6),
        )
    case.open_stage(
        calendar=CALENDAR, stage_type=StageType.INSPECTION, reason="r", legal_basis="b", at=cst(2026, 3, 5), actor="d"
    )
    with pytest.raises(IllegalTransition, match="勘验"):
        case.open_stage(
            calendar=CALENDAR,
            stage_type=StageType.INSPECTION,
            reason="r",
            legal_basis="b",
            at=cst(2026, 3, 6),
            actor="d",
        )


def _decided(delivery: Delivery) -> Case:
    case = accepted_case(BUILDING, delivery=delivery)
    case.decide(outcome=Outcome.APPROVED, opinion="同意", at=cst(2026, 3, 6), actor="d")
    return case


def test_pickup_at_the_window_waits_until_the_window_signed_for_the_result():
    case = _decided(Delivery.PICKUP_AT_WINDOW)
    case.ship_result(at=cst(2026, 3, 6, 15), actor="d", result_package_id="r")
    with pytest.raises(IllegalTransition, match="结果已寄出"):  # still on its way to the window
        case.register_pickup(
            office_id="win-441581",
            receiver_name="张小三",
            receiver_id_number="11010519491231002X",
            by_proxy=False,
            at=cst(2026, 3, 7),
            actor="w",
        )
    with pytest.raises(IllegalTransition):
        case.ready_for_pickup(office_id=BUILDING.department_office_id, at=cst(2026, 3, 9), actor="w")
    case.ready_for_pickup(office_id="win-441581", at=cst(2026, 3, 9), actor="w")
    assert case.state is CaseState.READY_FOR_PICKUP and case.collect_events()[-1].type == "case.ready_for_pickup"


def test_pickup_at_the_window_checks_the_receiver():
    case = _decided(Delivery.PICKUP_AT_WINDOW)
    case.ship_result(at=cst(2026, 3, 6, 15), actor="d", result_package_id="r")
    case.ready_for_pickup(office_id="win-441581", at=cst(2026, 3, 9), actor="w")
    with pytest.raises(InvalidInput, match="代领"):
        case.register_pickup(
            office_id="win-441581",
            receiver_name="李四",
            receiver_id_number=None,
            by_proxy=False,
            at=cst(2026, 3, 9),
            actor="w",
        )
    with pytest.raises(InvalidInput, match="不一致"):
        case.register_pickup(
            office_id="win-441581",
            receiver_name="张小三",
            receiver_id_number="110101199003074514",
            by_proxy=False,
            at=cst(2026, 3, 9),
            actor="w",
        )
    with pytest.raises(InvalidInput, match="身份证号码"):
        case.register_pickup(
            office_id="win-441581",
            receiver_name="李四",
            receiver_id_number=None,
            by_proxy=True,
            at=cst(2026, 3, 9),
            actor="w",
        )
    with pytest.raises(IllegalTransition, match="不在本单位"):
        case.register_pickup(
            office_id="win-other",
            receiver_name="张小三",
            receiver_id_number="11010519491231002X",
            by_proxy=False,
            at=cst(2026, 3, 9),
            actor="w",
        )
    case.register_pickup(
        office_id="win-441581",
        receiver_name="李四",
        receiver_id_number="110101199003074514",
        by_proxy=True,
        at=cst(2026, 3, 9),
        actor="w",
    )
    assert case.state is CaseState.DELIVERED and case.pickup is not None and case.pickup.by_proxy
    event = case.collect_events()[-1]
    assert isinstance(event, ev.PickupRegistered) and "110101199003074514" not in str(event.data())


def test_pickup_at_the_department_needs_no_shipping_and_mail_needs_no_pickup():
    case = _decided(Delivery.PICKUP_AT_DEPARTMENT)
    with pytest.raises(IllegalTransition):
        case.ship_result(at=cst(2026, 3, 6, 15), actor="d")
    with pytest.raises(IllegalTransition):  # the department says first that the result is ready
        case.register_pickup(
            office_id=BUILDING.department_office_id,
            receiver_name="张小三",
            receiver_id_number="11010519491231002X",
            by_proxy=False,
            at=cst(2026, 3, 9),
            actor="d",
        )
    case.ready_for_pickup(office_id=BUILDING.department_office_id, at=cst(2026, 3, 6, 16), actor="d")
    case.register_pickup(
        office_id=BUILDING.department_office_id,
        receiver_name="张小三",
        receiver_id_number="11010519491231002X",
        by_proxy=False,
        at=cst(2026, 3, 9),
        actor="d",
    )
    mailed = _decided(Delivery.MAIL_TO_APPLICANT)
    with pytest.raises(IllegalTransition):
        mailed.register_pickup(
            office_id="win-441581",
            receiver_name="张小三",
            receiver_id_number=None,
            by_proxy=False,
            at=cst(2026, 3, 9),
            actor="w",
        )


def test_withdrawal_before_the_decision_closes_open_stages():
    case = accepted_case(BUILDING)
    case.open_stage(
        calendar=CALENDAR, stage_type=StageType.HEARING, reason="听证", legal_basis="b", at=cst(2026, 3, 5), actor="d"
    )
    case.withdraw(reason="申请人主动撤回", at=cst(2026, 3, 9), actor="w")
    assert case.state is CaseState.WITHDRAWN and case.stages[0].end_on == date(2026, 3, 9)
    with pytest.raises(IllegalTransition):
        case.withdraw(reason="again", at=cst(2026, 3, 9), actor="w")


def test_a_rating_is_given_once_and_a_bad_one_can_be_rectified_once():
    case = _decided(Delivery.MAIL_TO_APPLICANT)
    with pytest.raises(InvalidInput):
        case.rate(score=6, comment="", at=cst(2026, 3, 7), actor="a")
    with pytest.raises(InvalidInput, match="原因"):
        case.rate(score=1, comment="", at=cst(2026, 3, 7), actor="a")
    case.rate(score=2, comment="等太久", at=cst(2026, 3, 7), actor="a")
    with pytest.raises(IllegalTransition, match="已评价"):
        case.rate(score=5, comment="", at=cst(2026, 3, 7), actor="a")
    case.rectify_rating(note="已电话回访并优化流程", at=cst(2026, 3, 8), actor="d")
    with pytest.raises(IllegalTransition, match="已整改"):
        case.rectify_rating(note="again", at=cst(2026, 3, 8), actor="d")


def test_a_lead_reads_a_copied_case_and_leaves_a_remark():
    case = accepted_case(BUILDING)
    with pytest.raises(IllegalTransition):
        case.remark(lead="lead-1", remark="同意", at=cst(2026, 3, 3))
    case.copy_to_lead(lead="lead-1", note="请阅", at=cst(2026, 3, 3), actor="d")
    case.remark(lead="lead-1", remark="请加快办理", at=cst(2026, 3, 4))
    assert case.lead_copies[0].remark == "请加快办理"


def test_an_instant_matter_runs_a_zero_day_clock(calendar):
    case = accepted_case(INSTANT)
    case.decide(outcome=Outcome.APPROVED, opinion="当场办结", at=cst(2026, 3, 2, 16), actor="d")
    reading = case.clock(calendar, date(2026, 3, 2))
    assert reading is not None and reading.due_date == date(2026, 3, 2) and not reading.overdue


def test_matter_limits_are_checked():
    with pytest.raises(InvalidInput):
        Matter(
            id="x",
            name="x",
            department_office_id="d",
            legal_limit=5,
            promised_limit=6,
            kind=CaseKind.PROMISED,
            modes=frozenset({Mode.ONLINE}),
            materials=(),
        )
    with pytest.raises(InvalidInput):
        Matter(
            id="x",
            name="x",
            department_office_id="d",
            legal_limit=5,
            promised_limit=2,  # an instant case is done the same or the next working day (seed 002)
            kind=CaseKind.INSTANT,
            modes=frozenset({Mode.ONLINE}),
            materials=(MaterialRequirement("a"),),
        )
    with pytest.raises(InvalidInput):
        Matter(
            id="x",
            name="x",
            department_office_id="d",
            legal_limit=5,
            promised_limit=1,
            kind=CaseKind.PROMISED,
            modes=frozenset({Mode.ONLINE}),
            materials=(MaterialRequirement("a"), MaterialRequirement("a")),
        )


def test_times_without_a_timezone_are_refused():
    from datetime import datetime

    case = new_case()
    with pytest.raises(InvalidInput, match="时区"):
        case.forward(at=datetime(2026, 3, 2, 10), actor="w")


def test_every_event_round_trips_through_its_envelope():
    case = accepted_case(BUILDING)
    case.open_stage(
        calendar=CALENDAR,
        stage_type=StageType.EXPERT_REVIEW,
        reason="评审",
        legal_basis="依据",
        at=cst(2026, 3, 5),
        actor="d",
    )
    case.extend(calendar=CALENDAR, days=2, approver="局长", reason="r", at=cst(2026, 3, 5), actor="d")
    for event in case.collect_events():
        envelope = ev.to_envelope(event)
        assert ev.from_envelope(envelope) == event
        assert "11010519491231002X" not in ev.envelope_bytes(event).decode()
