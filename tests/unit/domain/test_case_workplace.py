"""The window's day on the Case aggregate (issue 17): the applicant's phone corrected with a
reason, and 发放登记 with 证件类型, 领取方式 and the applicant's ID on file."""

from __future__ import annotations

import pytest

from handoff import events as ev
from handoff.case import Case
from handoff.errors import IllegalTransition, InvalidInput
from handoff.matter import Delivery

from .conftest import APPLICANT, BUILDING, accepted_case, cst
from .test_case import _decided


def ready() -> Case:
    case = _decided(Delivery.PICKUP_AT_WINDOW)
    case.ship_result(at=cst(2026, 3, 6, 15), actor="d", result_package_id="r")
    case.ready_for_pickup(office_id="win-441581", at=cst(2026, 3, 9), actor="w")
    case.collect_events()
    return case


def test_a_corrected_phone_is_normalised_and_its_event_keeps_only_masked_numbers():
    case = accepted_case(BUILDING)
    case.collect_events()
    case.correct_phone(phone="+86 139-0000-2222", reason="申请人来电更正", at=cst(2026, 3, 4), actor="w")
    assert case.applicant.phone == "13900002222"
    event = case.collect_events()[-1]
    assert isinstance(event, ev.ApplicantPhoneCorrected)
    assert (event.old_phone_masked, event.new_phone_masked, event.reason) == (
        f"{APPLICANT.phone[:3]}****{APPLICANT.phone[-4:]}",
        "139****2222",
        "申请人来电更正",
    )
    assert "13900002222" not in str(event.data())


def test_a_phone_correction_needs_a_new_valid_number_and_a_reason():
    case = accepted_case(BUILDING)
    with pytest.raises(IllegalTransition, match="相同"):
        case.correct_phone(phone=case.applicant.phone, reason="再登记", at=cst(2026, 3, 4), actor="w")
    with pytest.raises(InvalidInput, match="手机号码"):
        case.correct_phone(phone="12345", reason="错", at=cst(2026, 3, 4), actor="w")
    with pytest.raises(InvalidInput, match="改正原因"):
        case.correct_phone(phone="13900002222", reason=" ", at=cst(2026, 3, 4), actor="w")


def test_the_applicant_in_person_may_leave_the_number_empty_and_the_one_on_file_is_recorded():
    case = ready()
    case.register_pickup(
        office_id="win-441581",
        receiver_name=case.applicant.name,
        receiver_id_number=None,
        by_proxy=False,
        method="self_service",
        note="已核对身份证",
        at=cst(2026, 3, 9, 10),
        actor="w",
    )
    assert case.pickup is not None
    assert (case.pickup.id_number, case.pickup.id_type, case.pickup.method, case.pickup.note) == (
        case.applicant.id_number,
        "resident_id",
        "self_service",
        "已核对身份证",
    )


def test_a_proxy_may_show_a_passport_and_unknown_types_or_methods_are_refused():
    case = ready()
    common = {"office_id": "win-441581", "receiver_name": "John Smith", "by_proxy": True, "at": cst(2026, 3, 9)}
    with pytest.raises(InvalidInput, match="护照号码格式不正确"):
        case.register_pickup(**common, receiver_id_number="E1", id_type="passport", actor="w")
    with pytest.raises(InvalidInput, match="证件类型"):
        case.register_pickup(**common, receiver_id_number="E12345678", id_type="driving_licence", actor="w")
    with pytest.raises(InvalidInput, match="领取方式"):
        case.register_pickup(**common, receiver_id_number="E12345678", id_type="passport", method="drone", actor="w")
    case.register_pickup(**common, receiver_id_number="e1234-5678", id_type="passport", actor="w")
    assert case.pickup is not None and (case.pickup.id_number, case.pickup.id_type) == ("E12345678", "passport")
