"""The blob store: one contract, run on the file system and on PostgreSQL; then the PostgreSQL
store's own promises (chunks, one row for twenty concurrent puts), and evidence uploaded through
the API on PostgreSQL landing in the database."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from adapters.blobs import CHUNK_SIZE, FileBlobStore, PgBlobStore
from adapters.db import domain_tables as t
from adapters.settings import Settings
from cli.bootstrap import make_blob_store
from handoff.errors import InvalidInput
from handoff.ports import BlobCorrupted
from handoff.services import AssignWaybill, dispatch
from tests.integration.api.conftest import _harness
from tests.integration.api.test_authority import world
from tests.integration.api.test_journeys import post, registration
from tests.support.db import postgres_engine
from tests.support.images import b64, png

pytestmark = pytest.mark.integration

SIZES = {
    "nothing": 0,
    "one byte": 1,
    "exactly one chunk": CHUNK_SIZE,
    "several chunks and one byte": 3 * CHUNK_SIZE + 1,
}


def sample(size: int, seed: int = 0) -> bytes:
    """Bytes that differ from chunk to chunk, so a chunk out of place changes the whole."""
    out = bytearray()
    block = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{block}".encode()).digest() * 1024
        block += 1
    return bytes(out[:size])


@dataclass
class Store:
    name: str
    blobs: FileBlobStore | PgBlobStore
    damage: Callable[[str], Awaitable[None]]
    """Change one stored byte of the blob's second chunk (or its only one), behind the store's back."""


@pytest.fixture(params=["fs", "postgresql"])
async def store(request, tmp_path):
    if request.param == "fs":
        files = FileBlobStore(tmp_path / "blobs")

        async def damage_file(sha256: str) -> None:
            path = files.root / sha256[:2] / sha256[2:]
            data = bytearray(path.read_bytes())
            data[min(CHUNK_SIZE, len(data) - 1)] ^= 0x01
            path.write_bytes(bytes(data))

        yield Store("fs", files, damage_file)
        return
    gen = postgres_engine()
    engine = await gen.__anext__()
    # As the composition root builds it: a pool of its own on the same database.
    database = PgBlobStore.for_url(engine.url.render_as_string(hide_password=False))

    async def damage_chunk(sha256: str) -> None:
        async with engine.begin() as conn:
            chunks = t.blob_chunks
            n = int(
                (await conn.execute(select(func.max(chunks.c.n)).where(chunks.c.sha256 == sha256))).scalar_one() > 0
            )
            data = bytearray(
                (
                    await conn.execute(select(chunks.c.data).where(chunks.c.sha256 == sha256, chunks.c.n == n))
                ).scalar_one()
            )
            data[0] ^= 0x01
            await conn.execute(
                update(chunks).where(chunks.c.sha256 == sha256, chunks.c.n == n).values(data=bytes(data))
            )

    try:
        yield Store("postgresql", database, damage_chunk)
    finally:
        await database.close()
        await gen.aclose()


@pytest.fixture
async def pg():
    """A fresh PostgreSQL database and a store with its own pool on it."""
    gen = postgres_engine()
    engine = await gen.__anext__()
    database = PgBlobStore.for_url(engine.url.render_as_string(hide_password=False))
    try:
        yield engine, database
    finally:
        await database.close()
        await gen.aclose()


# --------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
async def test_what_is_put_comes_back_byte_for_byte_under_its_sha256(store, size):
    data = sample(size)
    digest = await store.blobs.put(data, "application/octet-stream")
    assert digest == hashlib.sha256(data).hexdigest()
    assert await store.blobs.has(digest)
    assert await store.blobs.get(digest) == data


async def test_the_same_bytes_put_twice_are_stored_once_and_read_back_whole(store):
    data = sample(2 * CHUNK_SIZE + 7, seed=1)
    first = await store.blobs.put(data, "image/jpeg")
    second = await store.blobs.put(data, "image/jpeg")
    assert first == second
    assert await store.blobs.get(first) == data


async def test_twenty_concurrent_puts_of_the_same_bytes_all_succeed(store):
    data = sample(CHUNK_SIZE + 3, seed=2)
    digests = await asyncio.gather(*(store.blobs.put(data, "application/pdf") for _ in range(20)))
    assert set(digests) == {hashlib.sha256(data).hexdigest()}
    assert await store.blobs.get(digests[0]) == data


async def test_a_discarded_blob_is_gone_and_discarding_it_again_is_harmless(store):
    keep = await store.blobs.put(b"signature", "image/png")
    gone = await store.blobs.put(sample(CHUNK_SIZE * 2, seed=3), "image/png")
    await store.blobs.discard(gone)
    assert not await store.blobs.has(gone)
    with pytest.raises(KeyError):
        await store.blobs.get(gone)
    await store.blobs.discard(gone)
    assert await store.blobs.get(keep) == b"signature"


async def test_an_unknown_or_malformed_address_is_a_key_error(store):
    unknown = hashlib.sha256(b"never stored").hexdigest()
    assert not await store.blobs.has(unknown)
    for address in (unknown, "../../etc/passwd", unknown.upper(), unknown[:-1]):
        with pytest.raises(KeyError):
            await store.blobs.get(address)


@pytest.mark.parametrize("size", [1, 3 * CHUNK_SIZE + 1], ids=["one chunk", "several chunks"])
async def test_a_corrupted_chunk_is_an_error_never_wrong_bytes(store, size):
    digest = await store.blobs.put(sample(size, seed=4), "image/jpeg")
    await store.damage(digest)
    with pytest.raises(BlobCorrupted) as caught:
        await store.blobs.get(digest)
    assert caught.value.sha256 == digest and caught.value.found != digest


# --------------------------------------------------------------------------- PostgreSQL


async def chunk_rows(engine, digest: str) -> list[tuple[int, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.blob_chunks.c.n, func.length(t.blob_chunks.c.data))
            .where(t.blob_chunks.c.sha256 == digest)
            .order_by(t.blob_chunks.c.n)
        )
        return [(int(n), int(length)) for n, length in rows]


async def test_postgresql_keeps_a_blob_as_one_row_and_its_bytes_in_numbered_chunks(pg):
    engine, database = pg
    expected = {
        0: [],
        1: [(0, 1)],
        CHUNK_SIZE: [(0, CHUNK_SIZE)],
        3 * CHUNK_SIZE + 1: [(0, CHUNK_SIZE), (1, CHUNK_SIZE), (2, CHUNK_SIZE), (3, 1)],
    }
    for size, chunks in expected.items():
        digest = await database.put(sample(size, seed=5), "application/pdf")
        assert await chunk_rows(engine, digest) == chunks
        async with engine.connect() as conn:
            row = (await conn.execute(select(t.blobs).where(t.blobs.c.sha256 == digest))).one()
        assert (row.content_type, row.size) == ("application/pdf", size)


async def test_twenty_concurrent_puts_on_postgresql_leave_one_row_and_one_set_of_chunks(pg):
    engine, database = pg
    data = sample(2 * CHUNK_SIZE + 5, seed=6)
    digests = await asyncio.gather(*(database.put(data, "image/png") for _ in range(20)))
    digest = digests[0]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(t.blobs))).scalar_one()
    assert rows == 1
    assert await chunk_rows(engine, digest) == [(0, CHUNK_SIZE), (1, CHUNK_SIZE), (2, 5)]


async def test_a_missing_chunk_on_postgresql_is_an_error(pg):
    engine, database = pg
    digest = await database.put(sample(3 * CHUNK_SIZE, seed=7), "image/jpeg")
    async with engine.begin() as conn:
        await conn.execute(t.blob_chunks.delete().where(t.blob_chunks.c.sha256 == digest, t.blob_chunks.c.n == 1))
    with pytest.raises(BlobCorrupted):
        await database.get(digest)


async def test_a_blob_streams_in_chunks_in_order_and_a_discard_meanwhile_does_not_cut_it_short(pg):
    _, database = pg
    data = sample(4 * CHUNK_SIZE + 9, seed=8)
    digest = await database.put(data, "application/pdf")
    received = []
    async with database.open(digest) as chunks:
        async for chunk in chunks:
            if not received:
                await database.discard(digest)  # the reader keeps the snapshot it started with
            received.append(chunk)
    assert [len(c) for c in received] == [CHUNK_SIZE] * 4 + [9]
    assert b"".join(received) == data
    assert not await database.has(digest)
    with pytest.raises(KeyError):
        async with database.open(digest):
            pass


async def test_the_postgresql_store_refuses_another_database(tmp_path):
    from adapters.db.engine import make_engine

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    try:
        with pytest.raises(ValueError, match="PostgreSQL"):
            PgBlobStore(engine)
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- the composition root

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/handoff"
SQLITE_URL = "sqlite+aiosqlite:///var/handoff.db"


@pytest.mark.parametrize(
    ("database_url", "choice", "kind"),
    [
        (SQLITE_URL, "", FileBlobStore),
        (PG_URL, "", PgBlobStore),
        (PG_URL, "fs", FileBlobStore),
        (PG_URL, " Database ", PgBlobStore),
        (SQLITE_URL, "fs", FileBlobStore),
    ],
)
async def test_blobs_live_in_postgresql_whenever_the_database_is_unless_told_otherwise(
    database_url, choice, kind, tmp_path
):
    settings = Settings(database_url=database_url, blob_store=choice, blob_dir=str(tmp_path / "b"))
    store = make_blob_store(settings)  # nothing is connected yet
    try:
        assert type(store) is kind
        if isinstance(store, FileBlobStore):
            assert store.root == tmp_path / "b"
    finally:
        if isinstance(store, PgBlobStore):
            await store.close()


@pytest.mark.parametrize(
    ("database_url", "choice", "says"),
    [(SQLITE_URL, "database", "需要 PostgreSQL"), (PG_URL, "s3", "应为 fs 或 database")],
)
def test_a_blob_store_that_cannot_work_is_refused_in_chinese(database_url, choice, says):
    with pytest.raises(InvalidInput) as refused:
        make_blob_store(Settings(database_url=database_url, blob_store=choice))
    assert says in refused.value.title and "HANDOFF_BLOB_STORE" in refused.value.title


# --------------------------------------------------------------------------- through the API


@pytest.fixture
async def pg_api(aiohttp_client, tmp_path):
    gen = postgres_engine()
    engine = await gen.__anext__()
    yield await _harness(engine, aiohttp_client, tmp_path)
    await gen.aclose()


async def test_evidence_of_a_courier_report_on_postgresql_lands_in_the_database_not_on_disk(pg_api, tmp_path):
    api = pg_api
    assert isinstance(api.container.blobs, PgBlobStore)
    pid = (await world(api))["package"]["id"]
    photo = png(320, 120)
    answer = await post(
        api,
        f"/api/v1/packages/{pid}/picked-up",
        "courier-07",
        {"evidence": [{"content_type": "image/png", "data_base64": b64(photo)}]},
    )
    async with api.container.engine.connect() as conn:
        event = (
            await conn.execute(
                select(t.custody_events).where(t.custody_events.c.package_id == pid).order_by(t.custody_events.c.seq)
            )
        ).all()[-1]
        stored = (await conn.execute(select(t.blobs.c.sha256, t.blobs.c.content_type, t.blobs.c.size))).all()
    assert answer["state"] == "with_courier"
    [(digest, content_type, size)] = stored
    assert event.evidence == [digest]
    stored_bytes = await api.container.blobs.get(digest)
    assert content_type == "image/png" and size == len(stored_bytes)
    assert not any(f.is_file() for f in Path(tmp_path).rglob("*") if "blobs" in f.parts)


async def test_a_stored_courier_label_is_served_from_the_database_and_a_damaged_one_is_drawn_again(pg_api):
    api = pg_api
    case = await post(api, "/api/v1/cases", "clerk-lf", registration(), 201)
    package = await post(api, f"/api/v1/cases/{case['id']}/packages", "clerk-lf", {}, 201)
    await dispatch(AssignWaybill(package["id"], "sf", "SF7444407670710"), api.container.uow(), api.container.deps)
    printed = b"%PDF-1.4 the label the logistics worker printed " + sample(CHUNK_SIZE + 10, seed=9)
    digest = await api.container.blobs.put(printed, "application/pdf")
    async with api.container.engine.begin() as conn:
        await conn.execute(
            t.shipments.insert().values(
                package_id=package["id"],
                carrier="sf",
                waybill="SF7444407670710",
                booked_at=api.clock.now(),
                status="booked",
                raw={},
                label_sha256=digest,
                attempts=[],
            )
        )
    path = f"/api/v1/packages/{package['id']}/documents/courier-label"

    response = await api.client.get(path, headers=api.auth("clerk-lf"))
    assert response.status == 200 and await response.read() == printed

    async with api.container.engine.begin() as conn:
        await conn.execute(
            update(t.blob_chunks)
            .where(t.blob_chunks.c.sha256 == digest, t.blob_chunks.c.n == 1)
            .values(data=b"damaged at rest")
        )
    response = await api.client.get(path, headers=api.auth("clerk-lf"))
    body = await response.read()
    assert response.status == 200 and response.content_type == "application/pdf"
    assert body.startswith(b"%PDF") and b"the label the logistics worker printed" not in body
