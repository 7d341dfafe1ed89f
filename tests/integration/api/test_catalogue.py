"""The matter catalogue over HTTP (issue 18): the published catalogue and its page, registration
routed to the applicant's own jurisdiction (属地), the 通办范围 refusal, versions and retirement,
and the admin's implementations, scoped."""

from __future__ import annotations

import pytest

from .test_admin import call, get, token_for
from .test_journeys import post, registration

pytestmark = pytest.mark.integration

FOOD = [
    {"name": "食品经营许可申请书"},
    {"name": "营业执照复印件", "original": False},
    {"name": "与食品经营相适应的主要设备设施布局、操作流程等文件"},
    {"name": "食品安全管理制度"},
]


def applicant(region: str | None = None, **more: str) -> dict[str, str]:
    person = {"name": "张小三", "phone": "13812345678", **more}
    return {**person, "region_code": region} if region else person


async def test_the_published_catalogue_needs_no_login_and_lists_the_matters_each_region_collects(api):
    response = await api.client.get("/api/v1/public/matters")
    assert response.status == 200
    data = await response.json()
    lightning = next(m for m in data["items"] if m["id"] == "m-flzz-ys")
    assert lightning["kind_zh"] == "即办件" and (lightning["legal_limit"], lightning["promised_limit"]) == (10, 1)
    assert lightning["result_name"] == "防雷装置验收意见书" and lightning["visits"] == 0
    assert [(i["region_name"], i["department_name"]) for i in lightning["implementations"]] == [
        ("汕尾市", "汕尾市气象局"),
        ("海丰县", "海丰县气象局"),
        ("陆河县", "陆河县气象局"),
        ("陆丰市", "陆丰市气象局"),
    ]
    licence = next(m for m in lightning["materials"] if m["name"] == "施工单位的资质证")
    assert licence["tolerable"] and not licence["original"] and licence["licence"] == "建筑业企业资质证书"
    assert [r["name"] for r in data["regions"]] == ["城区", "海丰县", "陆河县", "陆丰市"]
    # 海丰's food licences are collected in 海丰 and 城区 only: the 陆丰 window lists the others
    lufeng = (await (await api.client.get("/api/v1/public/matters?region=441581")).json())["regions"]
    assert [r["code"] for r in lufeng] == ["441581"]
    food = next(m for m in lufeng[0]["matters"] if m["id"] == "m-spjy-xk")
    assert [a["region_name"] for a in food["applicants"]] == ["城区", "陆河县", "陆丰市"]
    assert lufeng[0]["windows"][0]["id"] == "win-441581"
    bad = await api.client.get("/api/v1/public/matters?region=44")
    assert bad.status == 422


async def test_the_published_page_lists_the_matters_per_region_with_their_materials(api):
    response = await api.client.get("/matters")
    assert response.status == 200 and response.content_type == "text/html"
    page = await response.text()
    assert "公布代收代办事项清单" in page and "<script" not in page
    assert "免提交（以电子证照“居民身份证”代替）" in page
    assert "专家评审（不超过 10 个工作日）" in page
    assert "style-src 'sha256-" in response.headers["Content-Security-Policy"]


async def test_registration_goes_to_the_department_of_the_applicants_region(api):
    haifeng = await post(api, "/api/v1/cases", "clerk-lf", registration(applicant=applicant("441521")), 201)
    assert haifeng["department_office_id"] == "dept-441521-qx"
    assert haifeng["applicant"]["region_code"] == "441521" and haifeng["home_office_id"] == "dept-441521-qx"
    chengqu = await post(api, "/api/v1/cases", "clerk-lf", registration(applicant=applicant("441502")), 201)
    assert chengqu["department_office_id"] == "dept-441500-qx", "城区 is decided by the city bureau"
    unnamed = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    assert unnamed["department_office_id"] == "dept-441500-qx", "no region: the matter's own department"
    unknown = await post(api, "/api/v1/cases", "clerk-lf", registration(applicant=applicant("449999")), 422)
    assert unknown["title"] == "申请人所属区划 449999 不存在，请从区划列表中选择"


async def test_a_matter_outside_the_windows_scope_is_refused_in_chinese_and_nothing_is_registered(api):
    body = registration(matter_id="m-spjy-xk", materials=FOOD, tolerated=[], applicant=applicant("441521"))
    refused = await post(api, "/api/v1/cases", "clerk-lf", body, 422)
    assert refused["type"].endswith("outside_scope")
    assert refused["title"] == (
        "本窗口所在区划（陆丰市）不在事项“食品经营许可证核发”（海丰县实施）的通办范围内，不能代收。"
        "可代收的区划：海丰县、城区"
    )
    assert (await get(api, "/api/v1/ledger", "clerk-lf"))["items"] == []
    # the 海丰 window itself may collect it
    case = await post(api, "/api/v1/cases", "clerk-hf", {**body, "window_office_id": "win-441521"}, 201)
    assert case["department_office_id"] == "dept-441521-sj"
    offered = await get(api, "/api/v1/matters?window_office_id=win-441581", "clerk-lf")
    assert "m-spjy-xk" in [m["id"] for m in offered["items"]], "other regions' applicants may still be served"


async def test_a_delegated_case_records_the_home_department_the_applicant_was_spared(api):
    body = registration(
        matter_id="m-gtzz-bl",
        mode="delegated",
        materials=[{"name": "个体工商户补领执照申请书"}],  # 经营者身份证明: read from the 电子证照 (免提交)
        tolerated=[],
        applicant=applicant("441523"),
    )
    case = await post(api, "/api/v1/cases", "clerk-lf", body, 201)
    assert (case["department_office_id"], case["home_office_id"]) == ("dept-441581-sj", "dept-441523-sj")


