"""The request path (issue 16): a request is one unit of work in a handful of statements, and the
token's principal is remembered for a few seconds without ever outliving a revocation.

Statements are counted with SQLAlchemy's ``before_cursor_execute`` event on the engine, and on
PostgreSQL with asyncpg's query logger too, which sees those a unit opened for reading runs on the
driver itself (SqlUnitOfWork.fetch_row); BEGIN, COMMIT and ROLLBACK are not counted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db import admin as db_admin
from adapters.db import domain_tables as t
from adapters.db.engine import make_engine
from adapters.db.tables import outbox
from api.app import create_app
from api.container import Container
from handoff.codes import hash_token
from tests.support.db import CIPHER

from .conftest import Harness
from .test_authority import world
from .test_journeys import post

pytestmark = pytest.mark.integration

COURIER_REPORT_STATEMENTS = {"postgresql": 2, "sqlite": 7}
"""Was 10, the token read among them, then 6 on PostgreSQL; now: reserve the key and load the package
with its chain (one statement on PostgreSQL, two on SQLite), then its step — the package's update,
its custody event, the case sequence, the outbox row and the stored answer — in one statement on
PostgreSQL (adapters/db/package_step.py), five on SQLite."""
CASE_VIEW_STATEMENTS = 1
"""Was 15, then 3 (the case, its packages, its SMS and gaps): now the case with its children, its
packages, its SMS and its gaps in one statement."""
TRACKING_PAGE_STATEMENTS = 1
"""Was 12, then 2: the case with its packages. A decided case adds one: its electronic results (issue 19)."""
COURIER_REPORT_ROUND_TRIPS = COURIER_REPORT_STATEMENTS["postgresql"] + 2
"""PostgreSQL: the statements, BEGIN and COMMIT (was 10 with the pool's ping at checkout and the
reservation apart from the package, then 8 with the step's writes one statement each)."""
CASE_VIEW_ROUND_TRIPS = CASE_VIEW_STATEMENTS
"""A read runs outside a transaction block: no BEGIN, no ROLLBACK, no ping (was 6: ping, BEGIN, three
statements, ROLLBACK)."""
TRACKING_PAGE_ROUND_TRIPS = TRACKING_PAGE_STATEMENTS
"""Was 5: ping, BEGIN, two statements, ROLLBACK."""


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


def statements(engine: AsyncEngine) -> AbstractContextManager[list[str]]:
    return round_trips(engine, transaction_control=False)


@contextmanager
def round_trips(engine: AsyncEngine, transaction_control: bool = True) -> Iterator[list[str]]:
    """Every message exchange with PostgreSQL a checked-out connection makes: the statements, and
    the simple queries asyncpg sends by itself (BEGIN, COMMIT, ROLLBACK). A pool pre-ping would run
    before the checkout event and go uncounted: the engine has none (adapters/db/engine.py)."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    def simple(record) -> None:  # type: ignore[no-untyped-def]
        if transaction_control or not record.query.lstrip().upper().startswith(TRANSACTION_CONTROL):
            seen.append(record.query)

    def checkout(dbapi_connection, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
        driver = getattr(dbapi_connection, "driver_connection", None)
        if hasattr(driver, "add_query_logger"):  # asyncpg (PostgreSQL)
            driver.add_query_logger(simple)

    def checkin(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        driver = getattr(dbapi_connection, "driver_connection", None)
        if hasattr(driver, "remove_query_logger"):
            driver.remove_query_logger(simple)

    hooks = [("before_cursor_execute", count), ("checkout", checkout), ("checkin", checkin)]
    for name, hook in hooks:
        event.listen(engine.sync_engine if name == "before_cursor_execute" else engine.sync_engine.pool, name, hook)
    try:
        yield seen
    finally:
        for name, hook in hooks:
            event.remove(engine.sync_engine if name == "before_cursor_execute" else engine.sync_engine.pool, name, hook)


async def test_the_three_hot_requests_make_few_round_trips_to_postgresql(pg_api: Harness) -> None:
    w = await world(pg_api)
    pid, cid = w["package"]["id"], w["case"]["id"]
    token = pg_api.container.deps.tracking.token_for(cid)
    await pg_api.client.get("/api/v1/me", headers=pg_api.auth("courier-07"))  # principals cached
    await pg_api.client.get(f"/api/v1/cases/{cid}", headers=pg_api.auth("clerk-lf"))
    engine = pg_api.container.engine
    with round_trips(engine) as seen:
        response = await pg_api.client.post(
            f"/api/v1/packages/{pid}/in-transit",
            json={"place": "海丰中转站"},
            headers={**pg_api.auth("courier-07"), "Idempotency-Key": "trips-1"},
        )
        assert response.status == 200, await response.text()
    assert len(seen) <= COURIER_REPORT_ROUND_TRIPS, f"{len(seen)} round trips:\n" + "\n".join(seen)
    for path, most, headers in [
        (f"/api/v1/cases/{cid}", CASE_VIEW_ROUND_TRIPS, pg_api.auth("clerk-lf")),
        (f"/t/{token}", TRACKING_PAGE_ROUND_TRIPS, {}),
    ]:
        with round_trips(engine) as seen:
            response = await pg_api.client.get(path, headers=headers)
            assert response.status == 200, await response.text()
        assert len(seen) <= most, f"{path}: {len(seen)} round trips:\n" + "\n".join(seen)


async def test_a_courier_report_with_an_idempotency_key_runs_a_handful_of_statements(api):
    w = await world(api)
    pid = w["package"]["id"]
    await api.client.get("/api/v1/me", headers=api.auth("courier-07"))  # the token's principal is cached
    with statements(api.container.engine) as seen:
        response = await api.client.post(
            f"/api/v1/packages/{pid}/in-transit",
            json={"place": "海丰中转站"},
            headers={**api.auth("courier-07"), "Idempotency-Key": "report-1"},
        )
        assert response.status == 200, await response.text()
    most = COURIER_REPORT_STATEMENTS[api.container.engine.dialect.name]
    assert len(seen) <= most, f"{len(seen)} statements:\n" + "\n".join(seen)


async def test_a_case_view_runs_a_handful_of_statements(api):
    w = await world(api)
    cid = w["case"]["id"]
    await api.client.get(f"/api/v1/cases/{cid}", headers=api.auth("clerk-lf"))  # principal and offices cached
    with statements(api.container.engine) as seen:
        response = await api.client.get(f"/api/v1/cases/{cid}", headers=api.auth("clerk-lf"))
        assert response.status == 200, await response.text()
    assert len(seen) <= CASE_VIEW_STATEMENTS, f"{len(seen)} statements:\n" + "\n".join(seen)


async def test_the_tracking_page_and_its_json_run_a_handful_of_statements(api):
    w = await world(api)
    token = api.container.deps.tracking.token_for(w["case"]["id"])
    for path in (f"/t/{token}", f"/api/v1/track/{token}"):
        with statements(api.container.engine) as seen:
            response = await api.client.get(path)
            assert response.status == 200, await response.text()
            assert len(seen) <= TRACKING_PAGE_STATEMENTS, f"{len(seen)} statements:\n" + "\n".join(seen)


async def test_a_cached_principal_spares_the_token_read_on_the_next_request(api):
    await api.client.get("/api/v1/me", headers=api.auth("clerk-lf"))
    with statements(api.container.engine) as seen:
        response = await api.client.get("/api/v1/me", headers=api.auth("clerk-lf"))
        assert response.status == 200
    assert not [s for s in seen if "api_tokens" in s]


async def test_revoked_tokens_are_refused_on_the_very_next_request_within_the_cache_window(api):
    assert (await api.client.get("/api/v1/me", headers=api.auth("clerk-lf"))).status == 200
    await post(api, "/api/v1/admin/users/clerk-lf/revoke-tokens", "admin")
    response = await api.client.get("/api/v1/me", headers=api.auth("clerk-lf"))
    assert response.status == 401


async def test_a_disabled_user_is_refused_on_the_very_next_request_within_the_cache_window(api):
    assert (await api.client.get("/api/v1/me", headers=api.auth("courier-07"))).status == 200
    response = await api.client.patch(
        "/api/v1/admin/users/courier-07", json={"active": False}, headers=api.auth("admin")
    )
    assert response.status == 200
    assert (await api.client.get("/api/v1/me", headers=api.auth("courier-07"))).status == 401


async def test_a_changed_role_holds_on_the_very_next_request_within_the_cache_window(api):
    assert (await api.client.get("/api/v1/deadlines?kind=overdue", headers=api.auth("clerk-lf"))).status == 200
    response = await api.client.patch(
        "/api/v1/admin/users/clerk-lf", json={"role": "courier"}, headers=api.auth("admin")
    )
    assert response.status == 200
    assert (await api.client.get("/api/v1/deadlines?kind=overdue", headers=api.auth("clerk-lf"))).status == 403


async def test_a_revocation_in_one_api_process_holds_in_another_on_the_same_database(
    pg_api: Harness, aiohttp_client, tmp_path: Path
) -> None:
    """Two app instances, each with its own engine and its own LISTEN connection, on one
    PostgreSQL database: the second learns of the first's revocation through NOTIFY."""
    engine = make_engine(pg_api.container.engine.url.render_as_string(hide_password=False), pool_size=2)
    try:
        first = pg_api.container
        second = Container(
            engine=engine,
            uow=lambda: first.uow(),
            deps=first.deps,
            signer=first.signer,
            cipher=CIPHER,
            blobs=first.blobs,
            public_base_url=first.public_base_url,
            rate_limits=first.rate_limits,
            principal_cache_seconds=3600,
        )
        other = await aiohttp_client(create_app(second))
        assert second.principals.live
        headers = pg_api.auth("clerk-lf")
        assert (await other.get("/api/v1/me", headers=headers)).status == 200
        assert second.principals.get(hash_token(pg_api.tokens["clerk-lf"])) is not None  # cached for an hour

        await post(pg_api, "/api/v1/admin/users/clerk-lf/revoke-tokens", "admin")
        async with first.engine.connect() as conn:
            version = await db_admin.auth_version(conn)
        await asyncio.wait_for(second.principals.seen(version), 30)  # the NOTIFY, not a clock
        assert (await other.get("/api/v1/me", headers=headers)).status == 401
    finally:
        await engine.dispose()


async def test_without_its_listener_a_postgresql_process_caches_nothing(pg_api: Harness, aiohttp_client) -> None:
    """A process that cannot hear revocations must not remember principals at all."""
    container = pg_api.container
    cache = container.principals
    assert cache.live
    cache._set_live(False)
    await pg_api.client.get("/api/v1/me", headers=pg_api.auth("clerk-lf"))
    assert cache.get(hash_token(pg_api.tokens["clerk-lf"])) is None


async def test_a_key_replays_its_answer_byte_for_byte_and_refuses_another_body(api):
    """The reservation and the package come in one statement on PostgreSQL: the key's rules stay
    those of two (replay, 422 for another request under the key, a refused request frees it)."""
    w = await world(api)
    pid = w["package"]["id"]
    headers = {**api.auth("courier-07"), "Idempotency-Key": "report-2"}
    missing = await api.client.post("/api/v1/packages/no-such-package/in-transit", json={}, headers=headers)
    assert missing.status == 404  # refused: the key is not kept
    first = await api.client.post(f"/api/v1/packages/{pid}/in-transit", json={"place": "海丰"}, headers=headers)
    assert first.status == 200 and first.headers.get("Idempotent-Replayed") is None
    again = await api.client.post(f"/api/v1/packages/{pid}/in-transit", json={"place": "海丰"}, headers=headers)
    assert again.status == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert await again.read() == await first.read()
    other = await api.client.post(f"/api/v1/packages/{pid}/in-transit", json={"place": "汕尾"}, headers=headers)
    assert other.status == 422
    assert (await other.json())["type"] == "idempotency_key_reused"
    custody = await api.client.get(f"/api/v1/packages/{pid}/custody", headers=api.auth("courier-07"))
    places = [e.get("place") for e in (await custody.json())["events"]]
    assert places.count("海丰") == 1 and "汕尾" not in places


async def test_concurrent_reports_on_one_package_conflict_as_a_whole_and_leave_a_verifiable_chain(api):
    """Reports on one package under different keys at once: each either commits whole (its custody
    event, its outbox row with the next number of the case's stream, its stored answer) or is a 409
    concurrent_update that left nothing behind — not even its key, so its retry runs again."""
    w = await world(api)
    pid, cid = w["package"]["id"], w["case"]["id"]

    async def count(conn: Any, table: Any, *where: Any) -> int:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())

    async with api.container.engine.connect() as conn:
        custody_before = await count(conn, t.custody_events, t.custody_events.c.package_id == pid)
        keys_before = await count(conn, t.idempotency_keys)

    async def report(key: str) -> tuple[int, Any]:
        response = await api.client.post(
            f"/api/v1/packages/{pid}/in-transit",
            json={"place": "海丰中转站"},
            headers={**api.auth("courier-07"), "Idempotency-Key": key},
        )
        return response.status, await response.json()

    answers = await asyncio.gather(*(report(f"race-{n}") for n in range(12)))
    assert {status for status, _ in answers} <= {200, 409}
    assert all(body["type"] == "concurrent_update" for status, body in answers if status == 409)
    done = [n for n, (status, _) in enumerate(answers) if status == 200]
    assert done
    async with api.container.engine.connect() as conn:
        assert await count(conn, t.custody_events, t.custody_events.c.package_id == pid) == custody_before + len(done)
        assert await count(conn, t.idempotency_keys) == keys_before + len(done)
        numbers = list(
            (
                await conn.execute(select(outbox.c.key_seq).where(outbox.c.ordering_key == cid).order_by(outbox.c.seq))
            ).scalars()
        )
        payloads = (
            await conn.execute(
                select(outbox.c.key_seq, outbox.c.payload).where(
                    outbox.c.package_id == pid, outbox.c.type == "package.in_transit"
                )
            )
        ).all()
    assert numbers == list(range(1, len(numbers) + 1))  # no hole, no number twice
    assert len(payloads) == len(done)
    assert all(payload["seq"] == key_seq and payload["ordering_key"] == cid for key_seq, payload in payloads)
    envelope = {"id", "type", "version", "occurred_at", "case_id", "package_id", "actor", "data", "ordering_key", "seq"}
    for _, payload in payloads:  # the envelope as the outbox writer makes it, whichever path wrote it
        assert set(payload) == envelope
        assert (payload["type"], payload["package_id"], payload["actor"]) == ("package.in_transit", pid, "courier-07")
        assert payload["data"]["place"] == "海丰中转站"
    for n in range(12):  # the refused ones run again; the done ones replay their answer
        status, body = await report(f"race-{n}")
        assert status == 200
        if n in done:
            assert body == answers[n][1]
    response = await api.client.get(f"/api/v1/packages/{pid}/custody", headers=api.auth("courier-07"))
    chain = await response.json()
    assert chain["verified"] is True, chain
    assert len(chain["events"]) == custody_before + 12


