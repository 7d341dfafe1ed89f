"""Blobs addressed by sha256 (evidence photos, signatures, rendered PDFs): on the file system (the
embedded default) or in PostgreSQL (shared by every API replica and worker, DESIGN §11).

Both check what they read against its address: a blob whose bytes changed at rest raises
:class:`BlobCorrupted` and is never returned as the blob.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.db.domain_tables import blob_chunks, blobs
from adapters.db.engine import make_engine
from handoff.ports import BlobCorrupted

__all__ = ["CHUNK_SIZE", "BlobCorrupted", "FileBlobStore", "PgBlobStore"]

CHUNK_SIZE = 256 * 1024
"""Bytes per ``blob_chunks`` row: small enough to stream, large enough that a photo is a few rows."""

_HASH_IN_THREAD = 1024 * 1024  # hashing a larger blob would hold up the event loop for milliseconds


def _address(sha256: str) -> str:
    """``sha256`` if it is a lowercase sha256 hex digest; KeyError (no such blob) otherwise."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise KeyError(sha256)
    return sha256


async def _digest(data: bytes) -> str:
    if len(data) > _HASH_IN_THREAD:
        return await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
    return hashlib.sha256(data).hexdigest()


class FileBlobStore:
    """``root/ab/cdef…`` files; written to a temporary name and renamed, so a reader never sees
    half a file. Storing the same bytes twice is harmless."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        sha256 = _address(sha256)
        return self.root / sha256[:2] / sha256[2:]

    async def put(self, data: bytes, content_type: str) -> str:
        digest = await _digest(data)
        await asyncio.to_thread(self._write, digest, data)
        return digest

    def _write(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    async def has(self, sha256: str) -> bool:
        return await asyncio.to_thread(self._path(sha256).exists)

    async def discard(self, sha256: str) -> None:
        """Remove a blob that a command stored and then did not commit (absent: nothing to do)."""
        await asyncio.to_thread(self._path(sha256).unlink, True)

    async def get(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise KeyError(sha256) from None
        found = await _digest(data)
        if found != sha256:
            raise BlobCorrupted(sha256, found)
        return data


class PgBlobStore:
    """Blobs in PostgreSQL: a ``blobs`` row (content type, size, time) and the bytes in
    ``blob_chunks`` of :data:`CHUNK_SIZE`, numbered from 0.

    ``put`` writes the row and all its chunks in one short transaction of its own (never the
    caller's): the row is inserted ``ON CONFLICT DO NOTHING`` and the chunks only by the
    transaction that inserted it, so the same bytes stored twice, or by twenty requests at once,
    are stored once and no put fails. A reader sees a row with all of its chunks or no row.

    The store should have a pool of its own (:meth:`for_url`): a request holds its unit of work's
    connection while it stores evidence, and requests waiting for a second connection from the
    pool they already exhausted would wait on each other."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        chunk_size: int = CHUNK_SIZE,
        owns_engine: bool = False,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError(f"PgBlobStore needs PostgreSQL, not {engine.dialect.name}")
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self.engine = engine
        self.chunk_size = chunk_size
        self._owns_engine = owns_engine
        self._now = now

    @classmethod
    def for_url(cls, database_url: str, *, pool_size: int = 4) -> PgBlobStore:
        """A store with its own small connection pool on the database at ``database_url``;
        :meth:`close` disposes of it."""
        return cls(make_engine(database_url, pool_size=pool_size), owns_engine=True)

    async def close(self) -> None:
        if self._owns_engine:
            await self.engine.dispose()

    async def put(self, data: bytes, content_type: str) -> str:
        digest = await _digest(data)
        async with self.engine.begin() as conn:
            inserted = await conn.execute(
                pg_insert(blobs)
                .values(sha256=digest, content_type=content_type, size=len(data), created_at=self._now())
                .on_conflict_do_nothing(index_elements=[blobs.c.sha256])
                .returning(blobs.c.sha256)
            )
            # Only the transaction that inserted the row writes the chunks: a concurrent put of the
            # same bytes waited on the row's key above and then did nothing.
            if inserted.first() is not None and data:
                size = self.chunk_size
                await conn.execute(
                    blob_chunks.insert(),
                    [
                        {"sha256": digest, "n": n, "data": data[start : start + size]}
                        for n, start in enumerate(range(0, len(data), size))
                    ],
                )
        return digest

    async def has(self, sha256: str) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.execute(select(blobs.c.sha256).where(blobs.c.sha256 == _address(sha256)))
            return found.first() is not None

    async def discard(self, sha256: str) -> None:
        """Remove a blob that a command stored and then did not commit (absent: nothing to do)."""
        address = _address(sha256)
        async with self.engine.begin() as conn:
            await conn.execute(delete(blob_chunks).where(blob_chunks.c.sha256 == address))
            await conn.execute(delete(blobs).where(blobs.c.sha256 == address))

    async def get(self, sha256: str) -> bytes:
        async with self.open(sha256) as chunks:
            return b"".join([chunk async for chunk in chunks])

    @asynccontextmanager
    async def open(self, sha256: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """The blob's chunks in order, read from one snapshot without holding the whole blob:
        ``async with store.open(sha) as chunks: async for chunk in chunks: …``. KeyError on
        entry when absent. The hash is known only at the end: a corrupted blob raises
        BlobCorrupted after its last chunk, so a consumer that forwards chunks must treat that
        error as the end of a failed transfer (cut the download), never as a complete one."""
        address = _address(sha256)
        async with self.engine.connect() as conn:
            # One snapshot for the row and every chunk: a discard meanwhile does not cut the blob short.
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                row = (await conn.execute(select(blobs.c.size).where(blobs.c.sha256 == address))).first()
                if row is None:
                    raise KeyError(sha256)
                result = await conn.stream(
                    select(blob_chunks.c.data)
                    .where(blob_chunks.c.sha256 == address)
                    .order_by(blob_chunks.c.n)
                    .execution_options(yield_per=4)
                )

                async def chunks() -> AsyncIterator[bytes]:
                    digest = hashlib.sha256()
                    async for (data,) in result:
                        chunk = bytes(data)
                        digest.update(chunk)
                        yield chunk
                    found = digest.hexdigest()
                    if found != address:
                        raise BlobCorrupted(address, found)

                try:
                    yield chunks()
                finally:
                    await result.close()
