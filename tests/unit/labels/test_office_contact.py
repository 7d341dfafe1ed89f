"""The notices' contact line: the office's telephone with its opening hours; without a telephone
its address and hours; “见受理窗口” only when nothing is known."""

from __future__ import annotations

from handoff.ports import Office
from labels.from_domain import _contact_phone


def office(office_id: str, **fields: str) -> Office:
    return Office(id=office_id, name=office_id, kind="window", region_code="441581", lat=22.9, lon=115.6, **fields)


def test_the_telephone_comes_with_the_opening_hours():
    offices = {"d": office("d", phone="0660-3311000", hours="工作日 8:30–17:30"), "w": office("w", phone="0660-1")}
    assert _contact_phone(offices, "d", "w") == "0660-3311000（工作日 8:30–17:30）"
    assert _contact_phone(offices, "w", "d") == "0660-1"


def test_without_a_telephone_the_address_and_hours_are_printed_and_the_fallback_only_without_either():
    offices = {"d": office("d"), "w": office("w", address="陆丰市东海大道 1 号", hours="工作日 8:30–17:30")}
    assert _contact_phone(offices, "d", "w") == "陆丰市东海大道 1 号，办公时间 工作日 8:30–17:30"
    assert _contact_phone({"d": office("d")}, "d") == "见受理窗口"
    assert _contact_phone(offices, "d", "w", unknown="") == ""
