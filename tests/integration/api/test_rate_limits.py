"""Rate limits per client address (issue 13): the tracking page and its API, the API in general,
refused tokens; every refusal a 429 problem+json in Chinese with Retry-After. The container is
built with low limits; the buckets themselves are tested in tests/unit/api/test_token_buckets.py."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from api.app import create_app
from api.ratelimit import RateLimits
from tests.support.db import postgres_engine, sqlite_engine

from .conftest import _harness

pytestmark = pytest.mark.integration

LOW = RateLimits(
    api_per_minute=6,
    api_burst=8,
    track_per_minute=6,
    track_burst=3,
    auth_failures_per_minute=1,
    auth_failures_burst=3,
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def limited(request, aiohttp_client, tmp_path):
    """The API with low limits; ``limited.build(**limits)`` for another set."""
    gen = sqlite_engine(tmp_path) if request.param == "sqlite" else postgres_engine()
    engine = await gen.__anext__()
    yield await _harness(engine, aiohttp_client, tmp_path, rate_limits=LOW)
    await gen.aclose()


async def refused(response) -> int:
    problem = await response.json(content_type=None)
    assert response.status == 429, problem
    assert response.content_type == "application/problem+json"
    assert re.search(r"[\u4e00-\u9fff]", problem["title"])
    return int(response.headers["Retry-After"])


async def test_the_tracking_page_and_its_api_share_a_per_address_limit(limited):
    api = limited
    assert [(await api.client.get("/t/000000000000")).status for _ in range(2)] == [404, 404]
    assert (await api.client.get("/api/v1/track/000000000000")).status == 404
    assert 1 <= await refused(await api.client.get("/t/000000000000")) <= 10
    await refused(await api.client.get("/api/v1/track/000000000000"))
    await refused(await api.client.post("/t/000000000000/rating", data={"score": "5"}))
    staff = await api.client.get("/api/v1/ledger", headers=api.auth("supervisor"))
    assert staff.status == 200  # the rest of the API has its own, larger bucket


async def test_the_api_in_general_has_a_per_address_limit(limited):
    api = limited
    statuses = [(await api.client.get("/api/v1/ledger", headers=api.auth("supervisor"))).status for _ in range(8)]
    assert statuses == [200] * 8
    assert 1 <= await refused(await api.client.get("/api/v1/ledger", headers=api.auth("supervisor"))) <= 10
    assert (await api.client.get("/healthz")).status == 200  # probes are not the API


async def test_refused_tokens_cost_the_address_a_cool_down_then_even_a_good_token_waits(limited):
    api = limited
    bad = {"Authorization": "Bearer not-a-token"}
    assert [(await api.client.get("/api/v1/ledger", headers=bad)).status for _ in range(3)] == [401] * 3
    assert await refused(await api.client.get("/api/v1/ledger", headers=api.auth("supervisor"))) >= 30
    await refused(await api.client.get("/api/v1/ledger", headers=bad))
    anonymous = await api.client.get("/api/v1/ledger")
    assert anonymous.status == 401  # no token presented: nothing guessed, nothing to cool down


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(aiohttp_client, tmp_path):
    gen = sqlite_engine(tmp_path)
    engine = await gen.__anext__()
    few = RateLimits(api_per_minute=1, api_burst=2)
    direct = await _harness(engine, aiohttp_client, tmp_path, rate_limits=few)
    statuses = [
        (
            await direct.client.get(
                "/api/v1/ledger", headers={**direct.auth("admin"), "X-Forwarded-For": f"10.0.0.{i}"}
            )
        ).status
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]  # the peer is one address, whatever it claims

    proxied = replace(direct.container, rate_limits=replace(few, trusted_proxies=("127.0.0.0/8",)))
    behind = await aiohttp_client(create_app(proxied))

    async def via_proxy(chain: str) -> int:
        headers = {**direct.auth("admin"), "X-Forwarded-For": chain}
        return (await behind.get("/api/v1/ledger", headers=headers)).status

    assert [await via_proxy(f"10.0.0.{i}") for i in range(5)] == [200] * 5
    assert [await via_proxy("10.0.0.9") for _ in range(3)] == [200, 200, 429]
    # a client's own forged hops left of the real one change nothing: the rightmost untrusted hop counts
    assert await via_proxy("1.2.3.4, 10.0.0.9") == 429
    # garbage left of the proxies: the last trusted hop is the address (and has its own bucket)
    assert [await via_proxy("garbage, 127.0.0.1") for _ in range(3)] == [200, 200, 429]
    await gen.aclose()
