"""Authority by action and custody by holder (issue: no ordinary user can bend the record).

Each test drives the API over HTTP on SQLite and on PostgreSQL. A refused action must change
nothing: no row, no custody event, no outbox message, no stored idempotency answer, no file."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from adapters.blobs import FileBlobStore
from adapters.db import domain_tables as t
from adapters.db import queries
from adapters.db.tables import outbox
from api.authority import Authority
from api.routes.common import API
from handoff.codes import hash_token
from tests.support.images import b64, jpeg_with_gps, png

from .test_electronic import a_pdf
from .test_journeys import post, registration

pytestmark = pytest.mark.integration


async def actor(api, user_id: str, role: str, scope: str, *, active: bool = True) -> str:
    """A user of ``role`` with ``scope`` and a token for it; returns the user id for ``api.auth``."""
    async with api.container.engine.begin() as conn:
        await queries.create_user_token(
            conn,
            user_id=user_id,
            name=f"测试{user_id}",
            role=role,
            scope=scope,
            phone="",
            token_hash=hash_token(f"tok-{user_id}"),
            at=api.clock.now(),
            expires_at=api.clock.now() + timedelta(days=30),
        )
        if not active:
            await conn.execute(t.users.update().where(t.users.c.id == user_id).values(active=False))
    api.tokens[user_id] = f"tok-{user_id}"
    return user_id


async def snapshot(api) -> dict[str, Any]:
    """Everything a command could have changed."""
    async with api.container.engine.connect() as conn:

        async def count(table: Any) -> int:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())

        cases = sorted((await conn.execute(select(t.cases.c.id, t.cases.c.state, t.cases.c.version))).all())
        packages = sorted(
            await conn.execute(select(t.packages.c.id, t.packages.c.state, t.packages.c.version, t.packages.c.holder))
        )
        return {
            "cases": cases,
            "packages": packages,
            "custody": await count(t.custody_events),
            "outbox": await count(outbox),
            "manifests": await count(t.manifests),
            "keys": await count(t.idempotency_keys),
            "files": await count(t.case_files),
            "results": await count(t.case_results),
            "blobs": await stored_blobs(api),
        }


async def stored_blobs(api) -> list[str]:
    """The addresses of every stored blob (and any stray file), in the store the harness chose."""
    blobs = api.container.blobs
    if isinstance(blobs, FileBlobStore):
        return sorted(p.parent.name + p.name for p in Path(blobs.root).rglob("*") if p.is_file())
    async with api.container.engine.connect() as conn:
        return sorted((await conn.execute(select(t.blobs.c.sha256))).scalars())


def example(schema: dict[str, Any]) -> Any:
    """A value that satisfies ``schema`` (the route's own request schema), so that a refusal can
    only come from authority, not from validation."""
    if "anyOf" in schema:
        return example(schema["anyOf"][0])
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {
            name: example(sub)
            for name, sub in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
    if kind == "array":
        return [example(schema["items"])] * schema.get("minItems", 0)
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return "2026-03-03"
    if schema.get("format") == "date-time":
        return "2026-03-02T10:00:00+08:00"
    return "测试"


async def world(api) -> dict[str, Any]:
    """A case of the city weather bureau (dept-441500-qx) collected at the 陆丰 window, sealed and
    handed to courier-07, and the actors of the *other* office for every kind of authority."""
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    return {
        "case": case,
        "package": package,
        # reads the case through the window's county, but is not the deciding department
        "county_clerk": await actor(api, "county-clerk", "dept_clerk", "region:441581"),
        "county_lead": await actor(api, "county-lead", "dept_lead", "region:441581"),
        # reads the case through the department, but is not its window
        "city_window": await actor(api, "city-window", "window_clerk", "office:dept-441500-qx"),
        # reads the case through the window's county, but does not oversee the deciding department
        "county_supervisor": await actor(api, "county-supervisor", "supervisor", "region:441581"),
        # a courier of the same city who was never handed the package
        "other_courier": await actor(api, "courier-08", "courier", "region:4415"),
    }


def stranger(route, w: dict[str, Any]) -> str:
    """An actor whose role the route admits and who can read the case or package, but whose
    office (or hands) the action does not belong to."""
    roles = {r.value for r in route.roles}
    if route.authority in (Authority.PICKUP, Authority.HOLDER):
        return w["other_courier"]
    if route.authority is Authority.PACKAGE_PARTY:
        return w["other_courier"]
    if route.authority is Authority.RECEIVER:
        return w["county_clerk"]
    if route.authority in (Authority.WINDOW, Authority.PICKUP_OFFICE):
        return w["city_window"]
    if route.authority is Authority.OWN_OFFICE:
        return w["city_window"] if "window_clerk" in roles else w["county_clerk"]
    if route.authority is Authority.RESULT_DELIVERY:
        return w["county_clerk"]
    if route.authority is Authority.SUPERVISION:
        return w["county_supervisor"]
    if "dept_lead" in roles and "dept_clerk" not in roles:
        return w["county_lead"]
    return w["county_clerk"]


UNIT_ROUTES_WITHOUT_AUTHORITY = {
    ("POST", "/api/v1/cases"),  # the window office named in the body must be in scope (404 otherwise)
    ("POST", "/api/v1/manifests"),  # the office named in the body; the domain refuses packages it does not hold
    # the office named in the body must be in scope, and it receives each package it signs (per package)
    ("POST", "/api/v1/manifests/{manifest_id}/sign"),
}


async def test_every_mutating_route_refuses_the_other_office_and_changes_nothing(api):
    w = await world(api)
    ids = {"case_id": w["case"]["id"], "package_id": w["package"]["id"], "stage_id": "s-1", "file_id": "f-1"}
    routes = [r for r in API.routes if r.unit and r.roles is not None]
    assert {(r.method, r.path) for r in routes if r.authority is None} == UNIT_ROUTES_WITHOUT_AUTHORITY
    checked = []
    for route in routes:
        if route.authority is None:
            continue
        user = stranger(route, w)
        before = await snapshot(api)
        # an upload (raw body) carries a real file, which passes its check before the unit
        sent = {"data": a_pdf()} if route.raw_body else {"json": example(route.body or {"type": "object"})}
        response = await api.client.post(
            re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], route.path),
            **sent,
            headers={**api.auth(user), "Idempotency-Key": f"k-{len(checked)}"},
        )
        problem = await response.json(content_type=None)
        assert response.status == 403, (route.path, user, problem)
        assert problem["type"] == "forbidden_action" and problem["title"].startswith("无权操作："), problem
        assert await snapshot(api) == before, route.path
        checked.append(route.path)
    # every kind of authority was tried
    assert {r.authority for r in routes if r.authority} == set(Authority)
    assert len(checked) == len([r for r in routes if r.authority])


async def test_a_county_clerk_cannot_accept_or_decide_a_city_departments_case(api):
    w = await world(api)
    case_id = w["case"]["id"]
    for path, body in [("accept", {}), ("decision", {"outcome": "denied", "opinion": "不予许可"})]:
        problem = await post(api, f"/api/v1/cases/{case_id}/{path}", w["county_clerk"], body, 403)
        assert problem["title"] == "无权操作：该操作只能由办件的审批部门办理"
    # but the clerk may still read it (the window's county is in their scope)
    seen = await api.client.get(f"/api/v1/cases/{case_id}", headers=api.auth(w["county_clerk"]))
    assert seen.status == 200 and (await seen.json())["state"] == "forwarded"


async def test_a_courier_moves_only_what_it_holds(api):
    w = await world(api)
    pid = w["package"]["id"]
    other = w["other_courier"]
    for step in ("picked-up", "in-transit", "delivered"):
        await post(api, f"/api/v1/packages/{pid}/{step}", other, {}, 403)
    await post(api, f"/api/v1/packages/{pid}/exception", other, {"kind": "lost", "note": "找不到"}, 403)
    # the courier it was handed to acknowledges the hand-over once (both sides are in the chain)
    confirmed = await post(api, f"/api/v1/packages/{pid}/picked-up", "courier-07", {"place": "陆丰窗口"})
    assert confirmed["state"] == "with_courier"
    await post(api, f"/api/v1/packages/{pid}/picked-up", "courier-07", {}, 409)
    custody = await api.client.get(f"/api/v1/packages/{pid}/custody", headers=api.auth("courier-07"))
    kinds = [(e["kind"], e["note"]) for e in (await custody.json())["events"]]
    assert kinds[-2:] == [("picked_up", f"交接单 {kinds[-2][1].split()[-1]}"), ("picked_up", "快递员确认揽收")]


async def test_a_courier_may_collect_a_package_sealed_for_our_couriers_at_an_office_it_serves(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    outsider = await actor(api, "courier-gz", "courier", "region:4401")
    await post(api, f"/api/v1/packages/{package['id']}/picked-up", outsider, {}, 404)
    taken = await post(api, f"/api/v1/packages/{package['id']}/picked-up", "courier-07", {})
    assert taken["state"] == "with_courier" and taken["holder"] == "courier:courier-07"


async def test_hand_over_and_copies_name_only_active_staff_who_cover_the_route(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    await actor(api, "courier-off", "courier", "region:4415", active=False)
    for courier in ("吴海波", "courier-off", "courier-x", "clerk-lf"):
        before = await snapshot(api)
        problem = await post(
            api,
            "/api/v1/manifests",
            "clerk-lf",
            {"office_id": "win-441581", "courier": courier, "package_ids": [package["id"]]},
            422,
        )
        assert problem["errors"][0]["field"] == "courier", problem
        assert await snapshot(api) == before
    manifest = await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    assert manifest["courier_name"] == "吴海波（政务专递）"
    for lead in ("黄建国", "lead-zj"):  # no such user; a lead of another department
        problem = await post(api, f"/api/v1/cases/{case['id']}/copies", "dept-zj", {"lead": lead}, 422)
        assert problem["errors"][0]["field"] == "lead"
        stage = {"stage_type": "inspection", "reason": "现场勘验", "legal_basis": "第四十五条", "approved_by": lead}
        problem = await post(api, f"/api/v1/cases/{case['id']}/stages", "dept-zj", stage, 422)
        assert problem["errors"][0]["field"] == "approved_by"


async def test_the_pickers_list_active_couriers_and_leads_by_name_within_scope(api):
    await actor(api, "courier-off", "courier", "region:4415", active=False)
    response = await api.client.get("/api/v1/staff?role=courier", headers=api.auth("clerk-lf"))
    couriers = (await response.json())["items"]
    assert [c["id"] for c in couriers] == ["courier-07"] and couriers[0]["name"] == "吴海波（政务专递）"
    assert set(couriers[0]) == {"id", "name", "role", "role_zh"}  # no phone numbers
    response = await api.client.get(
        "/api/v1/staff?role=dept_lead&office_id=dept-441500-zj", headers=api.auth("dept-zj")
    )
    assert [lead["id"] for lead in (await response.json())["items"]] == ["lead-zj"]
    response = await api.client.get("/api/v1/staff?role=dept_lead&office_id=win-441521", headers=api.auth("clerk-lf"))
    assert response.status == 404
    response = await api.client.get("/api/v1/staff?role=admin", headers=api.auth("clerk-lf"))
    assert response.status == 422


async def test_twenty_concurrent_requests_with_one_key_make_one_custody_event_and_twenty_equal_answers(api):
    w = await world(api)
    pid = w["package"]["id"]
    before = await snapshot(api)

    async def report() -> tuple[int, Any, str | None]:
        response = await api.client.post(
            f"/api/v1/packages/{pid}/in-transit",
            json={"place": "海丰中转站"},
            headers={**api.auth("courier-07"), "Idempotency-Key": "same-key"},
        )
        return response.status, await response.json(), response.headers.get("Idempotent-Replayed")

    answers = await asyncio.gather(*(report() for _ in range(20)))
    assert {status for status, _, _ in answers} == {200}
    assert all(body == answers[0][1] for _, body, _ in answers)
    assert sorted(replayed or "" for _, _, replayed in answers) == [""] + ["true"] * 19
    after = await snapshot(api)
    assert after["custody"] == before["custody"] + 1
    assert after["keys"] == before["keys"] + 1


async def test_a_refused_command_leaves_no_evidence_file_and_images_are_re_encoded(api):
    w = await world(api)
    pid = w["package"]["id"]
    photo = jpeg_with_gps()
    await post(
        api,
        f"/api/v1/packages/{pid}/picked-up",
        "courier-07",
        {"evidence": [{"content_type": "image/jpeg", "data_base64": b64(photo)}]},
    )
    stored = await stored_blobs(api)
    assert len(stored) == 1
    kept = Image.open(io.BytesIO(await api.container.blobs.get(stored[0])))
    assert kept.format == "JPEG" and not kept.getexif()  # no EXIF, no GPS position
    before = await snapshot(api)
    for _ in range(4):  # the pick-up is already confirmed: 409, and the photo is not kept
        await post(
            api,
            f"/api/v1/packages/{pid}/picked-up",
            "courier-07",
            {"evidence": [{"content_type": "image/png", "data_base64": b64(png(300, 90))}]},
            409,
        )
    assert await snapshot(api) == before
    problem = await post(
        api,
        f"/api/v1/packages/{pid}/in-transit",
        "courier-07",
        {"evidence": [{"content_type": "image/png", "data_base64": b64(b"%PDF-1.4 not an image")}]},
        422,
    )
    assert "PNG 或 JPEG" in problem["title"]


async def test_evidence_beyond_the_daily_quota_is_refused_until_tomorrow(api):
    w = await world(api)
    pid = w["package"]["id"]
    api.container.evidence_daily_bytes = len(png()) + 10
    body = {"evidence": [{"content_type": "image/png", "data_base64": b64(png())}]}
    await post(api, f"/api/v1/packages/{pid}/picked-up", "courier-07", body)
    before = await snapshot(api)
    response = await api.client.post(
        f"/api/v1/packages/{pid}/in-transit",
        json={"evidence": [{"content_type": "image/png", "data_base64": b64(png(200, 60))}]},
        headers=api.auth("courier-07"),
    )
    assert response.status == 429 and int(response.headers["Retry-After"]) > 0
    assert await snapshot(api) == before
    api.tick(days=1)
    await post(api, f"/api/v1/packages/{pid}/in-transit", "courier-07", {"evidence": body["evidence"]})


async def test_a_signed_package_takes_one_late_delivered_report_made_between_pickup_and_signature(api):
    w = await world(api)
    pid = w["package"]["id"]
    picked_at = api.clock.now()
    api.tick(hours=3)
    await post(api, f"/api/v1/packages/{pid}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    api.tick(hours=2)
    late = (picked_at + timedelta(hours=2)).isoformat()
    for client_time in ("1971-01-01T00:00:00+08:00", (api.clock.now() + timedelta(hours=1)).isoformat()):
        await post(api, f"/api/v1/packages/{pid}/delivered", "courier-07", {"client_time": client_time}, 422)
    after_signature = (api.clock.now() - timedelta(hours=1)).isoformat()
    await post(api, f"/api/v1/packages/{pid}/delivered", "courier-07", {"client_time": after_signature}, 409)
    before = await snapshot(api)
    await post(api, f"/api/v1/packages/{pid}/delivered", "courier-07", {"client_time": late})
    assert (await snapshot(api))["custody"] == before["custody"] + 1
    for _ in range(3):
        await post(api, f"/api/v1/packages/{pid}/delivered", "courier-07", {"client_time": late}, 409)
    await post(api, f"/api/v1/packages/{pid}/delivered", w["other_courier"], {"client_time": late}, 403)


async def test_an_offline_report_older_than_the_offline_window_is_refused(api):
    w = await world(api)
    pid = w["package"]["id"]
    api.tick(days=9)
    old = (api.clock.now() - timedelta(days=8)).isoformat()
    problem = await post(api, f"/api/v1/packages/{pid}/in-transit", "courier-07", {"client_time": old}, 422)
    assert "7 天" in problem["title"]


async def test_a_disabled_users_token_stops_working_at_once(api):
    response = await api.client.patch(
        "/api/v1/admin/users/courier-07", json={"active": False}, headers=api.auth("admin")
    )
    assert response.status == 200 and (await response.json())["active"] is False
    me = await api.client.get("/api/v1/me", headers=api.auth("courier-07"))
    assert me.status == 401


async def test_the_window_takes_in_owed_materials_in_a_supplement_package_supplied_when_the_department_signs(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)  # two 容缺 items owed
    cid = case["id"]
    early = {"items": [{"name": "授权委托书", "pages": 1}]}
    await post(api, f"/api/v1/cases/{cid}/supplement-packages", "clerk-lf", early, 409)  # not forwarded yet
    package = await post(api, f"/api/v1/cases/{cid}/packages", "clerk-lf", {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    await post(
        api,
        f"/api/v1/cases/{cid}/supplement",
        "dept-zj",
        {"items": ["防雷装置竣工图纸（加盖公章）"], "due_on": "2026-03-10"},
    )
    # only what is owed, and a 补正 request comes complete
    problem = await post(
        api, f"/api/v1/cases/{cid}/supplement-packages", "clerk-lf", {"items": [{"name": "营业执照"}]}, 422
    )
    assert "营业执照" in problem["title"]
    supplement = await post(
        api,
        f"/api/v1/cases/{cid}/supplement-packages",
        "clerk-lf",
        {"items": [{"name": "防雷装置竣工图纸（加盖公章）", "pages": 12}, {"name": "授权委托书", "pages": 1}]},
        201,
    )
    assert supplement["purpose"] == "supplement" and supplement["state"] == "sealed"
    assert [i["name"] for i in supplement["items"]] == ["防雷装置竣工图纸（加盖公章）", "授权委托书"]
    waiting = await (await api.client.get(f"/api/v1/cases/{cid}", headers=api.auth("clerk-lf"))).json()
    assert waiting["state"] == "supplement_requested"
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [supplement["id"]]},
        201,
    )
    await post(api, f"/api/v1/packages/{supplement['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    supplied = await (await api.client.get(f"/api/v1/cases/{cid}", headers=api.auth("clerk-lf"))).json()
    assert supplied["state"] == "received", "the supplement is supplied: pre-review resumes"
    owed = {i["material"]: i["fulfilled_at"] is not None for i in supplied["ious"]}
    assert owed == {"施工单位的资质证": False, "授权委托书": True}


async def test_a_batch_signature_by_a_manifest_is_refused_to_an_office_that_does_not_receive_the_packages(api):
    """The manifest route names no case or package in its path: its authority is checked per
    package, against the office named in the body (tests/integration/api/test_courier_screen.py
    signs a batch; here every other office is refused and nothing changes)."""
    w = await world(api)
    scanned = await post(api, "/api/v1/scan", "dept-zj", {"code": "x"}, 422)  # not a code: a clear 4xx
    assert scanned["title"]
    manifest_id = await _manifest_of(api, w["package"]["id"])
    for user, office, status in (
        (w["county_clerk"], "dept-441500-qx", 403),  # reads the batch, does not receive it
        (w["county_clerk"], "dept-441500-zj", 403),
        (await actor(api, "far-clerk", "dept_clerk", "region:4401"), "dept-441500-qx", 404),  # sees nothing of it
    ):
        before = await snapshot(api)
        response = await api.client.post(
            f"/api/v1/manifests/{manifest_id}/sign",
            json={"office_id": office},
            headers={**api.auth(user), "Idempotency-Key": f"m-{user}-{office}"},
        )
        problem = await response.json(content_type=None)
        assert response.status == status, (user, office, problem)
        assert await snapshot(api) == before


async def _manifest_of(api, package_id: str) -> str:
    async with api.container.engine.connect() as conn:
        query = select(t.manifest_packages.c.manifest_id).where(t.manifest_packages.c.package_id == package_id)
        return str((await conn.execute(query)).scalar_one())


class GatedBlobs:
    """Our blob store port around the harness's store: the first ``put`` waits, once stored, until
    the test releases it (so another request can run between a put and its command's end)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.stored = asyncio.Event()
        self.release = asyncio.Event()
        self.armed = True

    async def put(self, data: bytes, content_type: str) -> str:
        digest = await self.inner.put(data, content_type)
        if self.armed:
            self.armed = False
            self.stored.set()
            await self.release.wait()
        return digest

    async def get(self, sha256: str) -> bytes:
        return await self.inner.get(sha256)

    async def has(self, sha256: str) -> bool:
        return await self.inner.has(sha256)

    async def discard(self, sha256: str) -> None:
        await self.inner.discard(sha256)


async def test_a_failed_command_does_not_remove_the_photo_another_request_stored_the_same_and_committed(pg_api):
    api = pg_api
    w = await world(api)
    await post(api, f"/api/v1/packages/{w['package']['id']}/picked-up", "courier-07", {})  # confirmed
    other = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    second = await post(api, f"/api/v1/cases/{other['id']}/packages", "clerk-lf", {}, 201)
    await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": w["other_courier"], "package_ids": [second["id"]]},
        201,
    )
    gated = GatedBlobs(api.container.blobs)
    api.container.blobs = gated
    photo = {"evidence": [{"content_type": "image/png", "data_base64": b64(png(200, 60))}]}
    # A: courier-07 confirms its pick-up again with the photo: stored, then refused (409)
    first = asyncio.create_task(
        api.client.post(f"/api/v1/packages/{w['package']['id']}/picked-up", json=photo, headers=api.auth("courier-07"))
    )
    await asyncio.wait_for(gated.stored.wait(), 10)
    # B: another courier's pick-up with the same photo finds it stored and does not store it again
    then = asyncio.create_task(
        api.client.post(f"/api/v1/packages/{second['id']}/picked-up", json=photo, headers=api.auth(w["other_courier"]))
    )
    await asyncio.sleep(0.5)
    gated.release.set()
    refused, accepted = await first, await then
    assert refused.status == 409, await refused.text()
    assert accepted.status == 200, await accepted.text()
    async with api.container.engine.connect() as conn:
        evidence = (
            (
                await conn.execute(
                    select(t.custody_events.c.evidence).where(
                        t.custody_events.c.package_id == second["id"], t.custody_events.c.kind == "picked_up"
                    )
                )
            )
            .scalars()
            .all()
        )
    [ref] = [r for refs in evidence for r in refs]
    assert await gated.has(ref), "the photo B's custody event refers to was removed by A's failure"
    assert len(await gated.get(ref)) > 0
    # a refused command alone still leaves nothing behind
    lone = {"evidence": [{"content_type": "image/png", "data_base64": b64(png(90, 300))}]}
    before = await stored_blobs(api)
    await post(api, f"/api/v1/packages/{w['package']['id']}/picked-up", "courier-07", lone, 409)
    assert await stored_blobs(api) == before
