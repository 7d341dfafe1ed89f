"""The rules an admin's regions and matters must keep (handoff/regions.py, handoff/matter.py)."""

from __future__ import annotations

import dataclasses

import pytest

from handoff.errors import InvalidInput
from handoff.matter import MaterialRequirement, StageType
from handoff.regions import Region, parent_cycle

from .conftest import BUILDING, LIGHTNING


def test_a_region_needs_a_six_digit_code_a_name_and_coordinates_inside_china():
    Region("441581", "陆丰市", "441500", 22.9452, 115.6443)
    for code in ("44158", "4415810", "041581", "44158a", "٤٤١٥٨١", "441581\n"):
        with pytest.raises(InvalidInput, match="6 位行政区划代码"):
            Region(code, "陆丰市", None, 22.9452, 115.6443)
    with pytest.raises(InvalidInput, match="填反"):
        Region("441581", "陆丰市", None, 115.6443, 22.9452)
    with pytest.raises(InvalidInput, match="名称"):
        Region("441581", " ", None, 22.9452, 115.6443)
    with pytest.raises(InvalidInput, match="自己的上级"):
        Region("441581", "陆丰市", "441581", 22.9452, 115.6443)


def test_a_parent_that_would_close_a_loop_is_found_with_the_loop():
    parents = {"440000": None, "441500": "440000", "441581": "441500"}
    assert parent_cycle("441581", "441500", parents) is None
    assert parent_cycle("440000", "441581", parents) == ["440000", "441581", "441500", "440000"]
    assert parent_cycle("441500", "441500", parents) == ["441500", "441500"]
    looping = {"100000": "200000", "200000": "100000"}
    assert parent_cycle("300000", "100000", looping) is not None


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"id": " "}, "事项编号"),
        ({"department_office_id": ""}, "审批的部门"),
        ({"materials": ()}, "材料清单不能为空"),
        ({"iou_days": -1}, "负数"),
        ({"iou_days": 0}, "至少为 1 个工作日"),
        ({"stage_limits": {StageType.EXPERT_REVIEW: 0}}, "专家评审"),
    ],
)
def test_a_matter_refuses_terms_a_window_could_not_work_with(change, words):
    with pytest.raises(InvalidInput, match=words):
        dataclasses.replace(BUILDING, **change)


def test_a_material_needs_a_name_at_least_one_copy_and_is_tolerable_only_if_required():
    with pytest.raises(InvalidInput, match="名称"):
        MaterialRequirement("  ")
    with pytest.raises(InvalidInput, match="份数"):
        MaterialRequirement("申请书", copies=0)
    with pytest.raises(InvalidInput, match="不是必交材料"):
        MaterialRequirement("说明", required=False, tolerable=True)
    assert dataclasses.replace(LIGHTNING, iou_days=1).iou_days == 1
