"""503 on outages (issue 15, item 2; DESIGN §10): a database that cannot be reached answers 503
problem+json with Retry-After, never 500; /readyz names it; and the pool reconnects by itself when
it is back. For real: the API runs on its own private PostgreSQL cluster, which the test stops and
starts (tests/support/private_pg.py)."""

from __future__ import annotations

from functools import partial

import aiormq.exceptions
import asyncpg.exceptions
import pytest
import sqlalchemy.exc

from adapters.db.engine import make_engine, ping
from adapters.db.migrate import upgrade
from api.outages import unavailable
from tests.support.private_pg import private_postgres

from .conftest import _harness
from .test_journeys import post, registration

pytestmark = pytest.mark.integration


@pytest.fixture
async def outage(aiohttp_client, tmp_path):
    with private_postgres() as cluster:
        engine = make_engine(cluster.url(), pool_size=3)
        try:
            await upgrade(engine)
            api = await _harness(engine, aiohttp_client, tmp_path, readiness={"database": partial(ping, engine)})
            yield api, cluster
        finally:
            await engine.dispose()


async def unavailable_problem(response) -> dict:
    problem = await response.json(content_type=None)
    assert response.status == 503, problem
    assert response.content_type == "application/problem+json"
    assert problem["title"] == "服务暂时不可用，请稍后重试" and problem["dependency"] == "database"
    assert int(response.headers["Retry-After"]) >= 1
    return problem


async def test_a_stopped_database_answers_503_with_retry_after_and_the_api_recovers_when_it_is_back(outage):
    api, cluster = outage
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    ready = await api.client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["checks"] == {"database": "ok"}

    cluster.stop()  # fast shutdown: the pooled connections are terminated, new ones refused
    for _ in range(3):  # each pooled connection found dead, then refused connections: all 503
        await unavailable_problem(await api.client.get(f"/api/v1/cases/{case['id']}", headers=api.auth("clerk-lf")))
    await unavailable_problem(await api.client.post("/api/v1/cases", json=registration(), headers=api.auth("clerk-lf")))
    await unavailable_problem(await api.client.get("/api/v1/ledger", headers=api.auth("supervisor")))
    down = await api.client.get("/readyz")
    assert down.status == 503 and int(down.headers["Retry-After"]) >= 1
    checks = (await down.json())["checks"]
    assert set(checks) == {"database"} and checks["database"].startswith("不可用")

    cluster.start()  # the same app, not restarted
    again = await api.client.get(f"/api/v1/cases/{case['id']}", headers=api.auth("clerk-lf"))
    assert again.status == 200 and (await again.json())["id"] == case["id"]
    await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    assert (await api.client.get("/readyz")).status == 200

    cluster.stop()  # a restart nobody noticed: every pooled connection is dead, the first request
    cluster.start()  # after it must not pay for that (the checkout finds them
    # ended, without a round trip, and reconnects: adapters/db/engine.py)
    for _ in range(4):
        read = await api.client.get(f"/api/v1/cases/{case['id']}", headers=api.auth("clerk-lf"))
        assert read.status == 200, await read.text()


def raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


def test_connection_class_errors_are_outages_and_everything_else_is_not():
    closed = asyncpg.exceptions.InterfaceError("connection is closed")
    assert unavailable(ConnectionRefusedError(111, "Connect call failed")) == "database"
    assert unavailable(OSError("Multiple exceptions: [Errno 111] Connect call failed")) == "database"
    assert unavailable(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")) == "database"
    assert unavailable(asyncpg.exceptions.AdminShutdownError("terminating connection")) == "database"
    assert unavailable(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")) == "database"
    assert unavailable(raised(sqlalchemy.exc.InterfaceError("SELECT 1", {}, closed), closed)) == "database"
    assert unavailable(raised(sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("gone")))) == "database"
    assert unavailable(sqlalchemy.exc.TimeoutError("QueuePool limit of size 3 overflow 3 reached")) == "database"
    assert unavailable(raised(RuntimeError("while reading"), ConnectionRefusedError())) == "database"
    assert unavailable(aiormq.exceptions.ConnectionClosed(320, "CONNECTION_FORCED")) == "broker"
    assert unavailable(aiormq.exceptions.AMQPConnectionError("no connection")) == "broker"

    unique = asyncpg.exceptions.UniqueViolationError("duplicate key")
    assert unavailable(raised(sqlalchemy.exc.IntegrityError("INSERT", {}, unique), unique)) is None
    assert unavailable(FileNotFoundError(2, "No such file", "var/blobs/ab")) is None
    assert unavailable(KeyError("x")) is None
    assert unavailable(ValueError("bad")) is None
