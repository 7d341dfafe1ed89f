"""The courier's phone and the QR codes (issue 17): the courier's lists by holder and route, the
batch signature by a manifest's QR (one custody event per package, per-package discrepancies,
an idempotent replay), and the page a package's or manifest's QR opens outside the console."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from adapters.db import domain_tables as t
from tests.integration.api.test_pages import registered_case
from tests.integration.api.test_sessions import give_password, signed_in

from .test_authority import actor, snapshot
from .test_journeys import post

pytestmark = pytest.mark.integration


async def sealed(api) -> dict[str, Any]:
    case, _ = await registered_case(api)
    return await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)


async def hand_over(api, *packages: dict[str, Any], courier: str = "courier-07") -> dict[str, Any]:
    body = {"office_id": "win-441581", "courier": courier, "package_ids": [p["id"] for p in packages]}
    return await post(api, "/api/v1/manifests", "clerk-lf", body, 201)


async def my_list(api, user: str, kind: str, **query: Any) -> dict[str, Any]:
    response = await api.client.get("/api/v1/courier/packages", params={"list": kind, **query}, headers=api.auth(user))
    body = await response.json()
    assert response.status == 200, body
    return body


async def test_the_courier_sees_what_to_pick_up_what_it_holds_and_what_it_delivered_today(api):
    waiting = await sealed(api)
    handed = await sealed(api)
    await hand_over(api, handed)
    other = await actor(api, "courier-gz", "courier", "region:4401")

    to_pick = await my_list(api, "courier-07", "to_pick_up")
    assert [(r["code"], r["steps"]) for r in to_pick["items"]] == [(waiting["code"], ["picked_up"])]
    assert to_pick["items"][0]["from_name"] and "win-" not in to_pick["items"][0]["from_name"]
    assert (await my_list(api, other, "to_pick_up"))["items"] == []  # not on its route
    in_hand = await my_list(api, "courier-07", "in_hand")
    # handed over by the clerk, not yet confirmed by the courier: 揽收 comes first
    assert [(r["code"], r["acknowledged"], r["steps"][0]) for r in in_hand["items"]] == [
        (handed["code"], False, "picked_up")
    ]
    assert (await my_list(api, other, "in_hand"))["items"] == []

    # the courier taps 揽收 before the clerk finished the hand-over: its phone time precedes it
    early = api.clock.now().isoformat()
    api.tick(minutes=7)
    await post(api, f"/api/v1/packages/{waiting['id']}/picked-up", "courier-07", {})
    await post(api, f"/api/v1/packages/{handed['id']}/picked-up", "courier-07", {"client_time": early})
    in_hand = await my_list(api, "courier-07", "in_hand")
    assert {r["code"]: r["steps"] for r in in_hand["items"]} == {
        waiting["code"]: ["in_transit", "delivered", "exception"],
        handed["code"]: ["in_transit", "delivered", "exception"],
    }
    await post(api, f"/api/v1/packages/{handed['id']}/delivered", "courier-07", {})
    assert [r["code"] for r in (await my_list(api, "courier-07", "delivered_today"))["items"]] == [handed["code"]]
    assert [r["code"] for r in (await my_list(api, "courier-07", "in_hand"))["items"]] == [waiting["code"]]
    api.tick(days=1)
    assert (await my_list(api, "courier-07", "delivered_today"))["items"] == []


async def test_the_courier_list_pages_with_a_cursor_and_refuses_other_roles(api):
    packages = []
    for _ in range(3):
        packages.append(await sealed(api))
        api.tick(minutes=1)  # oldest first
    first = await my_list(api, "courier-07", "to_pick_up", limit=2)
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await my_list(api, "courier-07", "to_pick_up", limit=2, cursor=first["next_cursor"])
    assert [r["code"] for r in first["items"] + rest["items"]] == [p["code"] for p in packages]
    assert rest["next_cursor"] is None
    response = await api.client.get(
        "/api/v1/courier/packages", params={"list": "to_pick_up", "cursor": "!!"}, headers=api.auth("courier-07")
    )
    assert response.status == 422
    response = await api.client.get("/api/v1/courier/packages?list=in_hand", headers=api.auth("clerk-lf"))
    assert response.status == 403


async def custody_count(api, package_id: str) -> int:
    async with api.container.engine.connect() as conn:
        query = select(func.count()).select_from(t.custody_events).where(t.custody_events.c.package_id == package_id)
        return int((await conn.execute(query)).scalar_one())


async def test_a_department_signs_a_whole_batch_by_the_manifest_qr_with_a_discrepancy_on_one_package(api):
    one, two = await sealed(api), await sealed(api)
    manifest = await hand_over(api, one, two)
    courier = await post(api, "/api/v1/scan", "courier-07", {"code": manifest["scan_payload"]}, 422)
    assert "交接单" in courier["title"]  # a courier scans packages

    scanned = await post(api, "/api/v1/scan", "dept-zj", {"code": manifest["scan_payload"]})
    assert scanned["kind"] == "manifest" and scanned["id"] == manifest["id"]
    assert [(p["code"], p["signable"]) for p in scanned["packages"]] == [(one["code"], True), (two["code"], True)]
    assert scanned["courier_name"] == "吴海波（政务专递）"

    before = {p["id"]: await custody_count(api, p["id"]) for p in (one, two)}
    body = {
        "office_id": "dept-441500-qx",
        "packages": [{"package_id": two["id"], "discrepancies": [{"item_seq": 2, "kind": "damaged", "note": "水渍"}]}],
    }
    headers = {"Idempotency-Key": "batch-1"}
    signed = await post(api, f"/api/v1/manifests/{manifest['id']}/sign", "dept-zj", body, headers=headers)
    assert [(p["code"], p["state"]) for p in signed["signed"]] == [(one["code"], "signed"), (two["code"], "signed")]
    assert signed["skipped"] == []
    for p in (one, two):
        assert await custody_count(api, p["id"]) == before[p["id"]] + 1
    custody = await api.client.get(f"/api/v1/packages/{two['id']}/custody", headers=api.auth("dept-zj"))
    last = (await custody.json())["events"][-1]
    assert last["kind"] == "signed" and last["discrepancies"][0]["kind"] == "damaged"
    custody = await api.client.get(f"/api/v1/packages/{one['id']}/custody", headers=api.auth("dept-zj"))
    assert (await custody.json())["events"][-1]["discrepancies"] == []
    for p in (one, two):
        case = await api.client.get(f"/api/v1/cases/{p['case_id']}", headers=api.auth("dept-zj"))
        assert (await case.json())["state"] == "received"

    state = await snapshot(api)
    replay = await api.client.post(
        f"/api/v1/manifests/{manifest['id']}/sign", json=body, headers={**api.auth("dept-zj"), **headers}
    )
    assert replay.status == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    assert await replay.json() == signed
    assert await snapshot(api) == state
    again = await post(api, f"/api/v1/manifests/{manifest['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"}, 409)
    assert again["title"] == "交接单中没有待本单位签收的材料包"
    rescanned = await post(api, "/api/v1/scan", "dept-zj", {"code": manifest["scan_payload"]})
    assert [p["signable"] for p in rescanned["packages"]] == [False, False]


async def test_a_batch_signature_is_all_or_nothing_and_refused_outside_the_receiving_office(api):
    one, two = await sealed(api), await sealed(api)
    manifest = await hand_over(api, one, two)
    path = f"/api/v1/manifests/{manifest['id']}/sign"
    before = await snapshot(api)
    bad = {
        "office_id": "dept-441500-qx",
        "packages": [{"package_id": two["id"], "discrepancies": [{"item_seq": 99, "kind": "missing"}]}],
    }
    await post(api, path, "dept-zj", bad, 422, headers={"Idempotency-Key": "b-1"})  # no item 99: nothing signed
    stranger = await actor(api, "county-clerk", "dept_clerk", "region:441581")  # sees the batch, not its receiver
    # its own office: nothing of the batch is addressed to it
    problem = await post(api, path, stranger, {"office_id": "win-441581"}, 409, headers={"Idempotency-Key": "b-2"})
    assert problem["type"] == "nothing_to_sign"
    problem = await post(api, path, stranger, {"office_id": "dept-441500-qx"}, 403, headers={"Idempotency-Key": "b-3"})
    assert problem["title"].startswith("无权操作：")
    assert await snapshot(api) == before
    await post(api, "/api/v1/manifests/not-a-manifest/sign", "dept-zj", {"office_id": "dept-441500-qx"}, 404)


async def test_a_qr_code_opened_by_a_phone_camera_shows_a_page_and_sends_a_signed_in_user_to_the_scan_screen(api):
    package = await sealed(api)
    manifest = await hand_over(api, package)
    for payload, title in ((package["scan_payload"], "材料包流转二维码"), (manifest["scan_payload"], "交接单二维码")):
        path = "/" + payload.split("/", 3)[3]
        response = await api.client.get(path, allow_redirects=False)
        page = await response.text()
        assert response.status == 200 and response.content_type == "text/html", page
        assert title in page and "工作台" in page
        assert package["code"] not in page and "张小三" not in page and "win-" not in page  # nothing leaks
        assert response.headers["Cache-Control"] == "no-store"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]

    forged = "/" + package["scan_payload"].split("/", 3)[3][:-1] + "X"
    response = await api.client.get(forged)
    assert response.status == 404 and "二维码无效" in await response.text()

    await give_password(api, "dept-zj")
    await give_password(api, "courier-07")
    for user, screen, payload in (
        ("dept-zj", "scan", manifest["scan_payload"]),
        ("courier-07", "courier", package["scan_payload"]),
    ):
        browser = await signed_in(api, user)
        api.client.session.cookie_jar.clear()
        path = "/" + payload.split("/", 3)[3]
        response = await api.client.get(path, allow_redirects=False, headers=browser.headers(csrf=None))
        assert response.status == 303, await response.text()
        assert response.headers["Location"] == f"/console#/{screen}/" + quote(payload, safe="")
    expired = {"Cookie": "handoff_session=not-a-session"}
    response = await api.client.get(path, allow_redirects=False, headers=expired)
    assert response.status == 200 and "材料包流转二维码" in await response.text()
