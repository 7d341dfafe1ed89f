"""Authority per action (DESIGN §10): which office's scope a command needs.

Reading a case or a package needs either of its offices in the caller's scope (outside it the
object answers 404, as if it did not exist). Acting on it needs the office the action belongs to:
window commands the window office, department commands the deciding department, signing the
receiving office; couriers act only on what they hold or were handed. Each route of api/routes.py
names its :class:`Authority` once; the endpoint (api/app.py) loads the aggregate, checks the
authority and answers 403 in Chinese before the handler runs, so a refused action changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from api.auth import Principal, Role
from api.problems import Problem
from handoff.case import Case
from handoff.matter import Delivery
from handoff.package import Package, PackageState, party_courier


class Authority(StrEnum):
    WINDOW = "window"
    """The case's proxy window (代收窗口): seal, withdraw at the window, supplements taken in."""
    DEPARTMENT = "department"
    """The case's deciding department (属地审批部门): accept, reject, supplement, stages, decide …"""
    OWN_OFFICE = "own_office"
    """Window clerks for the case's window, department clerks for its department (撤回, 容缺补齐)."""
    PICKUP_OFFICE = "pickup_office"
    """The office where the applicant collects the result (发放登记)."""
    RESULT_DELIVERY = "result_delivery"
    """The deciding department, or the courier holding the result package (结果送达)."""
    RECEIVER = "receiver"
    """The package's receiving office (签收)."""
    PICKUP = "pickup"
    """揽收: a package handed to the courier (manifest), or sealed at an office in the courier's
    scope for our own couriers."""
    HOLDER = "holder"
    """The courier holding the package (or, for its one late 送达 report, the courier who handed
    it to the receiver who signed)."""
    SUPERVISION = "supervision"
    """督办: a supervisor whose scope covers the case's deciding department (the one 督办 is for)."""
    PACKAGE_PARTY = "package_party"
    """The courier holding the package, or a clerk of its sending or receiving office (异常)."""


def _covers(who: Principal, office_id: str | None, regions: Mapping[str, str]) -> bool:
    if office_id is None:
        return False
    return who.scope.everything or (office_id in regions and who.scope.covers_office(office_id, regions[office_id]))


def _office(party: str) -> str | None:
    return party.split(":", 1)[1] if party.startswith("office:") else None


def _refuse(what: str) -> Problem:
    return Problem(403, f"无权操作：{what}", kind="forbidden_action")


def can_read_case(who: Principal, case: Case, regions: Mapping[str, str]) -> bool:
    """Either office of the case in scope (or, for a courier, a package of it in hand: see
    :func:`can_read_package`)."""
    return _covers(who, case.window_office_id, regions) or _covers(who, case.department_office_id, regions)


def can_read_package(who: Principal, package: Package, regions: Mapping[str, str]) -> bool:
    """A courier sees what they hold (and what they handed over last); staff a package of an
    office in scope."""
    if who.role is Role.COURIER:
        me = party_courier(who.user_id)
        if package.holder == me or (package.custody and package.custody[-1].from_party == me):
            return True
    return _covers(who, _office(package.from_party), regions) or _covers(who, _office(package.to_party), regions)


def check_case(authority: Authority, who: Principal, case: Case, regions: Mapping[str, str]) -> None:
    """Raise 403 unless ``who`` may take an action of ``authority`` on ``case``."""
    window, department = case.window_office_id, case.department_office_id
    if authority is Authority.WINDOW:
        if not _covers(who, window, regions):
            raise _refuse("该操作只能由办件的代收窗口办理")
    elif authority is Authority.DEPARTMENT:
        if not _covers(who, department, regions):
            raise _refuse("该操作只能由办件的审批部门办理")
    elif authority is Authority.OWN_OFFICE:
        office = window if who.role is Role.WINDOW_CLERK else department
        if not _covers(who, office, regions):
            where = "代收窗口" if who.role is Role.WINDOW_CLERK else "审批部门"
            raise _refuse(f"您不是该办件{where}的工作人员")
    elif authority is Authority.PICKUP_OFFICE:
        office = department if case.delivery is Delivery.PICKUP_AT_DEPARTMENT else window
        if not _covers(who, office, regions):
            raise _refuse("办理结果不在您的单位领取")
    elif authority is Authority.RESULT_DELIVERY:
        if who.role is not Role.COURIER and not _covers(who, department, regions):
            raise _refuse("该操作只能由办件的审批部门办理")
    elif authority is Authority.SUPERVISION:
        if who.role is not Role.SUPERVISOR or not _covers(who, department, regions):
            raise _refuse("只有管辖该办件审批部门的监管人员可以督办")
    else:
        raise _refuse("该操作不适用于办件")


def check_result_courier(who: Principal, result: Package | None) -> None:
    """A courier reports a result delivered only for the result package they hold."""
    if result is None or result.holder != party_courier(who.user_id):
        raise _refuse("您没有持有该办件的结果材料包")


def check_package(
    authority: Authority, who: Principal, package: Package, regions: Mapping[str, str], *, internal_carrier: str
) -> None:
    """Raise 403 unless ``who`` may take an action of ``authority`` on ``package``."""
    me = party_courier(who.user_id)
    sender, receiver = _office(package.from_party), _office(package.to_party)
    if authority is Authority.RECEIVER:
        if not _covers(who, receiver, regions):
            raise _refuse("只有收件单位可以签收该材料包")
    elif authority is Authority.HOLDER:
        last = package.custody[-1] if package.custody else None
        handed_by_me = package.state is PackageState.SIGNED and last is not None and last.from_party == me
        if package.holder != me and not handed_by_me:
            raise _refuse("该材料包不在您手中")
    elif authority is Authority.PICKUP:
        if package.holder == me:
            return
        sealed_for_us = (
            package.state is PackageState.SEALED
            and (package.carrier or internal_carrier) == internal_carrier
            and _covers(who, sender, regions)
        )
        if not sealed_for_us:
            raise _refuse("该材料包不在您手中，也没有交接给您")
    elif authority is Authority.PACKAGE_PARTY:
        if who.role is Role.COURIER:
            if package.holder != me:
                raise _refuse("该材料包不在您手中")
        elif not (_covers(who, sender, regions) or _covers(who, receiver, regions)):
            raise _refuse("您不是该材料包寄出或接收单位的工作人员")
    else:
        raise _refuse("该操作不适用于材料包")
