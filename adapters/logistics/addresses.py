"""Postal addresses for carrier orders, from our offices and regions.

Carriers want province / city / district apart from the street address. Our offices carry a
6-digit administrative division code (GB/T 2260): its first two digits name the province (the table
below), the first four plus "00" the prefecture-level city, the code itself the county-level
district — whose names come from our ``regions`` table.
"""

from __future__ import annotations

from collections.abc import Mapping

from handoff.ports import Office, PostalAddress

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


def office_address(office: Office, region_names: Mapping[str, str], contact: str = "") -> PostalAddress:
    province, city, district = divisions(office.region_code, region_names)
    return PostalAddress(
        name=contact or office.name,
        phone=office.phone,
        province=province,
        city=city,
        district=district,
        detail=office.address or office.name,
        company=office.name,
        region_code=office.region_code,
    )


def person_address(name: str, phone: str, detail: str, near: Office, region_names: Mapping[str, str]) -> PostalAddress:
    """An applicant's address as they gave it; the divisions are those of the window that served
    them (the applicant lives where they went to the window, as a rule — the street address the
    courier follows is theirs in full)."""
    province, city, district = divisions(near.region_code, region_names)
    return PostalAddress(
        name=name,
        phone=phone,
        province=province,
        city=city,
        district=district,
        detail=detail,
        region_code=near.region_code,
    )
