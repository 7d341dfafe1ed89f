"""Bearer tokens (only their SHA-256 is stored) carrying a role and a scope (handoff/access.py).
Objects outside the scope answer 404, as if they did not exist."""

from __future__ import annotations

from dataclasses import dataclass

from handoff.access import ROLE_ZH, Role, Scope

__all__ = ["ROLE_ZH", "Principal", "Role", "Scope"]


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    role: Role
    scope: Scope
