"""The pages' tests run the app as the API tests do (create_app on a real TCP port through
aiohttp's test server, the demo world, a fixed clock) and drive it from a real Chromium. They use
SQLite only: the API tests already run every route on both databases, and the browser is what
is under test here."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Harness, _harness
from tests.support.browser import chromium
from tests.support.db import sqlite_engine


@pytest.fixture
async def site(aiohttp_client, tmp_path) -> Harness:
    engine_gen = sqlite_engine(tmp_path)
    engine = await engine_gen.__anext__()
    yield await _harness(engine, aiohttp_client, tmp_path)
    await engine_gen.aclose()


@pytest.fixture
async def browser():
    async with chromium() as launched:
        yield launched
