from __future__ import annotations

import pytest

from adapters.calendar import load_calendar
from adapters.db.repositories import SqlUnitOfWork
from tests.support.db import CIPHER, postgres_engine, sqlite_engine, write_outbox


@pytest.fixture(scope="session")
def calendar():
    return load_calendar()


@pytest.fixture(params=["sqlite", "postgresql"])
async def domain_db(request, tmp_path):
    gen = sqlite_engine(tmp_path) if request.param == "sqlite" else postgres_engine()
    engine = await gen.__anext__()
    yield engine, lambda: SqlUnitOfWork(engine, CIPHER, write_outbox)
    await gen.aclose()


@pytest.fixture
async def pg_domain_db():
    gen = postgres_engine()
    engine = await gen.__anext__()
    yield engine, lambda: SqlUnitOfWork(engine, CIPHER, write_outbox)
    await gen.aclose()
