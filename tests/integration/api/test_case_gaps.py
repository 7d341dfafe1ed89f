"""A message of a case that a worker parked and went past shows on the case (DESIGN §8), until
it is replayed."""

from __future__ import annotations

import json

from sqlalchemy import select

from adapters.broker.bus import Incoming
from adapters.broker.topology import GROUPS
from adapters.db.tables import outbox
from worker.consumer import OrderGate, place_of

from .test_admin import get
from .test_journeys import post, registration


async def test_a_parked_message_of_a_case_shows_on_the_case_as_a_gap_until_it_is_replayed(api):
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    assert (await get(api, f"/api/v1/cases/{case['id']}", "clerk-lf"))["gaps"] == []
    engine = api.container.engine
    async with engine.connect() as conn:
        row = (await conn.execute(select(outbox).where(outbox.c.case_id == case["id"]))).mappings().first()
    message = Incoming(row["id"], row["type"], json.dumps(row["payload"]).encode(), row["ordering_key"])
    place = place_of(message)
    assert place is not None and place.seq == 1
    gate = OrderGate(engine, GROUPS["notifications"])
    await gate.record_gap(message, place, "Park: 短信模板未备案")

    [gap] = (await get(api, f"/api/v1/cases/{case['id']}", "clerk-lf"))["gaps"]
    assert (gap["group"], gap["type"], gap["seq"], gap["replayed_at"]) == ("notifications", "case.collected", 1, None)
    assert gap["reason"] == "Park: 短信模板未备案" and "停放" in gap["status_zh"]

    await gate.applied([place], replayed=[place])
    [gap] = (await get(api, f"/api/v1/cases/{case['id']}", "clerk-lf"))["gaps"]
    assert gap["replayed_at"] is not None and gap["status_zh"] == "已重放"
