"""The API's rules: authorization by role and scope, hostile input, and a spec that tells the truth."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator

from api.routes.common import API

from .test_journeys import post, registration

pytestmark = pytest.mark.integration

ROLES = {
    "window_clerk": "clerk-lf",
    "dept_clerk": "dept-zj",
    "dept_lead": "lead-zj",
    "courier": "courier-07",
    "supervisor": "supervisor",
    "admin": "admin",
}


async def a_case_with_package(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    return case, package


def concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "x"), path)


async def test_every_role_on_every_route_is_allowed_exactly_where_the_table_says(pg_api):
    api = pg_api
    case, package = await a_case_with_package(api)
    ids = {
        "case_id": case["id"],
        "package_id": package["id"],
        "matter_id": "m-flzz-ys",
        "stage_id": "s",
        "token": "0000000000000",
        "region_code": "441581",
        "office_id": "win-441581",
        "user_id": "nobody",
    }
    checked = 0
    for route in API.routes:
        if route.roles is None:
            continue
        for role, user in ROLES.items():
            path = concrete(route.path, ids)
            if route.method == "GET":
                response = await api.client.get(path, headers=api.auth(user))
            else:
                response = await api.client.request(
                    route.method, path, data=b"{}", headers={**api.auth(user), "Content-Type": "application/json"}
                )
            allowed = role in {r.value for r in route.roles}
            if allowed:
                # a role the route admits may still lack the authority on this case (403 forbidden_action)
                refused_by_role = response.status == 403 and (await response.json())["type"] != "forbidden_action"
                assert not refused_by_role, (route.path, role)
            else:
                assert response.status == 403, (route.path, role, response.status)
            assert response.status < 500, (route.path, role)
            assert response.content_type in ("application/json", "application/problem+json", "application/pdf")
            checked += 1
        anonymous = await api.client.request(route.method, concrete(route.path, ids))
        assert anonymous.status == 401, route.path
    assert checked == len([r for r in API.routes if r.roles is not None]) * len(ROLES)


async def test_objects_outside_the_scope_answer_404_as_if_absent(api):
    case, package = await a_case_with_package(api)
    other_window = await api.client.get(f"/api/v1/cases/{case['id']}", headers=api.auth("clerk-hf"))
    assert other_window.status == 404
    assert (await api.client.get(f"/api/v1/cases/{case['id']}", headers=api.auth("clerk-lf"))).status == 200
    far_courier = await api.client.post(
        f"/api/v1/packages/{package['id']}/picked-up", json={}, headers=api.auth("courier-x")
    )
    assert far_courier.status == 404
    scan = await api.client.post("/api/v1/scan", json={"code": package["code"]}, headers=api.auth("clerk-hf"))
    assert scan.status == 404
    foreign = await api.client.post(
        "/api/v1/cases", json=registration(window_office_id="win-441502"), headers=api.auth("clerk-lf")
    )
    assert foreign.status == 404
    ledger = await (await api.client.get("/api/v1/ledger", headers=api.auth("clerk-hf"))).json()
    assert ledger["items"] == []


HOSTILE = [
    (b"{not json", 400),
    (b"\xff\xfe\x00garbage", 400),
    (b"[]", 422),
    (b'{"matter_id": 5}', 422),
    (
        b'{"matter_id": "m-flzz-ys", "mode": "teleport", "delivery": "electronic", "window_office_id": "win-441581",'
        b' "applicant": {"name": "a", "phone": "1"}, "materials": []}',
        422,
    ),
    (b"", 400),
    (b'{"a": "' + b"x" * (5 * 1024 * 1024) + b'"}', 413),
]


@pytest.mark.parametrize(("body", "status"), HOSTILE)
async def test_hostile_bodies_get_a_chinese_problem_never_a_500(api, body, status):
    import io

    response = await api.client.post(
        "/api/v1/cases", data=io.BytesIO(body), headers={**api.auth("clerk-lf"), "Content-Type": "application/json"}
    )
    problem = await response.json(content_type=None)
    assert response.status == status
    assert response.content_type == "application/problem+json"
    assert re.search(r"[\u4e00-\u9fff]", problem["title"])


async def test_bad_ids_unknown_routes_and_forged_codes(api):
    for path in ["/api/v1/cases/%00", "/api/v1/cases/" + "9" * 500, "/api/v1/packages/none/custody"]:
        response = await api.client.get(path, headers=api.auth("supervisor"))
        assert response.status == 404 and response.content_type == "application/problem+json"
    assert (await api.client.get("/api/v1/nothing-here")).status == 404
    assert (await api.client.delete("/api/v1/cases")).status == 405
    _, package = await a_case_with_package(api)
    forged = package["scan_payload"][:-1] + ("A" if package["scan_payload"][-1] != "A" else "B")
    for code in [
        forged,
        package["code"][:-1] + "0" if not package["code"].endswith("0") else package["code"][:-1] + "1",
        "HTTPS://EVIL.CN/P/4415812026030200011.T9.AAAAAAAAAAAA",
    ]:
        response = await api.client.post("/api/v1/scan", json={"code": code}, headers=api.auth("dept-zj"))
        assert response.status == 422, code
    assert (await api.client.get("/api/v1/track/aaaaaaaaaaaa")).status == 404
    assert (await api.client.get("/api/v1/track/<script>")).status == 404
    assert (await api.client.get("/api/v1/cases/x", headers={"Authorization": "Bearer nope"})).status == 401
    assert (await api.client.get("/api/v1/cases/x", headers={"Authorization": "Basic eA=="})).status == 401


async def test_bad_query_parameters_are_422(api):
    for query in ["limit=0", "limit=abc", "limit=100000", "cursor=%%%", "from=2026-13-01"]:
        response = await api.client.get(f"/api/v1/ledger?{query}", headers=api.auth("supervisor"))
        assert response.status == 422, query


async def test_evidence_is_size_and_type_checked(api):
    _, package = await a_case_with_package(api)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    import base64

    not_png = base64.b64encode(b"GIF89a....").decode()
    response = await api.client.post(
        f"/api/v1/packages/{package['id']}/delivered",
        headers=api.auth("courier-07"),
        json={"evidence": [{"content_type": "image/png", "data_base64": not_png}]},
    )
    assert response.status == 422
    assert "PNG 或 JPEG" in (await response.json())["title"]
    response = await api.client.post(
        f"/api/v1/packages/{package['id']}/delivered",
        headers=api.auth("courier-07"),
        json={"evidence": [{"content_type": "image/png", "data_base64": "@@@"}]},
    )
    assert response.status == 422


def test_the_openapi_document_is_valid_3_1():
    from openapi_spec_validator import validate

    from api.openapi import build_spec

    validate(build_spec(API.routes))


async def test_real_responses_match_the_served_spec(api):
    spec = await (await api.client.get("/api/v1/openapi.json")).json()
    case, package = await a_case_with_package(api)
    calls = [
        ("get", "/api/v1/me", "/api/v1/me", "clerk-lf", None),
        ("get", "/api/v1/matters", "/api/v1/matters", "supervisor", None),
        ("get", "/api/v1/matters/m-flzz-ys", "/api/v1/matters/{matter_id}", "clerk-lf", None),
        ("get", f"/api/v1/cases/{case['id']}", "/api/v1/cases/{case_id}", "supervisor", None),
        ("get", f"/api/v1/cases/{case['id']}/clock", "/api/v1/cases/{case_id}/clock", "supervisor", None),
        (
            "get",
            f"/api/v1/packages/{package['id']}/custody",
            "/api/v1/packages/{package_id}/custody",
            "supervisor",
            None,
        ),
        ("get", "/api/v1/ledger?limit=1", "/api/v1/ledger", "supervisor", None),
        ("get", "/api/v1/indicators", "/api/v1/indicators", "supervisor", None),
        ("get", "/api/v1/indicators?group=window_region", "/api/v1/indicators", "supervisor", None),
        ("get", "/api/v1/deadlines?kind=overdue", "/api/v1/deadlines", "dept-zj", None),
        ("get", "/api/v1/packages/stalled", "/api/v1/packages/stalled", "supervisor", None),
        ("post", "/api/v1/scan", "/api/v1/scan", "dept-zj", {"code": package["code"]}),
        ("get", f"/api/v1/track/{case['tracking_url'].rsplit('/', 1)[1]}", "/api/v1/track/{token}", None, None),
        ("post", f"/api/v1/cases/{case['id']}/accept", "/api/v1/cases/{case_id}/accept", "dept-zj", {}),
        ("get", "/api/v1/cases/nope", "/api/v1/cases/{case_id}", "supervisor", None),
        ("get", "/api/v1/admin/regions", "/api/v1/admin/regions", "admin", None),
        ("patch", "/api/v1/admin/regions/441581", "/api/v1/admin/regions/{region_code}", "admin", {"name": "陆丰市"}),
        ("get", "/api/v1/admin/offices?kind=window", "/api/v1/admin/offices", "admin", None),
        ("get", "/api/v1/admin/users", "/api/v1/admin/users", "admin", None),
        (
            "post",
            "/api/v1/admin/users/nobody/revoke-tokens",
            "/api/v1/admin/users/{user_id}/revoke-tokens",
            "admin",
            None,
        ),
        ("get", "/api/v1/admin/entrustments", "/api/v1/admin/entrustments", "admin", None),
        (
            "put",
            "/api/v1/admin/entrustments/441581/m-gtzz-bl",
            "/api/v1/admin/entrustments/{region_code}/{matter_id}",
            "admin",
            {"office_id": "dept-441581-sj"},
        ),
        ("get", "/api/v1/admin/calendar", "/api/v1/admin/calendar", "admin", None),
        ("get", "/api/v1/admin/parked?group=notifications", "/api/v1/admin/parked", "admin", None),
        ("get", "/api/v1/lead/inbox", "/api/v1/lead/inbox", "lead-zj", None),
    ]
    for method, url, template, user, body in calls:
        headers = api.auth(user) if user else {}
        response = await getattr(api.client, method)(url, json=body, headers=headers)
        operation = spec["paths"][template][method]
        declared = operation["responses"].get(str(response.status))
        assert declared is not None, (url, response.status)
        media, content = next(iter(declared["content"].items()))
        assert response.content_type == media, url
        schema = content["schema"]
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        Draft202012Validator(schema).validate(await response.json(content_type=None))