async def test_a_case_keeps_its_terms_when_the_matter_changes_and_a_retired_matter_takes_no_new_case(api):
    old = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    assert old["matter"]["version"] == 1
    matter = await get(api, "/api/v1/matters/m-flzz-ys", "admin")
    changed = {k: v for k, v in matter.items() if k != "id"}
    changed["promised_limit"], changed["legal_limit"] = 0, 15  # a 即办件 may promise the same day
    updated = await call(api, "PUT", "/api/v1/admin/matters/m-flzz-ys", "admin", changed)
    assert updated["version"] == 2 and updated["implementations"] == matter["implementations"]
    stale = await call(api, "PUT", "/api/v1/admin/matters/m-flzz-ys", "admin", changed, 409)
    assert stale["title"] == "事项 m-flzz-ys 已被修改为第 2 版，请刷新后再修改"
    versions = await get(api, "/api/v1/admin/matters/m-flzz-ys/versions", "admin")
    assert [(v["version"], v["actor"], v["terms"]["promised_limit"]) for v in versions["items"]] == [(2, "admin", 0)]
    kept = await get(api, f"/api/v1/cases/{old['id']}", "clerk-lf")
    assert (kept["matter"]["version"], kept["matter"]["promised_limit"], kept["matter"]["legal_limit"]) == (1, 1, 10)
    new = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    assert (new["matter"]["version"], new["matter"]["promised_limit"], new["matter"]["legal_limit"]) == (2, 0, 15)

    retired = await post(api, "/api/v1/admin/matters/m-flzz-ys/retire", "admin", {}, 200)
    assert retired["retired"] is True
    await post(api, "/api/v1/admin/matters/m-flzz-ys/retire", "admin", {}, 409)
    refused = await post(api, "/api/v1/cases", "clerk-lf", registration(), 422)
    assert "已停止办理" in refused["title"]
    assert (await get(api, f"/api/v1/cases/{old['id']}", "clerk-lf"))["matter"]["name"] == "防雷装置竣工验收"
    assert "m-flzz-ys" not in [m["id"] for m in (await get(api, "/api/v1/matters", "clerk-lf"))["items"]]
    public = await (await api.client.get("/api/v1/public/matters")).json()
    assert "m-flzz-ys" not in [m["id"] for m in public["items"]]
    listed = await get(api, "/api/v1/admin/matters", "admin")
    assert next(m for m in listed["items"] if m["id"] == "m-flzz-ys")["retired"] is True


async def test_an_admin_sets_implementations_in_their_own_region_only(api):
    await token_for(api, "admin-lf", "admin", "region:441581", name="陆丰管理员")
    path = "/api/v1/admin/matters/m-jsgc-xk/implementations"
    # 陆丰's admin gives 陆丰 applicants to 陆丰's own bureau, collectable in 陆丰 and 海丰
    done = await call(api, "PUT", f"{path}/441581", "admin-lf", {"department_office_id": "dept-441581-qx"}, 403)
    assert "现有实施部门不在本人的管理范围内" in done["title"]
    await call(api, "PUT", f"{path}/441521", "admin-lf", {"department_office_id": "dept-441581-sj"}, 403)
    city = await call(
        api, "PUT", f"{path}/441581", "admin", {"department_office_id": "dept-441581-sj", "scope": ["441521"]}
    )
    assert city["version"] == 2
    own = await call(
        api, "PUT", f"{path}/441581", "admin-lf", {"department_office_id": "dept-441581-qx", "scope": ["441521"]}
    )
    assert own["version"] == 3
    assert {i["region_code"]: (i["department_office_id"], i["scope"]) for i in own["implementations"]}["441581"] == (
        "dept-441581-qx",
        ["441521"],
    )
    unknown = await call(api, "PUT", f"{path}/441581", "admin", {"department_office_id": "win-441581"}, 422)
    assert unknown["title"] == "审批部门 win-441581 不存在"
    removed = await call(api, "DELETE", f"{path}/441581", "admin-lf")
    assert "441581" not in [i["region_code"] for i in removed["implementations"]]
    await call(api, "DELETE", f"{path}/441581", "admin-lf", status=404)
    body = registration(
        matter_id="m-jsgc-xk",
        materials=[{"name": "建设工程规划许可申请表"}, {"name": "建设工程设计方案"}, {"name": "土地权属证明"}],
        tolerated=[],
        applicant=applicant("441581"),
    )
    refused = await post(api, "/api/v1/cases", "clerk-lf", body, 422)
    assert "没有实施部门" in refused["title"]


async def test_the_published_catalogue_is_rate_limited_like_the_tracking_page(aiohttp_client, tmp_path):
    from tests.support.db import sqlite_engine

    from .conftest import _harness
    from .test_rate_limits import LOW, refused

    gen = sqlite_engine(tmp_path)
    api = await _harness(await gen.__anext__(), aiohttp_client, tmp_path, rate_limits=LOW)
    assert (await api.client.get("/matters")).status == 200
    assert (await api.client.get("/api/v1/public/matters")).status == 200
    assert (await api.client.get("/t/000000000000")).status == 404  # the same bucket as the tracking page
    await refused(await api.client.get("/matters"))
    await refused(await api.client.get("/api/v1/public/matters"))
    await gen.aclose()
