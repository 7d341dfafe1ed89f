"""Hostile input (issue 13, items 11 and 13): dates out of range, deep JSON, control and format
characters, full-width input at the scanner, clients that hang up; and the headers every answer
of the API carries."""

from __future__ import annotations

import asyncio
import io
import logging
import re

import pytest

from .test_journeys import LIGHTNING_MATERIALS, post, registration

pytestmark = pytest.mark.integration

CHINESE = re.compile(r"[\u4e00-\u9fff]")


async def problem_of(response, status):
    problem = await response.json(content_type=None)
    assert response.status == status, problem
    assert response.content_type == "application/problem+json"
    assert CHINESE.search(problem["title"]), problem
    return problem


async def a_package_with_the_courier(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    return case, package


async def test_dates_outside_2000_to_2100_in_a_body_are_422_in_chinese_and_change_nothing(api):
    _, package = await a_package_with_the_courier(api)
    url = f"/api/v1/packages/{package['id']}/in-transit"
    custody_url = f"/api/v1/packages/{package['id']}/custody"
    before = await (await api.client.get(custody_url, headers=api.auth("admin"))).json()
    for moment in ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1999-12-31T23:59:59+08:00"]:
        response = await api.client.post(url, json={"client_time": moment}, headers=api.auth("courier-07"))
        problem = await problem_of(response, 422)
        assert "2000-01-01 至 2100-12-31" in problem["title"]
        assert problem["errors"][0]["field"] == "client_time"
    after = await (await api.client.get(custody_url, headers=api.auth("admin"))).json()
    assert after["events"] == before["events"]
    picked = await post(api, url, "courier-07", {"client_time": "2026-03-02T09:30:00+08:00"})  # at the hand-over
    assert picked["state"] == "in_transit"


async def test_dates_outside_2000_to_2100_in_a_query_are_422_in_chinese(api):
    for query in ["to=9999-12-31", "from=0001-01-01", "from=1999-12-31", "to=2101-01-01", "from=2026-03-02T00:00"]:
        response = await api.client.get(f"/api/v1/ledger?{query}", headers=api.auth("supervisor"))
        problem = await problem_of(response, 422)
        assert "查询参数" in problem["title"], query
        export = await api.client.get(f"/api/v1/ledger/export?format=csv&{query}", headers=api.auth("supervisor"))
        await problem_of(export, 422)
    response = await api.client.get("/api/v1/indicators?from=0001-01-01&to=9999-12-31", headers=api.auth("supervisor"))
    await problem_of(response, 422)
    edges = await api.client.get("/api/v1/ledger?from=2000-01-01&to=2100-12-31", headers=api.auth("supervisor"))
    assert edges.status == 200


def nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize("levels", [33, 1_000, 100_000])
async def test_json_nested_deeper_than_32_levels_is_400_never_a_500(api, levels):
    response = await api.client.post(
        "/api/v1/cases",
        data=io.BytesIO(nested(levels)),
        headers={**api.auth("clerk-lf"), "Content-Type": "application/json"},
    )
    problem = await problem_of(response, 400)
    assert "32" in problem["title"]


async def test_json_nested_32_levels_deep_is_read_and_then_refused_by_the_schema(api):
    response = await api.client.post(
        "/api/v1/cases",
        data=io.BytesIO(b'{"applicant": ' + nested(31) + b"}"),
        headers={**api.auth("clerk-lf"), "Content-Type": "application/json"},
    )
    await problem_of(response, 422)


@pytest.mark.parametrize(
    ("char", "name"),
    [("\u202e", "bidi override"), ("\u200b", "zero-width space"), ("\x1b", "escape"), ("\n", "line feed")],
)
async def test_control_and_format_characters_in_a_name_are_422_naming_the_field(api, char, name):
    body = registration(applicant={"name": f"张{char}三", "phone": "13812345678"})
    response = await api.client.post("/api/v1/cases", json=body, headers=api.auth("clerk-lf"))
    problem = await problem_of(response, 422)
    assert problem["errors"] == [{"field": "applicant/name", "message": "含有不允许的控制字符或格式字符"}], name
    assert "applicant/name" in problem["title"]
    ledger = await (await api.client.get("/api/v1/ledger", headers=api.auth("supervisor"))).json()
    assert ledger["items"] == []


async def test_multi_line_fields_keep_line_feeds_and_tabs_and_every_string_is_stored_as_nfc(api):
    decomposed = "Zoe\u0308 资料"  # e + combining diaeresis: NFC is ë
    materials = [
        LIGHTNING_MATERIALS[0],
        {**LIGHTNING_MATERIALS[1], "remarks": "第一行\r\n第二行\t附图"},
        {"name": decomposed, "remarks": ""},
    ]
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(materials=materials), 201)
    stored = await (await api.client.get(f"/api/v1/cases/{case['id']}", headers=api.auth("clerk-lf"))).json()
    names = [m["name"] for m in stored["materials"]]
    assert "Zo\u00eb 资料" in names and decomposed not in names
    assert [m["remarks"] for m in stored["materials"]][1] == "第一行\n第二行\t附图"
    refused = registration(materials=[*LIGHTNING_MATERIALS, {"name": "附件\u2066x", "remarks": ""}])
    response = await api.client.post("/api/v1/cases", json=refused, headers=api.auth("clerk-lf"))
    problem = await problem_of(response, 422)
    assert problem["errors"][0]["field"] == "materials/2/name"


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


