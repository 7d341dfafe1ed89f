"""Matters (事项) and their material lists: what a window checks an application against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from handoff.errors import InvalidInput
from handoff.labels_zh import STAGE_TYPE_ZH

MAX_MATTER_LIMIT = 365
"""The longest legal or promised limit a matter may state, in working days (as the admin API)."""
MAX_INSTANT_LIMIT = 1


class CaseKind(StrEnum):
    INSTANT = "instant"  # 即办件: decided on the acceptance date
    PROMISED = "promised"  # 承诺件


class Mode(StrEnum):
    PROXY_COLLECT = "proxy_collect"  # 异地代收、属地受理
    DELEGATED = "delegated"  # 异地委托审批
    ONLINE = "online"  # 全程网办


class Delivery(StrEnum):
    MAIL_TO_APPLICANT = "mail_to_applicant"
    PICKUP_AT_WINDOW = "pickup_at_window"
    PICKUP_AT_DEPARTMENT = "pickup_at_department"
    ELECTRONIC = "electronic"


class StageType(StrEnum):
    INSPECTION = "inspection"
    EXPERT_REVIEW = "expert_review"
    RECTIFICATION = "rectification"
    ENTRUSTED_ASSESSMENT = "entrusted_assessment"
    CONSULTATION = "consultation"
    DIRECTOR_MEETING = "director_meeting"
    HEARING = "hearing"
    PUBLIC_NOTICE = "public_notice"
    TESTING = "testing"
    SUPPLEMENT = "supplement"


@dataclass(frozen=True)
class MaterialRequirement:
    """One row of a matter's material list (seed 002's 申请材料 table)."""

    name: str
    required: bool = True
    tolerable: bool = False
    """容缺: may be accepted without it, against a recorded IOU."""
    original: bool = True
    copies: int = 1
    form: str = "纸质/电子化"
    notes: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidInput("材料名称不能为空")
        if self.copies < 1:
            raise InvalidInput(f"材料“{self.name}”的份数至少为 1")
        if self.tolerable and not self.required:
            raise InvalidInput(f"材料“{self.name}”不是必交材料，无需设为可容缺")


@dataclass(frozen=True)
class Matter:
    id: str
    name: str
    department_office_id: str
    legal_limit: int
    promised_limit: int
    kind: CaseKind
    modes: frozenset[Mode]
    materials: tuple[MaterialRequirement, ...]
    stage_limits: Mapping[StageType, int] = field(default_factory=dict)
    iou_days: int = 5
    """Working days an applicant has to bring a 容缺 item after collection."""

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InvalidInput("事项编号不能为空")
        if not self.name.strip():
            raise InvalidInput("事项名称不能为空")
        if not self.department_office_id.strip():
            raise InvalidInput("必须指定负责审批的部门")
        for what, days in (("法定期限", self.legal_limit), ("承诺期限", self.promised_limit)):
            if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_MATTER_LIMIT:
                raise InvalidInput(f"{what}（{days}）必须是 0 到 {MAX_MATTER_LIMIT} 之间的工作日数")
        if self.promised_limit > self.legal_limit:
            raise InvalidInput(f"承诺期限（{self.promised_limit}）不得超过法定期限（{self.legal_limit}）")
        if self.kind is CaseKind.INSTANT and self.promised_limit > MAX_INSTANT_LIMIT:
            # Seed 002's own sample (防雷装置竣工验收) is a 即办件 with 承诺期限 1: done on the spot or
            # by the next working day; anything longer is a 承诺件.
            raise InvalidInput(
                f"即办件的承诺期限为 0 或 {MAX_INSTANT_LIMIT} 个工作日（当场或次一工作日办结），"
                f"{self.promised_limit} 个工作日应登记为承诺件"
            )
        if self.kind is CaseKind.PROMISED and self.promised_limit == 0:
            raise InvalidInput("承诺件的承诺期限至少为 1 个工作日")
        if not self.modes:
            raise InvalidInput("事项至少要支持一种办理方式")
        if not self.materials:
            raise InvalidInput("材料清单不能为空")
        names = [m.name for m in self.materials]
        if len(set(names)) != len(names):
            raise InvalidInput("材料清单中有重名的材料")
        if self.iou_days < 0:
            raise InvalidInput("容缺补交期限不能为负数")
        if self.iou_days == 0 and any(m.tolerable for m in self.materials):
            raise InvalidInput("有可容缺的材料时，容缺补交期限至少为 1 个工作日")
        for stage, days in self.stage_limits.items():
            if not 1 <= days <= MAX_MATTER_LIMIT:
                raise InvalidInput(f"特殊环节“{STAGE_TYPE_ZH[stage.value]}”的时限应为 1 到 {MAX_MATTER_LIMIT} 个工作日")

    @property
    def clock_limit(self) -> int:
        return self.promised_limit

    def requirement(self, name: str) -> MaterialRequirement | None:
        for item in self.materials:
            if item.name == name:
                return item
        return None
