"""Administrative regions (行政区划): 6-digit division codes (GB/T 2260) in a tree, with the
approximate coordinates of the seat of government that 少跑距离 is measured from."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from handoff.errors import InvalidInput

CODE_RE = re.compile(r"[1-9][0-9]{5}")

# Mainland China's bounding box, with a margin: a point outside it is a typing error (most often
# latitude and longitude swapped), not a government seat.
LAT_RANGE = (3.0, 54.0)
LON_RANGE = (73.0, 136.0)


def check_region_code(code: str, what: str = "区划代码") -> str:
    if not CODE_RE.fullmatch(code):
        raise InvalidInput(f"{what} “{code}” 格式不正确，应为 6 位行政区划代码（如 441581）")
    return code


def check_coordinates(lat: float, lon: float) -> None:
    if not LAT_RANGE[0] <= lat <= LAT_RANGE[1] or not LON_RANGE[0] <= lon <= LON_RANGE[1]:
        raise InvalidInput(
            f"坐标（纬度 {lat}，经度 {lon}）不在我国境内的范围（纬度 {LAT_RANGE[0]:g}–{LAT_RANGE[1]:g}，"
            f"经度 {LON_RANGE[0]:g}–{LON_RANGE[1]:g}）：是否把纬度和经度填反了？"
        )


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    parent_code: str | None
    lat: float
    lon: float

    def __post_init__(self) -> None:
        check_region_code(self.code)
        if not self.name.strip():
            raise InvalidInput("区划名称不能为空")
        if self.parent_code is not None:
            check_region_code(self.parent_code, "上级区划代码")
            if self.parent_code == self.code:
                raise InvalidInput(f"区划 {self.code} 不能是自己的上级")
        check_coordinates(self.lat, self.lon)


def parent_cycle(code: str, parent_code: str | None, parents: Mapping[str, str | None]) -> list[str] | None:
    """Would giving ``code`` the parent ``parent_code`` close a loop in the tree described by
    ``parents`` (code → parent code)? Returns the loop (``code`` first and last) or None."""
    path = [code]
    current = parent_code
    while current is not None:
        path.append(current)
        if current == code:
            return path
        if len(path) > len(parents) + 2:  # a loop that does not pass through ``code`` (bad data)
            return path
        current = parents.get(current)
    return None


def significant_digits(code: str) -> int:
    """How much of a division code names a place: 2 for a province (``440000``), 4 for a
    prefecture-level city (``441500``), 6 for a county-level district (``441581``)."""
    if code.endswith("0000"):
        return 2
    if code.endswith("00"):
        return 4
    return 6


def region_covers(area: str, code: str) -> bool:
    """Is the region ``code`` the area ``area`` or inside it (by the division code's levels)?
    ``441500`` covers ``441581``; ``441581`` covers only itself."""
    n = significant_digits(area)
    return code[:n] == area[:n] and significant_digits(code) >= n


# --------------------------------------------------------------------------- postal divisions
# Carriers want province / city / district apart from the street address. A 6-digit code names
# them: its first two digits the province (below), the first four plus "00" the prefecture-level
# city, the code itself the county-level district (their names come from the regions table).

PROVINCES: Mapping[str, str] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
}
MUNICIPALITIES = {"11", "12", "31", "50"}


def divisions(region_code: str, region_names: Mapping[str, str]) -> tuple[str, str, str]:
    """(province, city, district) names for a region code; unknown parts are empty strings."""
    province = PROVINCES.get(region_code[:2], "")
    if region_code[2:] == "0000":
        return province, "", ""
    if region_code[:2] in MUNICIPALITIES:
        city = province
    else:
        city = region_names.get(region_code[:4] + "00", "")
    district = "" if region_code[4:] == "00" else region_names.get(region_code, "")
    return province, city, district