async def test_a_connection_lost_before_the_reports_statement_is_a_503_and_is_not_used_again(
    pg_api: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ends the request's session between the reservation and the step's statement:
    503 with Retry-After (adapters/outages.py), the connection is invalidated rather than put back,
    nothing was written, and the same key then runs the report."""
    from adapters.db import package_step

    w = await world(pg_api)
    pid = w["package"]["id"]
    written = package_step.write_package_step
    ended: list[Any] = []

    async def after_the_end(conn: Any, *args: Any) -> Any:
        if not ended:
            raw = await conn.get_raw_connection()
            ended.append(raw.driver_connection)
            async with pg_api.container.engine.connect() as other:
                await other.exec_driver_sql(f"SELECT pg_terminate_backend({raw.driver_connection.get_server_pid()})")
        return await written(conn, *args)

    monkeypatch.setattr(package_step, "write_package_step", after_the_end)
    invalidated: list[Any] = []
    pool = pg_api.container.engine.sync_engine.pool
    event.listen(pool, "invalidate", (record := lambda dbapi, _record, _exc: invalidated.append(dbapi)))
    headers = {**pg_api.auth("courier-07"), "Idempotency-Key": "lost-1"}
    try:
        response = await pg_api.client.post(
            f"/api/v1/packages/{pid}/in-transit", json={"place": "海丰"}, headers=headers
        )
    finally:
        event.remove(pool, "invalidate", record)
    assert response.status == 503, await response.text()
    assert int(response.headers["Retry-After"]) >= 1
    assert (await response.json())["dependency"] == "database"
    assert [dbapi.driver_connection for dbapi in invalidated] == [ended[0]]  # not put back in the pool
    assert ended[0].is_closed()
    again = await pg_api.client.post(f"/api/v1/packages/{pid}/in-transit", json={"place": "海丰"}, headers=headers)
    assert again.status == 200, await again.text()
    assert again.headers.get("Idempotent-Replayed") is None
