"""Who may do what: staff roles, and scopes over offices and regions.

A scope is a comma-separated list of ``office:ID`` entries and ``region:PREFIX`` entries (a
6-digit administrative division code prefix: ``region:4415`` is 汕尾市 and everything in it), or
``*`` for the whole province's administrators. The API answers 404 for objects outside a caller's
scope; the workers use the same scopes to find the staff an SMS is for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from handoff.errors import InvalidInput


class Role(StrEnum):
    WINDOW_CLERK = "window_clerk"
    DEPT_CLERK = "dept_clerk"
    DEPT_LEAD = "dept_lead"
    COURIER = "courier"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_ZH = {
    Role.WINDOW_CLERK: "代收窗口人员",
    Role.DEPT_CLERK: "审批部门人员",
    Role.DEPT_LEAD: "分管领导",
    Role.COURIER: "快递员",
    Role.SUPERVISOR: "监管人员",
    Role.ADMIN: "管理员",
}


@dataclass(frozen=True)
class Scope:
    everything: bool
    offices: frozenset[str]
    regions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope:
        text = text.strip()
        if text == "*":
            return cls(True, frozenset(), ())
        offices: set[str] = set()
        regions: list[str] = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            kind, _, value = part.partition(":")
            if kind == "office" and value:
                offices.add(value)
            elif kind == "region" and value.isdigit() and 1 <= len(value) <= 6:
                regions.append(value)
            else:
                raise InvalidInput(f"范围 “{part}” 无效，应为 office:编号、region:区划代码前缀 或 *")
        if not offices and not regions:
            raise InvalidInput("范围不能为空")
        return cls(False, frozenset(offices), tuple(regions))

    def __str__(self) -> str:
        if self.everything:
            return "*"
        return ",".join([*(f"office:{o}" for o in sorted(self.offices)), *(f"region:{r}" for r in self.regions)])

    def covers_office(self, office_id: str, region_code: str) -> bool:
        return self.everything or office_id in self.offices or any(region_code.startswith(r) for r in self.regions)

    def covers_any(self, offices: Iterable[tuple[str, str]]) -> bool:
        return any(self.covers_office(o, r) for o, r in offices)

    def covers_region(self, code: str) -> bool:
        """A region (or region prefix) lies wholly inside the scope's regions."""
        return self.everything or any(code.startswith(r) for r in self.regions)

    def contains(self, other: Scope, office_regions: Mapping[str, str]) -> bool:
        """Everything ``other`` reaches is reachable with this scope too (so an admin can grant
        it without granting more than they hold). ``office_regions``: office id → region code."""
        if self.everything:
            return True
        if other.everything:
            return False
        return all(self.covers_office(o, office_regions.get(o, "")) for o in other.offices) and all(
            self.covers_region(r) for r in other.regions
        )
