"""Matters (事项) and their material lists: what a window checks an application against.

A matter is one entry of the catalogue (事项清单) with seed 002's elements (事项要素): 实施清单名称,
事项类型, 办件类型, 法定/承诺期限, 服务对象, 到现场次数, 受理条件, 材料清单, 特别程序 and their
limits, 办理结果名称. Its **implementations** say, per region, which department decides for
applicants of that region (属地受理) and in which regions' windows it may be collected (通办范围).
A matter is versioned: an admin's change makes a new version, and a case keeps a copy of the
version it was registered under. A retired matter takes no new cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from handoff.errors import DomainError, InvalidInput
from handoff.labels_zh import STAGE_TYPE_ZH
from handoff.regions import check_region_code, region_covers, significant_digits

MAX_MATTER_LIMIT = 365
"""The longest legal or promised limit a matter may state, in working days (as the admin API)."""
MAX_INSTANT_LIMIT = 1
MATTER_TYPES = ("行政许可", "行政确认", "行政给付", "行政裁决", "行政备案", "其他行政权力", "公共服务")
"""事项类型 as the provincial catalogue lists them."""
SERVICE_OBJECTS = ("自然人", "企业法人", "事业法人", "社会组织法人", "行政机关", "其他组织")
"""服务对象 (seed 002's sample lists all six)."""


class OutsideScope(DomainError):
    """The window may not collect this matter (通办范围), or nobody implements it for the
    applicant's region (属地)."""

    code = "outside_scope"


class MatterRetired(DomainError):
    """A retired matter takes no new cases (cases already registered go on)."""

    code = "matter_retired"


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
    licence: str = ""
    """电子证照目录名称 when an electronic licence stands for this material (seed 002)."""
    exempt: bool = False
    """免提交: the window reads the 电子证照 instead; the applicant need not hand it in."""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidInput("材料名称不能为空")
        if self.exempt and not self.licence.strip():
            raise InvalidInput(f"材料“{self.name}”设为免提交，须填写替代它的电子证照目录名称")
        if self.copies < 1:
            raise InvalidInput(f"材料“{self.name}”的份数至少为 1")
        if self.tolerable and not self.required:
            raise InvalidInput(f"材料“{self.name}”不是必交材料，无需设为可容缺")


@dataclass(frozen=True)
class Implementation:
    """属地: the department that decides the matter for applicants of ``region_code`` (and of the
    regions inside it that have no implementation of their own), and 通办范围: the regions
    whose windows may collect it for them, besides the region itself."""

    region_code: str
    department_office_id: str
    scope: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_region_code(self.region_code, "实施区划代码")
        if not self.department_office_id.strip():
            raise InvalidInput(f"区划 {self.region_code} 的实施必须指定审批部门")
        for code in self.scope:
            check_region_code(code, "通办范围的区划代码")
        if len(set(self.scope)) != len(self.scope):
            raise InvalidInput(f"区划 {self.region_code} 的通办范围中有重复的区划")

    def serves(self, applicant_region: str) -> bool:
        return region_covers(self.region_code, applicant_region)

    def collectable_at(self, window_region: str) -> bool:
        return any(region_covers(area, window_region) for area in (self.region_code, *self.scope))


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
    list_name: str = ""
    """实施清单名称 (the matter's own name when empty)."""
    matter_type: str = "行政许可"
    service_objects: tuple[str, ...] = ()
    visits: int = 1
    """到现场次数: how many times the applicant must come in person."""
    conditions: str = ""
    """受理条件 (受理标准)."""
    result_name: str = ""
    """办理结果名称 (``<name>办理结果`` when empty)."""
    result_licence: str = ""
    """The 电子证照 the result is issued as, if any."""
    implementations: tuple[Implementation, ...] = ()
    """属地 and 通办范围 per region; none: ``department_office_id`` decides for everyone and
    every window may collect (a matter entered before the catalogue had implementations)."""
    version: int = 1
    retired: bool = False

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InvalidInput("事项编号不能为空")
        if not self.name.strip():
            raise InvalidInput("事项名称不能为空")
        if self.matter_type not in MATTER_TYPES:
            raise InvalidInput(f"事项类型“{self.matter_type}”不在目录中（{'、'.join(MATTER_TYPES)}）")
        unknown = [o for o in self.service_objects if o not in SERVICE_OBJECTS]
        if unknown:
            raise InvalidInput(f"服务对象“{'、'.join(unknown)}”不在目录中（{'、'.join(SERVICE_OBJECTS)}）")
        if len(set(self.service_objects)) != len(self.service_objects):
            raise InvalidInput("服务对象中有重复")
        if not 0 <= self.visits <= 10:
            raise InvalidInput(f"到现场次数（{self.visits}）应为 0 到 10 次")
        if self.version < 1:
            raise InvalidInput("事项版本号至少为 1")
        regions = [i.region_code for i in self.implementations]
        if len(set(regions)) != len(regions):
            raise InvalidInput("同一区划只能有一个实施部门")
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

    @property
    def listed_name(self) -> str:
        return self.list_name.strip() or self.name

    @property
    def result_title(self) -> str:
        return self.result_name.strip() or f"{self.name}办理结果"

    def implementation_for(self, applicant_region: str | None) -> Implementation | None:
        """属地: the implementation that decides for an applicant of ``applicant_region`` — the one
        of the region itself, else of the nearest region containing it. Without a region, the
        implementation of the matter's own department. None for a matter without
        implementations (its department decides for everyone)."""
        if not self.implementations:
            return None
        if applicant_region is None:
            for implementation in self.implementations:
                if implementation.department_office_id == self.department_office_id:
                    return implementation
            raise OutsideScope(f"事项“{self.name}”按申请人所属区划确定审批部门，请选择申请人所属区划")
        serving = [i for i in self.implementations if i.serves(applicant_region)]
        if not serving:
            raise OutsideScope(f"事项“{self.name}”在申请人所属区划（{applicant_region}）没有实施部门，不能收件")
        return max(serving, key=lambda i: significant_digits(i.region_code))

    def collectable_at(self, window_region: str) -> tuple[Implementation, ...] | None:
        """通办: the implementations a window of ``window_region`` may collect for (empty: none);
        None for a matter without implementations (any window, its department for everyone)."""
        if not self.implementations:
            return None
        return tuple(i for i in self.implementations if i.collectable_at(window_region))

    def route(
        self, applicant_region: str | None, window_region: str, names: Mapping[str, str] | None = None
    ) -> Implementation | None:
        """The implementation for the applicant, checked against the collecting window's region
        (通办范围): refused with :class:`OutsideScope` when the window may not collect it.
        ``names`` (region code → name) only makes the refusal readable."""
        if self.retired:
            raise MatterRetired(f"事项“{self.name}”已停止办理（已从事项清单中废止），不能登记新的办件")
        implementation = self.implementation_for(applicant_region)
        if implementation is None or implementation.collectable_at(window_region):
            return implementation
        known = names or {}

        def named(code: str) -> str:
            return known.get(code) or code

        areas = "、".join(named(c) for c in (implementation.region_code, *implementation.scope))
        raise OutsideScope(
            f"本窗口所在区划（{named(window_region)}）不在事项“{self.name}”"
            f"（{named(implementation.region_code)}实施）的通办范围内，不能代收。可代收的区划：{areas}"
        )

    def requirement(self, name: str) -> MaterialRequirement | None:
        for item in self.materials:
            if item.name == name:
                return item
        return None
