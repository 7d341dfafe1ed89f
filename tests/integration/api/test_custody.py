"""Custody anchored beyond the database, over HTTP (SQLite and PostgreSQL): a cut chain answers
``verified: false``; the signed checkpoints are served to any staff member and verify offline
with the served key; the custody report PDF lists the chain and the checkpoint covering it; the
ledger and the manifest print the newest checkpoint in their footer."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jsonschema import Draft202012Validator
from sqlalchemy import delete

from adapters.crypto import Ed25519Signer
from adapters.db import checkpoints
from adapters.db import domain_tables as t

from .test_documents import download, flat, pdf_text
from .test_journeys import post, registration

pytestmark = pytest.mark.integration

SIGNER = Ed25519Signer(b"checkpoint-key-for-tests-only-32")


async def a_signed_package(api):
    """An outbound package sealed, handed over, delivered and signed: five custody events."""
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    manifest = await post(
        api,
        "/api/v1/manifests",
        "clerk-lf",
        {"office_id": "win-441581", "courier": "courier-07", "package_ids": [package["id"]]},
        201,
    )
    api.tick(hours=3)
    await post(api, f"/api/v1/packages/{package['id']}/delivered", "courier-07", {})
    await post(api, f"/api/v1/packages/{package['id']}/sign", "dept-zj", {"office_id": "dept-441500-qx"})
    return case, package, manifest


async def custody(api, package_id):
    response = await api.client.get(f"/api/v1/packages/{package_id}/custody", headers=api.auth("supervisor"))
    assert response.status == 200
    return await response.json()


async def test_deleting_the_last_three_custody_rows_answers_verified_false_with_the_reason(api):
    _, package, _ = await a_signed_package(api)
    before = await custody(api, package["id"])
    assert before["verified"] and len(before["events"]) == 5
    ce = t.custody_events
    async with api.container.engine.begin() as conn:
        await conn.execute(delete(ce).where(ce.c.package_id == package["id"], ce.c.seq > 2))
    after = await custody(api, package["id"])
    assert after["verified"] is False and after["broken_at"] == 3
    assert after["reason"] == "监管链现有 2 条记录，材料包登记的是 5 条：记录被删除或插入"
    async with api.container.engine.begin() as conn:
        await conn.execute(delete(ce).where(ce.c.package_id == package["id"]))
    emptied = await custody(api, package["id"])
    assert emptied["verified"] is False and emptied["reason"] == "监管链没有任何记录"


async def test_checkpoints_are_served_to_any_staff_and_verify_offline_with_the_served_key(api):
    response = await api.client.get("/api/v1/checkpoints/latest", headers=api.auth("supervisor"))
    assert response.status == 404 and "尚未生成存证检查点" in (await response.json())["title"]
    await a_signed_package(api)
    first = await checkpoints.make(api.container.engine, SIGNER, api.clock.now())
    api.tick(days=1)
    second = await checkpoints.make(api.container.engine, SIGNER, api.clock.now())
    spec = await (await api.client.get("/api/v1/openapi.json")).json()
    for path, template, user, expected in [
        ("/api/v1/checkpoints/latest", "/api/v1/checkpoints/latest", "clerk-hf", second),
        ("/api/v1/checkpoints/1", "/api/v1/checkpoints/{n}", "dept-zj", first),
    ]:
        response = await api.client.get(path, headers=api.auth(user))
        assert response.status == 200, path
        body = await response.json()
        schema = spec["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        Draft202012Validator(schema).validate(body)
        assert (body["n"], body["root"], body["count"], body["prev_hash"]) == (
            expected.n,
            expected.root,
            expected.count,
            expected.prev_hash,
        )
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"]))
        key.verify(base64.b64decode(body["signature"]), body["signed"].encode())  # raises if forged
        assert body["public_key"] == base64.b64encode(SIGNER.public_key).decode()
    latest = await (await api.client.get("/api/v1/checkpoints/latest", headers=api.auth("admin"))).json()
    assert latest["prev_hash"] == first.digest()
    for missing in ("3", "0", "abc", "99999999999", "１"):
        response = await api.client.get(f"/api/v1/checkpoints/{missing}", headers=api.auth("supervisor"))
        assert response.status == 404, missing
    response = await api.client.get("/api/v1/checkpoints/1", headers=api.auth("courier-07"))
    assert response.status == 403
    assert (await api.client.get("/api/v1/checkpoints/1")).status == 401


async def test_the_custody_report_lists_each_event_the_verification_and_the_covering_checkpoint(api):
    case, package, _ = await a_signed_package(api)
    _, body = await download(api, f"/api/v1/packages/{package['id']}/custody-report", "supervisor")
    text = flat(pdf_text(body))
    assert "材料包监管链报告" in text and package["code"] in text and case["case_no"] in text
    for kind in ("创建", "封装", "揽收", "送达", "签收"):
        assert kind in text
    assert "验证通过：5 条记录首尾相接" in text and "尚无覆盖本材料包当前监管链的存证检查点" in text
    events = (await custody(api, package["id"]))["events"]
    assert all(e["hash"][:16] in text for e in events)
    made = await checkpoints.make(api.container.engine, SIGNER, api.clock.now())
    _, body = await download(api, f"/api/v1/packages/{package['id']}/custody-report", "dept-zj")
    text = flat(pdf_text(body))
    assert f"已由第 {made.n} 号存证检查点固定" in text and made.root[:16] in text
    assert f"存证检查点 No.{made.n}" in text and made.signature.hex()[:16] in text
    ce = t.custody_events
    async with api.container.engine.begin() as conn:
        await conn.execute(delete(ce).where(ce.c.package_id == package["id"], ce.c.seq > 2))
    _, body = await download(api, f"/api/v1/packages/{package['id']}/custody-report", "supervisor")
    text = flat(pdf_text(body))
    assert "验证未通过：监管链现有 2 条记录" in text
    await download(api, f"/api/v1/packages/{package['id']}/custody-report", "clerk-hf", status=404)


async def test_the_ledger_and_the_manifest_print_the_newest_checkpoint_in_their_footer(api):
    _, _, manifest = await a_signed_package(api)
    manifest_path = f"/api/v1/manifests/{manifest['id']}/documents/manifest"
    _, before = await download(api, manifest_path, "clerk-lf")
    assert "存证检查点" not in flat(pdf_text(before))
    await checkpoints.make(api.container.engine, SIGNER, api.clock.now())
    made = await checkpoints.make(api.container.engine, SIGNER, api.clock.now())
    short = f"存证检查点 No.{made.n}"
    for path, user in [(manifest_path, "clerk-lf"), ("/api/v1/ledger/export?format=pdf", "supervisor")]:
        _, body = await download(api, path, user)
        text = flat(pdf_text(body))
        assert short in text and made.root[:16] in text and made.signature.hex()[:16] in text, path
