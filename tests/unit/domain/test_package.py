"""Packages: two-sided handoffs, discrepancies, and a custody chain that shows any edit."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff import events as ev
from handoff.codes import PackageCode
from handoff.errors import IllegalTransition, InvalidInput
from handoff.package import (
    APPLICANT,
    CustodyKind,
    Direction,
    Discrepancy,
    DiscrepancyKind,
    ExceptionKind,
    Item,
    Medium,
    Package,
    PackageState,
    hand_over_batch,
    party_office,
)

from .conftest import cst

WINDOW, DEPT = party_office("win-441581"), party_office("dept-441500-zj")
EVIDENCE = hashlib.sha256(b"signature.png").hexdigest()


def package(n: int = 1, medium: Medium = Medium.PAPER) -> Package:
    return Package.create(
        package_id=f"pkg-{n}",
        code=PackageCode("441581", date(2026, 3, 2), n),
        case_id="case-1",
        direction=Direction.OUTBOUND,
        medium=medium,
        from_party=WINDOW,
        to_party=DEPT,
        items=[Item(1, "建设工程规划许可申请表", pages=4), Item(2, "建设工程设计方案", pages=120, original=False)],
        at=cst(2026, 3, 2, 9),
        actor="clerk-lf",
    )


def travelled() -> Package:
    p = package()
    p.seal(at=cst(2026, 3, 2, 10), actor="clerk-lf", carrier="internal")
    p.pick_up(courier="c-07", at=cst(2026, 3, 2, 14), actor="c-07", evidence=[EVIDENCE])
    p.report_in_transit(at=cst(2026, 3, 2, 18), actor="c-07", place="汕尾市区中转")
    p.deliver(at=cst(2026, 3, 3, 9), actor="c-07", evidence=[EVIDENCE])
    p.sign(
        party=DEPT,
        at=cst(2026, 3, 3, 9, 30),
        actor="dept-clerk",
        discrepancies=[Discrepancy(2, DiscrepancyKind.PAGES_DIFFER, "少 2 页", actual_pages=118)],
    )
    return p


def test_a_package_travels_from_window_to_department_with_a_two_sided_handoff():
    p = travelled()
    assert p.state is PackageState.SIGNED and p.holder == DEPT
    kinds = [c.kind for c in p.custody]
    assert kinds == [
        CustodyKind.CREATED,
        CustodyKind.SEALED,
        CustodyKind.PICKED_UP,
        CustodyKind.IN_TRANSIT,
        CustodyKind.DELIVERED,
        CustodyKind.SIGNED,
    ]
    delivered, signed = p.custody[4], p.custody[5]
    assert delivered.actor == "c-07" and signed.actor == "dept-clerk"
    assert signed.discrepancies[0].actual_pages == 118
    assert [e.type for e in p.collect_events()] == [
        "package.created",
        "package.sealed",
        "package.picked_up",
        "package.in_transit",
        "package.arrived",
        "package.signed",
    ]
    assert p.verify().ok


def test_delivered_is_not_signed():
    p = package()
    p.seal(at=cst(2026, 3, 2, 10), actor="w")
    p.pick_up(courier="c-07", at=cst(2026, 3, 2, 14), actor="c-07")
    p.deliver(at=cst(2026, 3, 3, 9), actor="c-07")
    assert p.state is PackageState.ARRIVED and p.holder == "courier:c-07"


def test_only_the_addressee_signs_and_discrepancies_must_name_real_items():
    p = package()
    p.seal(at=cst(2026, 3, 2, 10), actor="w")
    p.pick_up(courier="c", at=cst(2026, 3, 2, 14), actor="c")
    with pytest.raises(IllegalTransition):
        p.sign(party=party_office("someone-else"), at=cst(2026, 3, 3), actor="x")
    with pytest.raises(InvalidInput, match="序号为 9"):
        p.sign(party=DEPT, at=cst(2026, 3, 3), actor="d", discrepancies=[Discrepancy(9, DiscrepancyKind.MISSING)])
    with pytest.raises(InvalidInput, match="实收页数"):
        p.sign(party=DEPT, at=cst(2026, 3, 3), actor="d", discrepancies=[Discrepancy(1, DiscrepancyKind.PAGES_DIFFER)])


def test_a_signature_before_the_couriers_report_is_kept_and_the_late_report_is_recorded():
    p = package()
    p.seal(at=cst(2026, 3, 2, 10), actor="w")
    p.pick_up(courier="c", at=cst(2026, 3, 2, 14), actor="c")
    p.sign(party=DEPT, at=cst(2026, 3, 3, 10), actor="d")
    p.deliver(at=cst(2026, 3, 3, 12), actor="c", client_time=cst(2026, 3, 3, 9, 55), evidence=[EVIDENCE])
    assert p.state is PackageState.SIGNED
    assert p.custody[-1].kind is CustodyKind.DELIVERED and "离线补报" in p.custody[-1].note
    assert p.verify().ok


def test_electronic_packages_are_pushed_not_sealed():
    p = package(medium=Medium.ELECTRONIC)
    with pytest.raises(IllegalTransition):
        p.seal(at=cst(2026, 3, 2, 10), actor="w")
    p.push(at=cst(2026, 3, 2, 10), actor="w")
    p.sign(party=DEPT, at=cst(2026, 3, 2, 11), actor="d")
    assert p.state is PackageState.SIGNED


def test_an_exception_stops_the_package():
    p = package()
    p.seal(at=cst(2026, 3, 2, 10), actor="w")
    p.pick_up(courier="c", at=cst(2026, 3, 2, 14), actor="c")
    p.report_exception(kind=ExceptionKind.DAMAGED, note="外包装破损，雨淋", at=cst(2026, 3, 2, 16), actor="c")
    assert p.state is PackageState.EXCEPTION
    with pytest.raises(IllegalTransition) as err:
        p.deliver(at=cst(2026, 3, 3), actor="c")
    assert err.value.title.startswith("当前状态为“异常”")


def test_a_batch_is_handed_over_all_or_nothing():
    a, b, c = package(1), package(2), package(3)
    for p in (a, b):
        p.seal(at=cst(2026, 3, 2, 10), actor="w")
    with pytest.raises(IllegalTransition):
        hand_over_batch(
            [a, b, c], manifest_id="m1", office_id="win-441581", courier="c-07", at=cst(2026, 3, 2, 14), actor="c-07"
        )
    assert a.state is PackageState.SEALED  # nothing changed
    manifest = hand_over_batch(
        [a, b], manifest_id="m1", office_id="win-441581", courier="c-07", at=cst(2026, 3, 2, 14), actor="c-07"
    )
    assert manifest.package_ids == ("pkg-1", "pkg-2")
    assert all(p.state is PackageState.WITH_COURIER for p in (a, b))
    assert isinstance(a.collect_events()[-1], ev.PackagePickedUp)


def test_a_package_without_movement_for_more_than_three_working_days_is_stalled(calendar):
    p = package()
    p.seal(at=cst(2026, 9, 29, 10), actor="w")
    assert not p.is_stalled(calendar, date(2026, 10, 9))  # 09-30, 10-08, 10-09: three working days
    assert p.is_stalled(calendar, date(2026, 10, 10))  # the make-up Saturday is the fourth
    p.pick_up(courier="c", at=cst(2026, 10, 10, 9), actor="c")
    assert not p.is_stalled(calendar, date(2026, 10, 12))


def test_a_result_handed_to_the_applicant_is_at_the_end_of_its_journey_and_never_stalled(calendar):
    """A mailed result is ``arrived`` for good once the carrier delivered it: the applicant signs
    nothing in Handoff. A result still on its way to the applicant, or one arrived at a window
    and not signed for, stalls as any package does."""
    to_applicant = Package.create(
        package_id="pkg-r",
        code=PackageCode("441500", date(2026, 9, 29), 1),
        case_id="case-1",
        direction=Direction.RESULT,
        medium=Medium.PAPER,
        from_party=DEPT,
        to_party=APPLICANT,
        items=[Item(1, "建设工程规划许可证", pages=1)],
        at=cst(2026, 9, 29, 9),
        actor="dept-clerk",
    )
    to_applicant.seal(at=cst(2026, 9, 29, 10), actor="dept-clerk", carrier="ems")
    to_applicant.pick_up(courier="ems", at=cst(2026, 9, 29, 11), actor="carrier:ems")
    assert to_applicant.on_its_way and to_applicant.is_stalled(calendar, date(2026, 10, 10))
    to_applicant.deliver(at=cst(2026, 9, 30, 15), actor="carrier:ems", note="签收人：王五")
    assert to_applicant.state is PackageState.ARRIVED
    assert not to_applicant.on_its_way
    assert not to_applicant.is_stalled(calendar, date(2026, 12, 31))
    at_window = travelled_without_signature()
    assert at_window.on_its_way and at_window.is_stalled(calendar, date(2026, 3, 20))


def travelled_without_signature() -> Package:
    p = package()
    p.seal(at=cst(2026, 3, 2, 10), actor="clerk-lf", carrier="internal")
    p.pick_up(courier="c-07", at=cst(2026, 3, 2, 14), actor="c-07")
    p.deliver(at=cst(2026, 3, 3, 9), actor="c-07")
    return p


FIELDS = ["kind", "from_party", "to_party", "actor", "place", "note", "server_time", "evidence", "discrepancies"]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 5), st.sampled_from(FIELDS))
def test_tampering_with_any_custody_event_is_detected_at_that_event(index, field_name):
    p = travelled()
    original = p.custody[index]
    changes = {
        "kind": CustodyKind.EXCEPTION if original.kind is not CustodyKind.EXCEPTION else CustodyKind.SIGNED,
        "from_party": original.from_party + "x",
        "to_party": original.to_party + "x",
        "actor": original.actor + "x",
        "place": original.place + "x",
        "note": original.note + "x",
        "server_time": cst(2020, 1, 1),
        "evidence": (*original.evidence, "0" * 64),
        "discrepancies": (*original.discrepancies, Discrepancy(1, DiscrepancyKind.MISSING)),
    }
    p.custody[index] = replace(original, **{field_name: changes[field_name]})
    check = p.verify()
    assert not check.ok and check.broken_at == index + 1


def test_rehashing_an_edited_event_still_breaks_the_next_link():
    p = travelled()
    edited = replace(p.custody[2], actor="someone-else")
    p.custody[2] = replace(edited, hash=edited.computed_hash())
    check = p.verify()
    assert not check.ok and check.broken_at == 4 and "不衔接" in check.reason


def test_a_deleted_or_reordered_event_is_detected():
    p = travelled()
    del p.custody[3]
    assert p.verify().broken_at == 4
    q = travelled()
    q.custody[2], q.custody[3] = q.custody[3], q.custody[2]
    assert q.verify().broken_at == 3


def test_evidence_must_be_a_sha256_reference():
    p = package()
    p.seal(at=cst(2026, 3, 2, 10), actor="w")
    with pytest.raises(InvalidInput):
        p.pick_up(courier="c", at=cst(2026, 3, 2, 14), actor="c", evidence=["photo.jpg"])


def test_the_couriers_confirmation_of_a_hand_over_may_be_timed_before_it_but_not_before_the_sealing():
    """The courier taps 揽收 while the clerk is still recording the hand-over (issue 17): the
    phone's time precedes the hand-over; it may not precede the sealing."""
    early, late = package(1), package(2)
    for p in (early, late):
        p.seal(at=cst(2026, 3, 2, 10), actor="w")
        hand_over_batch(
            [p], manifest_id=f"m-{p.id}", office_id="win-441581", courier="c-07", at=cst(2026, 3, 2, 14), actor="w"
        )
    early.pick_up(courier="c-07", at=cst(2026, 3, 2, 14, 1), actor="c-07", client_time=cst(2026, 3, 2, 13, 50))
    assert [e.note for e in early.custody[-2:]] == ["交接单 m-pkg-1", "快递员确认揽收"]
    with pytest.raises(InvalidInput, match="早于揽收时间"):
        late.pick_up(courier="c-07", at=cst(2026, 3, 2, 14, 1), actor="c-07", client_time=cst(2026, 3, 2, 9, 30))
    assert len(late.custody) == 3  # created, sealed, handed over: nothing added
