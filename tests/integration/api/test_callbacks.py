"""Provider pushes at their own routes: verified, applied once, answered in the provider's form."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from adapters.db import domain_tables as t
from adapters.db.tables import callback_receipts
from handoff.services import AssignWaybill, dispatch

from .test_journeys import post, registration

pytestmark = pytest.mark.integration

REPORT = [
    {
        "phone_number": "13812345678",
        "send_time": "2026-03-02 09:40:00",
        "report_time": "2026-03-02 09:40:05",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": "biz-1",
        "out_id": "n-1",
    }
]


async def test_an_sms_report_updates_its_notification_once_and_a_forged_one_is_refused(api):
    async with api.container.engine.begin() as conn:
        now = datetime.now(UTC)
        await conn.execute(
            insert(t.notifications).values(
                id="n-1",
                event_id="e-1",
                case_id=None,
                recipient="13812345678",
                template_key="receipt",
                provider="alibaba",
                provider_message_id="biz-1",
                status="sending",
                reason="",
                created_at=now,
                updated_at=now,
            )
        )
    forged = await api.client.post("/api/v1/callbacks/sms/alibaba?token=guess", json=REPORT)
    assert forged.status == 403
    for _ in range(2):
        response = await api.client.post("/api/v1/callbacks/sms/alibaba?token=sms-callback-secret", json=REPORT)
        assert response.status == 200 and (await response.json())["code"] == 0
    async with api.container.engine.connect() as conn:
        status = (await conn.execute(select(t.notifications.c.status))).scalar_one()
        receipts = (await conn.execute(select(func.count()).select_from(callback_receipts))).scalar_one()
    assert status == "delivered" and receipts == 1
    assert (await api.client.post("/api/v1/callbacks/sms/tencent?token=x", data=b"[]")).status == 404


def sf_push(waybill: str, op_code: str, at: str) -> dict:
    return {
        "Body": {
            "WaybillRoute": [
                {
                    "mailno": waybill,
                    "acceptTime": at,
                    "acceptAddress": "汕尾市城区",
                    "remark": "顺丰速运 已收取快件",
                    "opCode": op_code,
                    "id": f"{op_code}-{at}",
                    "orderid": "x",
                }
            ]
        }
    }


async def test_a_carrier_push_moves_the_package_once_and_a_forged_or_broken_one_is_refused(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {"carrier": "sf"}, 201)
    await dispatch(
        AssignWaybill(package_id=package["id"], carrier="sf", waybill="SF1234567890"),
        api.container.uow(),
        api.container.deps,
    )
    url = "/api/v1/callbacks/carriers/sf?token=sf-callback-secret"
    assert (
        await api.client.post(
            "/api/v1/callbacks/carriers/sf?token=nope", json=sf_push("SF1234567890", "50", "2026-03-02 10:00:00")
        )
    ).status == 403
    assert (await api.client.post(url, data=b"{broken", headers={"Content-Type": "application/json"})).status == 400
    for _ in range(2):
        response = await api.client.post(url, json=sf_push("SF1234567890", "50", "2026-03-02 10:00:00"))
        assert response.status == 200
        assert json.loads(await response.text())["return_code"] == "0000"
    await api.client.post(url, json=sf_push("SF1234567890", "80", "2026-03-02 16:30:00"))
    await api.client.post(url, json=sf_push("SF-UNKNOWN", "80", "2026-03-02 16:30:00"))
    custody = await (
        await api.client.get(f"/api/v1/packages/{package['id']}/custody", headers=api.auth("supervisor"))
    ).json()
    kinds = [(e["kind"], e["method"]) for e in custody["events"]]
    assert kinds[-2:] == [("picked_up", "carrier_push"), ("delivered", "carrier_push")]
    assert custody["package"]["state"] == "arrived" and custody["verified"]
    assert custody["events"][-1]["client_time"].startswith("2026-03-02T08:30:00")
