"""Fair rendering (issue 13, item 12): a clerk's counter document never waits behind ledger exports,
and one user runs one export at a time. SQLite only: the database only supplies the rows here (the
documents' routes run on both databases in test_documents.py); what is under test is where the
rendering runs."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.support.db import sqlite_engine

from .conftest import _harness
from .test_journeys import post, registration

pytestmark = pytest.mark.integration

ROWS = 150
"""Cases in the ledger: its PDF takes a good part of a second to draw, a receipt notice ~10 ms."""


@pytest.fixture
async def busy_office(aiohttp_client, tmp_path):
    engine_gen = sqlite_engine(tmp_path)
    api = await _harness(await engine_gen.__anext__(), aiohttp_client, tmp_path)
    api.case_ids = [(await post(api, "/api/v1/cases", "clerk-lf", registration(), 201))["id"] for _ in range(ROWS)]
    yield api
    await engine_gen.aclose()


async def until(condition, task: asyncio.Task) -> None:
    """Wait until ``condition()`` holds (or the task ended first, which the caller's asserts show)."""
    while not condition() and not task.done():
        await asyncio.sleep(0.002)


async def test_a_receipt_notice_is_never_kept_waiting_behind_a_ledger_export(busy_office):
    api, renderers = busy_office, busy_office.container.renderers
    finished: list[str] = []

    async def download(name: str, path: str, user: str) -> None:
        response = await api.client.get(path, headers=api.auth(user))
        await response.read()
        assert response.status == 200, (name, response.status)
        finished.append(name)

    export = asyncio.create_task(download("export", "/api/v1/ledger/export?format=pdf", "supervisor"))
    await until(lambda: renderers.export_renders == 1, export)
    assert renderers.export_renders == 1, "the export should be drawing now"
    await download("receipt", f"/api/v1/cases/{api.case_ids[0]}/documents/receipt-notice", "clerk-lf")
    await export
    assert finished == ["receipt", "export"]


async def test_a_second_export_of_the_same_user_while_the_first_runs_is_429_with_retry_after(busy_office):
    api, renderers = busy_office, busy_office.container.renderers
    first = asyncio.create_task(api.client.get("/api/v1/ledger/export?format=pdf", headers=api.auth("supervisor")))
    await until(lambda: renderers.export_renders == 1, first)
    assert "supervisor" in renderers.exporting
    second = await api.client.get("/api/v1/ledger/export?format=csv", headers=api.auth("supervisor"))
    problem = await second.json(content_type=None)
    assert second.status == 429 and second.content_type == "application/problem+json"
    assert re.search(r"[\u4e00-\u9fff]", problem["title"]) and int(second.headers["Retry-After"]) >= 1
    other_user = await api.client.get("/api/v1/ledger/export?format=csv", headers=api.auth("clerk-lf"))
    assert other_user.status == 200
    assert (await first).status == 200
    assert renderers.exporting == set()
    again = await api.client.get("/api/v1/ledger/export?format=csv", headers=api.auth("supervisor"))
    assert again.status == 200
