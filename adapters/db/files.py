"""Electronic materials attached to a case (``case_files``) and its signed electronic results
(``case_results``): small reads and writes in the request's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db import domain_tables as t
from handoff.package import FileEntry


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