async def test_full_width_digits_and_letters_from_a_chinese_ime_are_normalised_at_the_scanner(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    for typed in [
        full_width(package["code"]),
        "\u3000" + full_width(package["code"]),
        full_width(package["scan_payload"]),
    ]:
        assert typed != package["code"]
        found = await post(api, "/api/v1/scan", "clerk-lf", {"code": typed})
        assert found["id"] == package["id"], typed


async def test_a_client_that_hangs_up_mid_request_is_logged_at_info_without_a_traceback(api, caplog):
    caplog.set_level(logging.INFO)
    server = api.client.server
    _reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + api.tokens["clerk-lf"].encode() + b"\r\nContent-Length: 5000\r\n\r\n"
        b'{"matter_id": "m-flzz-ys", '
    )
    await writer.drain()
    writer.transport.abort()
    for _ in range(500):  # until the server noticed (a bound, not a timing assertion)
        if any("client disconnected" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.01)
    noticed = [r for r in caplog.records if "client disconnected" in r.getMessage()]
    assert noticed and noticed[0].levelno == logging.INFO and noticed[0].exc_info is None
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert (await api.client.get("/healthz")).status == 200


async def test_405_names_the_allowed_methods_and_api_answers_are_never_cached_or_sniffed(api):
    response = await api.client.delete("/api/v1/cases")
    await problem_of(response, 405)
    assert response.headers["Allow"] == "POST"
    case = await api.client.post("/api/v1/cases", json=registration(), headers=api.auth("clerk-lf"))
    read = await api.client.get(f"/api/v1/cases/{(await case.json())['id']}", headers=api.auth("clerk-lf"))
    missing = await api.client.get("/api/v1/cases/none", headers=api.auth("clerk-lf"))
    anonymous = await api.client.get("/api/v1/ledger")
    for answer in [case, read, missing, anonymous, response]:
        assert answer.headers["Cache-Control"] == "no-store", answer.url
        assert answer.headers["X-Content-Type-Options"] == "nosniff", answer.url
    spec = await api.client.get("/api/v1/openapi.json")
    assert spec.headers["X-Content-Type-Options"] == "nosniff" and "no-store" not in spec.headers.get(
        "Cache-Control", ""
    )


@pytest.mark.parametrize(
    ("number", "status"),
    [(b"NaN", 400), (b"-Infinity", 400), (b"9" * 5000, 400), (str(2**63).encode(), 422), (b"1e400", 422)],
)
async def test_numbers_json_cannot_carry_or_a_column_cannot_hold_are_refused(api, number, status):
    body = b'{"matter_id": "m-flzz-ys", "materials": [{"name": "x", "pages": ' + number + b"}]}"
    response = await api.client.post(
        "/api/v1/cases", data=io.BytesIO(body), headers={**api.auth("clerk-lf"), "Content-Type": "application/json"}
    )
    problem = await problem_of(response, status)
    if status == 422:
        assert "materials/0/pages" in problem["title"]
