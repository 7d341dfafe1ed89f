"""Application services: one handler per command of DESIGN §3–§4.

Each handler is ``async def handle_x(cmd, uow, deps) -> list[Event]``: it opens the unit of work,
loads aggregates through its repositories, calls one aggregate method (the aggregate guards its
own rules), saves, commits — and the unit of work writes the rows and the outbox in the same
transaction. :data:`HANDLERS` lists them all; :func:`dispatch` runs the one for a command.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from handoff import events as ev
from handoff.case import Applicant, Case, CaseState, MaterialSubmission, Outcome
from handoff.clock import add_working_days
from handoff.codes import PackageCode, TrackingTokens
from handoff.errors import DomainError, IllegalTransition, InvalidInput
from handoff.matter import Delivery, Mode, StageType
from handoff.package import (
    APPLICANT,
    DEFAULT_OFFLINE_MAX_DAYS,
    Direction,
    Discrepancy,
    ExceptionKind,
    Item,
    Medium,
    Method,
    Package,
    PackageState,
    Purpose,
    hand_over_batch,
    party_office,
)
from handoff.ports import Calendar, Clock, Office, TrackingEvent, TrackingStatus, UnitOfWork
from handoff.timeutil import local_date


class NotFound(DomainError):
    """The object does not exist (or is outside the caller's scope: the API answers 404 alike)."""

    code = "not_found"


@dataclass(frozen=True)
class Deps:
    """What handlers need besides the unit of work."""

    clock: Clock
    calendar: Calendar
    tracking: TrackingTokens
    new_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    offline_max_days: int = DEFAULT_OFFLINE_MAX_DAYS
    """How old a courier's offline report may be when it finally arrives (HANDOFF_OFFLINE_MAX_DAYS)."""


# =========================================================================== commands


@dataclass(frozen=True)
class RegisterCase:
    matter_id: str
    mode: Mode
    delivery: Delivery
    applicant_name: str
    applicant_phone: str
    window_office_id: str
    materials: Sequence[MaterialSubmission]
    actor: str
    applicant_id_number: str | None = None
    applicant_address: str = ""
    applicant_organisation: str = ""
    tolerated: Sequence[str] = ()
    case_id: str | None = None
    applicant_region_code: str | None = None
    """属地: the applicant's region, which decides the department (the matter's own department
    when not given)."""


@dataclass(frozen=True)
class SealOutbound:
    """Make the package of a collected case's materials and seal it (prints the slip)."""

    case_id: str
    actor: str
    carrier: str | None = None
    electronic: bool = False


@dataclass(frozen=True)
class TakeInAtWindow:
    """补正 / 容缺 materials brought to the remote window, sealed into a supplement package."""

    case_id: str
    items: Sequence[Item]
    actor: str
    carrier: str | None = None


@dataclass(frozen=True)
class HandOverBatch:
    office_id: str
    courier: str
    package_ids: Sequence[str]
    actor: str


@dataclass(frozen=True)
class CourierReport:
    """picked_up / in_transit / delivered, from the courier API or a carrier's tracking."""

    package_id: str
    step: str
    courier: str
    actor: str
    method: Method = Method.COURIER_API
    client_time: Any = None
    place: str = ""
    evidence: Sequence[str] = ()


@dataclass(frozen=True)
class SignPackage:
    package_id: str
    office_id: str
    actor: str
    discrepancies: Sequence[Discrepancy] = ()
    evidence: Sequence[str] = ()


@dataclass(frozen=True)
class ReportPackageException:
    package_id: str
    kind: ExceptionKind
    note: str
    actor: str


@dataclass(frozen=True)
class CaseCommand:
    """A command on one case with no more than a few plain arguments (accept, decide, …)."""

    case_id: str
    name: str
    actor: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AssignWaybill:
    package_id: str
    carrier: str
    waybill: str


@dataclass(frozen=True)
class ApplyTracking:
    """A carrier's movement (pushed or polled), normalised by its adapter."""

    event: TrackingEvent


@dataclass(frozen=True)
class ShipResult:
    case_id: str
    actor: str
    carrier: str | None = None


# =========================================================================== handlers


async def handle_register_case(cmd: RegisterCase, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    at = deps.clock.now()
    async with uow:
        matter = await uow.matters.get(cmd.matter_id)
        if matter is None:
            raise NotFound(f"事项 {cmd.matter_id} 不存在")
        window = await _office(uow, cmd.window_office_id, "window")
        applicant = Applicant.create(
            cmd.applicant_name,
            cmd.applicant_phone,
            cmd.applicant_id_number,
            cmd.applicant_address,
            cmd.applicant_organisation,
            cmd.applicant_region_code,
        )
        names = await uow.offices.region_names() if matter.implementations or applicant.region_code else {}
        if applicant.region_code and applicant.region_code not in names:
            raise InvalidInput(f"申请人所属区划 {applicant.region_code} 不存在，请从区划列表中选择")
        implementation = matter.route(applicant.region_code or None, window.region_code, names)
        home = await _office(
            uow, implementation.department_office_id if implementation else matter.department_office_id, "department"
        )
        department = await _deciding_department(uow, cmd.mode, window, matter.id, home.id)
        case_id = cmd.case_id or deps.new_id()
        iou_due = add_working_days(deps.calendar, local_date(at), matter.iou_days).due if cmd.tolerated else None
        day = local_date(at)
        case_no = PackageCode(window.region_code, day, await uow.packages.next_sequence(window.region_code, day))
        case = Case.register(
            case_id=case_id,
            matter=matter,
            mode=cmd.mode,
            delivery=cmd.delivery,
            applicant=applicant,
            window_office_id=window.id,
            department_office_id=department.id,
            submitted=cmd.materials,
            tolerated=cmd.tolerated,
            iou_due_on=iou_due,
            tracking_token_hash=deps.tracking.hash_for(case_id),
            at=at,
            actor=cmd.actor,
            case_no=str(case_no),
            home_office_id=home.id,
        )
        await uow.cases.add(case)
        return await _commit(uow, case)


async def handle_seal_outbound(cmd: SealOutbound, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    at = deps.clock.now()
    async with uow:
        case = await _case(uow, cmd.case_id)
        window = await _office(uow, case.window_office_id, "window")
        day = local_date(at)
        code = PackageCode(window.region_code, day, await uow.packages.next_sequence(window.region_code, day))
        items = [
            Item(seq=n, name=m.name, copies=m.copies, pages=m.pages, original=m.original, remarks=m.remarks)
            for n, m in enumerate(case.materials, start=1)
        ]
        package = Package.create(
            package_id=deps.new_id(),
            code=code,
            case_id=case.id,
            direction=Direction.OUTBOUND,
            medium=Medium.ELECTRONIC if cmd.electronic else Medium.PAPER,
            from_party=party_office(window.id),
            to_party=party_office(case.department_office_id),
            items=items,
            at=at,
            actor=cmd.actor,
        )
        if cmd.electronic:
            package.push(at=at, actor=cmd.actor)
            case.forward(at=at, actor=cmd.actor)  # pushed: the materials have left the window
        else:
            if case.state is not CaseState.COLLECTED:
                raise IllegalTransition("case", case.state.value, "seal_package", "材料已封装或已流转")
            package.seal(at=at, actor=cmd.actor, carrier=cmd.carrier or window.carrier)
        await uow.packages.add(package)
        await uow.cases.add(case)
        return await _commit(uow, case, package)


async def handle_take_in_at_window(cmd: TakeInAtWindow, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    at = deps.clock.now()
    async with uow:
        case = await _case(uow, cmd.case_id)
        window = await _office(uow, case.window_office_id, "window")
        day = local_date(at)
        code = PackageCode(window.region_code, day, await uow.packages.next_sequence(window.region_code, day))
        package = Package.create(
            package_id=deps.new_id(),
            code=code,
            case_id=case.id,
            direction=Direction.OUTBOUND,
            medium=Medium.PAPER,
            from_party=party_office(window.id),
            to_party=party_office(case.department_office_id),
            items=[replace(item, seq=n) for n, item in enumerate(cmd.items, start=1)],
            at=at,
            actor=cmd.actor,
            purpose=Purpose.SUPPLEMENT,
        )
        case.take_in_at_window(items=[i.name for i in cmd.items], package_id=package.id, at=at, actor=cmd.actor)
        package.seal(at=at, actor=cmd.actor, carrier=cmd.carrier or window.carrier)
        await uow.packages.add(package)
        await uow.cases.add(case)
        return await _commit(uow, case, package)


async def handle_hand_over_batch(cmd: HandOverBatch, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    at = deps.clock.now()
    async with uow:
        packages = [await _package(uow, pid) for pid in cmd.package_ids]
        manifest = hand_over_batch(
            packages, manifest_id=deps.new_id(), office_id=cmd.office_id, courier=cmd.courier, at=at, actor=cmd.actor
        )
        cases = [await _left_sender(uow, package, at, cmd.actor) for package in packages]
        for package in packages:
            await uow.packages.add(package)
        await uow.packages.add_manifest(manifest)
        return await _commit(uow, *{c.id: c for c in cases if c is not None}.values(), *packages)


async def handle_courier_report(cmd: CourierReport, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    at = deps.clock.now()
    async with uow:
        package = await _package(uow, cmd.package_id)
        common: dict[str, Any] = {
            "at": at,
            "actor": cmd.actor,
            "method": cmd.method,
            "client_time": cmd.client_time,
            "offline_max_days": deps.offline_max_days,
        }
        case: Case | None = None
        if cmd.step == "picked_up":
            taken = package.state is PackageState.SEALED
            package.pick_up(courier=cmd.courier, place=cmd.place, evidence=cmd.evidence, **common)
            if taken:
                case = await _left_sender(uow, package, at, cmd.actor)
        elif cmd.step == "in_transit":
            package.report_in_transit(place=cmd.place, **common)
        elif cmd.step == "delivered":
            package.deliver(place=cmd.place, evidence=cmd.evidence, **common)
        else:
            raise InvalidInput(f"未知的快递环节 “{cmd.step}”")
        await uow.packages.add(package)
        return await _commit(uow, *([case] if case else []), package)


async def handle_sign_package(cmd: SignPackage, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    """签收. Signing the outbound package is the department's receipt of the case; signing a
    result package at the window makes the result ready for pickup."""
    at = deps.clock.now()
    async with uow:
        package = await _package(uow, cmd.package_id)
        package.sign(
            party=party_office(cmd.office_id),
            at=at,
            actor=cmd.actor,
            discrepancies=cmd.discrepancies,
            evidence=cmd.evidence,
        )
        case = await _case(uow, package.case_id)
        if package.purpose is Purpose.SUPPLEMENT:
            case.supplied_by_package(items=[i.name for i in package.items], at=at, actor=cmd.actor)
        elif package.direction is Direction.OUTBOUND:
            case.receive(at=at, actor=cmd.actor)
        elif package.to_party == party_office(case.window_office_id) and case.state is CaseState.RESULT_SHIPPED:
            case.ready_for_pickup(office_id=case.window_office_id, at=at, actor=cmd.actor)
        await uow.packages.add(package)
        await uow.cases.add(case)
        return await _commit(uow, case, package)


async def handle_package_exception(cmd: ReportPackageException, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    async with uow:
        package = await _package(uow, cmd.package_id)
        package.report_exception(kind=cmd.kind, note=cmd.note, at=deps.clock.now(), actor=cmd.actor)
        await uow.packages.add(package)
        return await _commit(uow, package)


async def handle_ship_result(cmd: ShipResult, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    """The decision goes back. A paper result is sealed into a result package (to the applicant or
    the window); the case is ``result_shipped`` only when that package leaves the department. A
    result collected at the department is ready for pickup at once; an electronic one is sent and
    delivered."""
    at = deps.clock.now()
    async with uow:
        case = await _case(uow, cmd.case_id)
        if case.delivery is Delivery.PICKUP_AT_DEPARTMENT:
            case.ready_for_pickup(office_id=case.department_office_id, at=at, actor=cmd.actor)
            await uow.cases.add(case)
            return await _commit(uow, case)
        if case.delivery is Delivery.ELECTRONIC:
            case.ship_result(at=at, actor=cmd.actor)
            case.deliver(at=at, actor=cmd.actor)
            await uow.cases.add(case)
            return await _commit(uow, case)
        if case.state is not CaseState.DECIDED:
            raise IllegalTransition("case", case.state.value, "ship_result")
        waiting = [
            p
            for p in await uow.packages.for_case(case.id)
            if p.direction is Direction.RESULT and p.state is not PackageState.EXCEPTION
        ]
        if waiting:
            raise IllegalTransition(
                "case", case.state.value, "ship_result", f"结果材料包 {waiting[0].code} 已封装，待交快递"
            )
        department = await _office(uow, case.department_office_id, "department")
        day = local_date(at)
        code = PackageCode(department.region_code, day, await uow.packages.next_sequence(department.region_code, day))
        to = APPLICANT if case.delivery is Delivery.MAIL_TO_APPLICANT else party_office(case.window_office_id)
        package = Package.create(
            package_id=deps.new_id(),
            code=code,
            case_id=case.id,
            direction=Direction.RESULT,
            medium=Medium.PAPER,
            from_party=party_office(department.id),
            to_party=to,
            items=[Item(seq=1, name=f"{case.matter.name}办理结果", copies=1)],
            at=at,
            actor=cmd.actor,
        )
        package.seal(at=at, actor=cmd.actor, carrier=cmd.carrier or department.carrier)
        await uow.packages.add(package)
        return await _commit(uow, package)


async def _left_sender(uow: UnitOfWork, package: Package, at: Any, actor: str) -> Case | None:
    """A package was just taken from its sender: its case says so — forwarded (the materials left
    the window) or result shipped (the result left the department). The case, if it changed."""
    case = await _case(uow, package.case_id)
    if package.direction is Direction.OUTBOUND and case.state is CaseState.COLLECTED:
        case.forward(at=at, actor=actor)
    elif package.direction is Direction.RESULT and case.state is CaseState.DECIDED:
        case.ship_result(at=at, actor=actor, result_package_id=package.id)
    else:
        return None
    await uow.cases.add(case)
    return case


async def handle_assign_waybill(cmd: AssignWaybill, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    async with uow:
        package = await _package(uow, cmd.package_id)
        package.assign_waybill(carrier=cmd.carrier, waybill=cmd.waybill, at=deps.clock.now())
        await uow.packages.add(package)
        return await _commit(uow, package)


TRACKING_STEPS: dict[TrackingStatus, tuple[PackageState, ...]] = {
    TrackingStatus.PICKED_UP: (PackageState.SEALED,),
    TrackingStatus.IN_TRANSIT: (PackageState.WITH_COURIER, PackageState.IN_TRANSIT),
    TrackingStatus.OUT_FOR_DELIVERY: (PackageState.WITH_COURIER, PackageState.IN_TRANSIT),
    TrackingStatus.DELIVERED: (PackageState.WITH_COURIER, PackageState.IN_TRANSIT, PackageState.SIGNED),
    TrackingStatus.EXCEPTION: (PackageState.SEALED, PackageState.WITH_COURIER, PackageState.IN_TRANSIT),
    TrackingStatus.RETURNED: (PackageState.SEALED, PackageState.WITH_COURIER, PackageState.IN_TRANSIT),
}


async def handle_apply_tracking(cmd: ApplyTracking, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    """A carrier movement becomes a custody event of the package with that waybill. Movements
    that no longer fit the package's state (late, repeated or out of order — carriers push them
    all) change nothing: the carrier's own record keeps them."""
    e = cmd.event
    async with uow:
        package = await uow.packages.by_waybill(e.carrier, e.waybill)
        if package is None or package.state not in TRACKING_STEPS.get(e.status, ()):
            return []
        at, actor = deps.clock.now(), f"carrier:{e.carrier}"
        common: dict[str, Any] = {"at": at, "actor": actor, "method": Method.CARRIER_PUSH, "client_time": e.occurred_at}
        case: Case | None = None
        if e.status is TrackingStatus.PICKED_UP:
            package.pick_up(courier=e.carrier, place=e.place, **common)
            case = await _left_sender(uow, package, at, actor)
        elif e.status in (TrackingStatus.IN_TRANSIT, TrackingStatus.OUT_FOR_DELIVERY):
            package.report_in_transit(place=e.place, note=e.description, **common)
        elif e.status is TrackingStatus.DELIVERED:
            package.deliver(place=e.place, **common)
        else:
            kind = ExceptionKind.REFUSED if e.status is TrackingStatus.RETURNED else ExceptionKind.OTHER
            package.report_exception(kind=kind, note=e.reason or e.description or e.raw_code, at=at, actor=actor)
        await uow.packages.add(package)
        return await _commit(uow, *([case] if case else []), package)


CASE_COMMANDS: dict[str, Callable[[Case, dict[str, Any], Any, str], None]] = {
    "accept": lambda c, a, at, actor: c.accept(at=at, actor=actor),
    "reject": lambda c, a, at, actor: c.reject(reason=a["reason"], at=at, actor=actor),
    "supplement_supplied": lambda c, a, at, actor: c.supplement_supplied(at=at, actor=actor),
    "close_unsupplemented": lambda c, a, at, actor: c.close_unsupplemented(
        opinion=a.get("opinion"), at=at, actor=actor
    ),
    "close_stage": lambda c, a, at, actor: c.close_stage(
        stage_id=a["stage_id"], end_on=a.get("end_on"), at=at, actor=actor
    ),
    "fulfil_iou": lambda c, a, at, actor: c.fulfil_iou(material=a["material"], at=at, actor=actor),
    "decide": lambda c, a, at, actor: c.decide(outcome=Outcome(a["outcome"]), opinion=a["opinion"], at=at, actor=actor),
    "deliver": lambda c, a, at, actor: c.deliver(at=at, actor=actor),
    "register_pickup": lambda c, a, at, actor: c.register_pickup(
        office_id=a["office_id"],
        receiver_name=a["receiver_name"],
        receiver_id_number=a.get("receiver_id_number"),
        by_proxy=a["by_proxy"],
        at=at,
        actor=actor,
        id_type=a.get("id_type", "resident_id"),
        method=a.get("method", "window"),
        note=a.get("note", ""),
    ),
    "archive": lambda c, a, at, actor: c.archive(at=at, actor=actor),
    "withdraw": lambda c, a, at, actor: c.withdraw(reason=a["reason"], at=at, actor=actor),
    "rate": lambda c, a, at, actor: c.rate(score=a["score"], comment=a.get("comment", ""), at=at, actor=actor),
    "rectify_rating": lambda c, a, at, actor: c.rectify_rating(note=a["note"], at=at, actor=actor),
    "copy_to_lead": lambda c, a, at, actor: c.copy_to_lead(lead=a["lead"], note=a.get("note", ""), at=at, actor=actor),
    "remark": lambda c, a, at, actor: c.remark(lead=actor, remark=a["remark"], at=at),
    "correct_phone": lambda c, a, at, actor: c.correct_phone(phone=a["phone"], reason=a["reason"], at=at, actor=actor),
}


CLOCK_COMMANDS: dict[str, Callable[[Case, dict[str, Any], Any, str, Calendar], None]] = {
    # The commands that may pause or lengthen the clock: their guards read it on the calendar.
    "request_supplement": lambda c, a, at, actor, cal: c.request_supplement(
        items=a["items"], due_on=a["due_on"], reason=a.get("reason", ""), at=at, actor=actor, calendar=cal
    ),
    "open_stage": lambda c, a, at, actor, cal: _ignore(
        c.open_stage(
            stage_type=StageType(a["stage_type"]),
            reason=a["reason"],
            legal_basis=a["legal_basis"],
            expected_days=a.get("expected_days"),
            start_on=a.get("start_on"),
            approved_by=a.get("approved_by"),
            at=at,
            actor=actor,
            calendar=cal,
        )
    ),
    "extend": lambda c, a, at, actor, cal: c.extend(
        days=a["days"], approver=a["approver"], reason=a["reason"], at=at, actor=actor, calendar=cal
    ),
}


async def handle_case_command(cmd: CaseCommand, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    plain, timed = CASE_COMMANDS.get(cmd.name), CLOCK_COMMANDS.get(cmd.name)
    if plain is None and timed is None:
        raise InvalidInput(f"未知的办件操作 “{cmd.name}”")
    async with uow:
        case = await _case(uow, cmd.case_id)
        try:
            if timed is not None:
                timed(case, cmd.args, deps.clock.now(), cmd.actor, deps.calendar)
            elif plain is not None:
                plain(case, cmd.args, deps.clock.now(), cmd.actor)
        except KeyError as exc:
            raise InvalidInput(f"缺少参数 {exc.args[0]}") from exc
        except ValueError as exc:
            raise InvalidInput(f"参数取值无效：{exc}") from exc
        await uow.cases.add(case)
        return await _commit(uow, case)


Handler = Callable[[Any, UnitOfWork, Deps], Awaitable[list[ev.Event]]]

HANDLERS: dict[type, Handler] = {
    RegisterCase: handle_register_case,
    TakeInAtWindow: handle_take_in_at_window,
    SealOutbound: handle_seal_outbound,
    HandOverBatch: handle_hand_over_batch,
    CourierReport: handle_courier_report,
    SignPackage: handle_sign_package,
    ReportPackageException: handle_package_exception,
    ShipResult: handle_ship_result,
    CaseCommand: handle_case_command,
    AssignWaybill: handle_assign_waybill,
    ApplyTracking: handle_apply_tracking,
}


async def dispatch(cmd: object, uow: UnitOfWork, deps: Deps) -> list[ev.Event]:
    handler = HANDLERS.get(type(cmd))
    if handler is None:
        raise TypeError(f"no handler for {type(cmd).__name__}")
    return await handler(cmd, uow, deps)


# =========================================================================== helpers


async def _commit(uow: UnitOfWork, *aggregates: Case | Package) -> list[ev.Event]:
    pending = [e for a in aggregates for e in a.events]
    await uow.commit()
    return pending


async def _case(uow: UnitOfWork, case_id: str) -> Case:
    case = await uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"办件 {case_id} 不存在")
    return case


async def _package(uow: UnitOfWork, package_id: str) -> Package:
    package = await uow.packages.get(package_id)
    if package is None:
        raise NotFound(f"材料包 {package_id} 不存在")
    return package


async def _office(uow: UnitOfWork, office_id: str, kind: str) -> Office:
    office = await uow.offices.get(office_id)
    if office is None or office.kind != kind:
        raise NotFound(f"{'代收窗口' if kind == 'window' else '审批部门'} {office_id} 不存在")
    return office


async def _deciding_department(uow: UnitOfWork, mode: Mode, window: Office, matter_id: str, home: str) -> Office:
    if mode is Mode.DELEGATED:
        entrusted = await uow.offices.entrusted_department(window.region_code, matter_id)
        if entrusted is None:
            raise InvalidInput("本地没有受委托办理该事项的单位，不能异地委托审批")
        return entrusted
    return await _office(uow, home, "department")


def _ignore(_: object) -> None:
    return None


def today_in_china(clock: Clock) -> date:
    return local_date(clock.now())
