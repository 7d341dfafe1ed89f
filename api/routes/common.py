"""What every route module shares: the route table, the role sets, the views' schemas and the
helpers that read the request's case or package in its unit of work."""

from __future__ import annotations

import logging
from typing import Any

from adapters.db.repositories import SqlUnitOfWork
from api.auth import Role
from api.authority import can_read_case, can_read_package
from api.container import Container
from api.keys import CONTAINER
from api.problems import Problem
from api.routing import (
    DATETIME,
    INT,
    STR,
    Api,
    Ctx,
    array,
    enum,
    nullable,
    obj,
    text,
)
from api.views import case_view, package_view
from handoff.case import Case
from handoff.package import Package
from handoff.services import (
    CaseCommand,
    NotFound,
    dispatch,
)
from handoff.timeutil import local_date

API = Api()
log = logging.getLogger("handoff.api")

STAFF = {Role.WINDOW_CLERK, Role.DEPT_CLERK, Role.DEPT_LEAD, Role.SUPERVISOR, Role.ADMIN}
WINDOW = {Role.WINDOW_CLERK}
DEPT = {Role.DEPT_CLERK}
COURIER = {Role.COURIER}

CASE_VIEW = obj(
    ["id", "state", "state_zh", "version", "matter", "applicant", "materials", "stages", "clock", "next_actions"],
    extra=True,
    id=STR,
    state=STR,
    state_zh=STR,
    version=INT,
    matter=obj(["id", "name"], extra=True, id=STR, name=STR),
    applicant=obj(["name", "phone"], extra=True, name=STR, phone=STR, id_number_masked=nullable(STR)),
    materials=array(obj(["name"], extra=True, name=STR)),
    stages=array(obj(["id", "type", "start_on"], extra=True, id=STR, type=STR, start_on=STR)),
    clock=nullable(obj(["due_date", "used", "remaining"], extra=True, due_date=STR, used=INT, remaining=INT)),
    next_actions=array(STR),
    tracking_url=STR,
)
PACKAGE_VIEW = obj(
    ["id", "code", "case_id", "state", "scan_payload", "items", "next_actions"],
    extra=True,
    id=STR,
    code=STR,
    case_id=STR,
    state=STR,
    scan_payload=STR,
    items=array(obj(["seq", "name"], extra=True, seq=INT, name=STR)),
    next_actions=array(STR),
)
EVIDENCE = array(
    obj(["content_type", "data_base64"], content_type=enum(["image/png", "image/jpeg"]), data_base64=text(4_000_000)),
    max_items=4,
)
COURIER_BODY = obj(
    [],
    client_time=DATETIME,
    place=text(200, 0),
    evidence=EVIDENCE,
)


def container(ctx: Ctx) -> Container:
    return ctx.request.app[CONTAINER]


def today(c: Container) -> Any:
    return local_date(c.deps.clock.now())


async def visible_case(ctx: Ctx, case_id: str, uow: SqlUnitOfWork) -> Case:
    case = await uow.cases.get(case_id)
    if case is None or not can_read_case(ctx.who, case, ctx.office_regions):
        raise NotFound(f"办件 {case_id} 不存在")
    return case


async def in_scope(ctx: Ctx, *office_ids: str) -> bool:
    who = ctx.who
    if who.scope.everything:
        return True
    known = ctx.office_regions
    return who.scope.covers_any((o, known[o]) for o in office_ids if o in known)


async def visible_package(ctx: Ctx, package_id: str, uow: SqlUnitOfWork) -> Package:
    package = await uow.packages.get(package_id)
    if package is None or not can_read_package(ctx.who, package, ctx.office_regions):
        raise NotFound(f"材料包 {package_id} 不存在")
    return package


async def run_case(ctx: Ctx, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """A command on the path's case, in the request's unit of work; the answer is the case as it
    is being committed."""
    c, case = container(ctx), ctx.case
    assert case is not None
    await dispatch(CaseCommand(case_id=case.id, name=name, actor=ctx.who.user_id, args=args or {}), ctx.uow, c.deps)
    return case_view(case, c.deps.calendar, today(c))


def package_answer(ctx: Ctx, package_id: str) -> dict[str, Any]:
    """The package as the request's command left it (already held by the unit of work)."""
    package = ctx.uow.known("package", package_id)
    assert isinstance(package, Package)
    return package_view(package, payload_for(container(ctx), package))


def payload_for(c: Container, package: Package) -> str:
    return c.signer.sign_package(package.code)


def party_error(field_: str, message: str) -> Problem:
    return Problem(422, message, kind="unknown_party", errors=[{"field": field_, "message": message}])
