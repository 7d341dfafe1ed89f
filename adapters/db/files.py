"""Electronic materials attached to a case (``case_files``) and its signed electronic results
(``case_results``): small reads and writes in the request's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, cast, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.db import domain_tables as t
from adapters.db.locks import lock_for_transaction
from handoff.package import FileEntry
from handoff.ports import BlobStore


@dataclass(frozen=True)
class CaseFile:
    id: str
    case_id: str
    item_seq: int
    name: str
    content_type: str
    size: int
    pages: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


@dataclass(frozen=True)
class CaseResult:
    id: str
    case_id: str
    name: str
    sha256: str
    source_sha256: str
    size: int
    signer: str
    office_id: str
    signed_at: datetime
    signed_by: str
    demo: bool


async def case_files(conn: AsyncConnection, case_id: str) -> list[CaseFile]:
    f = t.case_files
    rows = await conn.execute(
        select(*f.c).where(f.c.case_id == case_id).order_by(f.c.item_seq, f.c.uploaded_at, f.c.id)
    )
    return [CaseFile(**r._mapping) for r in rows]


async def manifest(conn: AsyncConnection, case_id: str) -> list[FileEntry]:
    """The files attached to the case's materials, as an electronic push records them."""
    found = await case_files(conn, case_id)
    return [FileEntry(f.item_seq, f.name, f.size, f.sha256, f.content_type, f.pages) for f in found]


async def add_case_file(conn: AsyncConnection, file: CaseFile) -> CaseFile:
    """Attach ``file``; the same bytes attached to the same item again is the file already there."""
    f = t.case_files
    found = (
        await conn.execute(
            select(*f.c).where(f.c.case_id == file.case_id, f.c.item_seq == file.item_seq, f.c.sha256 == file.sha256)
        )
    ).first()
    if found is not None:
        return CaseFile(**found._mapping)
    await conn.execute(f.insert().values(**file.__dict__))
    return file


async def remove_case_file(conn: AsyncConnection, case_id: str, file_id: str) -> bool:
    f = t.case_files
    done = await conn.execute(f.delete().where(f.c.case_id == case_id, f.c.id == file_id))
    return bool(done.rowcount)


async def add_result(conn: AsyncConnection, result: CaseResult) -> None:
    await conn.execute(t.case_results.insert().values(**result.__dict__))


async def case_results(conn: AsyncConnection, case_id: str) -> list[CaseResult]:
    r = t.case_results
    rows = await conn.execute(select(*r.c).where(r.c.case_id == case_id).order_by(r.c.signed_at, r.c.id))
    return [CaseResult(**row._mapping) for row in rows]


async def results_by_sha256(conn: AsyncConnection, sha256: str) -> list[CaseResult]:
    r = t.case_results
    rows = await conn.execute(select(*r.c).where(r.c.sha256 == sha256))
    return [CaseResult(**row._mapping) for row in rows]


# --------------------------------------------------------------------------- blobs of a command


async def lock_blob(conn: AsyncConnection, sha256: str) -> None:
    """Taken in the storing request's transaction before it asks whether the blob is there, and
    held until it commits: a request that stored a blob for a command that failed removes it
    under the same lock (:func:`discard_unreferenced`), so it never removes one that another
    request found there and is about to reference (PostgreSQL; SQLite's one connection per process
    already orders them). Several blobs: lock them in sorted order."""
    await lock_for_transaction(conn, f"blob:{sha256}")


async def blob_referenced(conn: AsyncConnection, sha256: str, since: datetime) -> bool:
    """Whether a committed row refers to the blob: an electronic material, an electronic result
    (or its source), a courier label, or the evidence of a custody event recorded at or after
    ``since`` (a blob stored by the failed request can only be referenced by an event recorded
    after it was stored; older events are not searched)."""
    f, r, s, ce = t.case_files.c, t.case_results.c, t.shipments.c, t.custody_events.c
    query = select(
        or_(
            exists().where(f.sha256 == sha256),
            exists().where(or_(r.sha256 == sha256, r.source_sha256 == sha256)),
            exists().where(s.label_sha256 == sha256),
            exists().where(ce.server_time >= since, cast(ce.evidence, Text).contains(sha256)),
        )
    )
    return bool((await conn.execute(query)).scalar())


async def discard_unreferenced(engine: AsyncEngine, blobs: BlobStore, sha256: str, since: datetime) -> bool:
    """Remove a blob a request stored for a command that did not commit, unless another request
    committed a reference to it meanwhile (it found the blob there, stored by this one, and did
    not store it again); True when removed. Under :func:`lock_blob`: a request that found the
    blob and has not committed yet is waited for."""
    async with engine.begin() as conn:
        await lock_blob(conn, sha256)
        if await blob_referenced(conn, sha256, since):
            return False
        await blobs.discard(sha256)
        return True
