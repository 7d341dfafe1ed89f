"""Domain errors. Each carries a Chinese message for the person who reads it and the facts a
program needs (state, command, items), so the API can turn it into a 4xx problem unchanged."""

from __future__ import annotations

from collections.abc import Sequence

from handoff.labels_zh import COMMAND_ZH, STATE_ZH


class DomainError(Exception):
    """Base of every refusal the domain makes. ``title`` is the Chinese sentence a clerk reads."""

    code = "domain_error"

    def __init__(self, title: str) -> None:
        super().__init__(title)
        self.title = title


class InvalidInput(DomainError):
    """A value the domain cannot accept (a bad date range, a score of 7, an empty reason)."""

    code = "invalid_input"


class IllegalTransition(DomainError):
    """A command that the aggregate's current state does not allow."""

    code = "illegal_transition"

    def __init__(self, aggregate: str, state: str, command: str, why: str = "") -> None:
        state_zh = STATE_ZH.get(state, state)
        command_zh = COMMAND_ZH.get(command, command)
        title = f"当前状态为“{state_zh}”，不能执行“{command_zh}”"
        if why:
            title += f"：{why}"
        super().__init__(title)
        self.aggregate = aggregate
        self.state = state
        self.command = command


class MissingMaterials(DomainError):
    """一次性告知: every required material that was not handed in, listed at once."""

    code = "missing_materials"

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        super().__init__("材料清单缺少：" + "、".join(self.missing))


class CodeRejected(DomainError):
    """A package code, scan payload or token that is malformed, altered or forged."""

    code = "code_rejected"
