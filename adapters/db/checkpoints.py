"""Custody checkpoints in the database (handoff/custody.py; DESIGN §12): making one, reading them,
and checking every chain against the newest.

A checkpoint is made in one transaction under a named lock (adapters/db/locks.py), so two makers —
two worker processes at the daily scan, or a worker and ``handoff custody checkpoint`` — queue:
the second sees the first's checkpoint (the daily one then makes none) and chains to it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.crypto import IdCipher
from adapters.db import domain_tables as t
from adapters.db.locks import lock_for_transaction
from adapters.db.repositories import ConnectionReader
from handoff.custody import (
    Checkpoint,
    CheckpointSigner,
    Leaf,
    checkpoint_problems,
    covering_number,
    make_checkpoint,
    mismatch_reason,
)
from handoff.package import Package
from handoff.timeutil import local_date

LOCK = "custody-checkpoint"
DAILY = "daily"
MANUAL = "manual"
LEAF_BATCH = 1000
ATTEMPTS = 10


def _from_row(row: Any) -> Checkpoint:
    return Checkpoint(
        n=row["n"],
        made_at=row["made_at"],
        root=row["root"],
        count=row["count"],
        prev_hash=row["prev_hash"],
        signature=bytes.fromhex(row["signature"]),
        public_key=bytes.fromhex(row["public_key"]),
    )


async def latest(conn: AsyncConnection) -> Checkpoint | None:
    row = (
        (await conn.execute(select(t.custody_checkpoints).order_by(t.custody_checkpoints.c.n.desc()).limit(1)))
        .mappings()
        .first()
    )
    return _from_row(row) if row else None


async def by_number(conn: AsyncConnection, n: int) -> Checkpoint | None:
    row = (await conn.execute(select(t.custody_checkpoints).where(t.custody_checkpoints.c.n == n))).mappings().first()
    return _from_row(row) if row else None


async def all_checkpoints(conn: AsyncConnection) -> list[Checkpoint]:
    rows = await conn.execute(select(t.custody_checkpoints).order_by(t.custody_checkpoints.c.n))
    return [_from_row(r) for r in rows.mappings()]


async def leaves(conn: AsyncConnection, n: int) -> list[Leaf]:
    lv = t.custody_checkpoint_leaves
    rows = await conn.execute(select(lv).where(lv.c.checkpoint_n == n).order_by(lv.c.package_id))
    return [Leaf(r["package_id"], r["length"], r["head"]) for r in rows.mappings()]


async def leaves_of_package(conn: AsyncConnection, package_id: str) -> dict[int, Leaf]:
    """This package's leaf in every checkpoint that has one, by checkpoint number."""
    lv = t.custody_checkpoint_leaves
    rows = await conn.execute(select(lv).where(lv.c.package_id == package_id))
    return {r["checkpoint_n"]: Leaf(r["package_id"], r["length"], r["head"]) for r in rows.mappings()}


async def current_leaves(conn: AsyncConnection) -> list[Leaf]:
    """Every package's chain as its row anchors it now."""
    p = t.packages
    rows = await conn.execute(select(p.c.id, p.c.chain_length, p.c.chain_head).order_by(p.c.id))
    return [Leaf(r.id, r.chain_length, r.chain_head) for r in rows]


async def make(
    engine: AsyncEngine, signer: CheckpointSigner, at: datetime, *, daily: bool = False
) -> Checkpoint | None:
    """A new checkpoint over every package's anchored chain, signed and stored with its leaves.
    ``daily``: only if none was made yet on ``at``'s date in China (then None).

    On SQLite there is no lock to queue two processes (the API's watcher and ``handoff custody
    checkpoint``): both may read the same newest checkpoint and the second's insert of the same
    number fails. It then starts over on what the first committed, as the lock would have made it."""
    for attempt in range(ATTEMPTS):
        try:
            return await _make(engine, signer, at, daily=daily)
        except (IntegrityError, OperationalError):
            if engine.dialect.name != "sqlite" or attempt == ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


async def _make(engine: AsyncEngine, signer: CheckpointSigner, at: datetime, *, daily: bool) -> Checkpoint | None:
    async with engine.begin() as conn:
        await lock_for_transaction(conn, LOCK)
        day = local_date(at)
        if daily:
            made_today = (
                await conn.execute(
                    select(func.count()).select_from(t.custody_checkpoints).where(t.custody_checkpoints.c.day == day)
                )
            ).scalar_one()
            if made_today:
                return None
        previous = await latest(conn)
        pinned = await current_leaves(conn)
        checkpoint = make_checkpoint(previous=previous, leaves=pinned, at=at, signer=signer)
        await conn.execute(
            insert(t.custody_checkpoints).values(
                n=checkpoint.n,
                made_at=checkpoint.made_at,
                day=day,
                root=checkpoint.root,
                count=checkpoint.count,
                prev_hash=checkpoint.prev_hash,
                signature=checkpoint.signature.hex(),
                public_key=checkpoint.public_key.hex(),
                trigger=DAILY if daily else MANUAL,
            )
        )
        for start in range(0, len(pinned), LEAF_BATCH):
            await conn.execute(
                insert(t.custody_checkpoint_leaves),
                [
                    {
                        "checkpoint_n": checkpoint.n,
                        "package_id": leaf.package_id,
                        "length": leaf.length,
                        "head": leaf.head,
                    }
                    for leaf in pinned[start : start + LEAF_BATCH]
                ],
            )
    return checkpoint


# --------------------------------------------------------------------------- verification


@dataclass
class Verification:
    """What ``handoff custody verify --all`` found: lines about the checkpoints themselves, and
    per package (by code) why its history no longer matches."""

    checkpoints: int = 0
    last: int | None = None
    """The newest checkpoint's number."""
    packages: int = 0
    checkpoint_problems: list[str] = field(default_factory=list)
    package_problems: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.checkpoint_problems and not self.package_problems

    def lines(self) -> list[str]:
        return [*self.checkpoint_problems, *(f"材料包 {code}：{why}" for code, why in self.package_problems.items())]


def package_against(package: Package, leaf: Leaf | None, checkpoint_n: int | None) -> str | None:
    """Why a package's history is not good (its own check first, then the checkpoint's leaf)."""
    check = package.verify()
    if not check.ok:
        return check.reason
    if leaf is None or checkpoint_n is None:
        return None
    return mismatch_reason(leaf, [e.hash for e in package.custody], checkpoint_n)


async def verify_all(engine: AsyncEngine, signer: CheckpointSigner, cipher: IdCipher) -> Verification:
    """Recompute every chain (its links, its anchor, its state and holder) and compare it with the
    newest checkpoint's leaf; check the checkpoints' signatures, links and roots."""
    result = Verification()
    async with engine.connect() as conn:
        checkpoints = await all_checkpoints(conn)
        stored = {cp.n: await leaves(conn, cp.n) for cp in checkpoints}
        result.checkpoints = len(checkpoints)
        result.checkpoint_problems = checkpoint_problems(checkpoints, lambda n: stored.get(n, []), signer)
        last = checkpoints[-1] if checkpoints else None
        result.last = last.n if last else None
        pinned = {leaf.package_id: leaf for leaf in stored.get(last.n, [])} if last else {}
        ids = list((await conn.execute(select(t.packages.c.id).order_by(t.packages.c.id))).scalars())
        reader = ConnectionReader(conn, cipher)
        for package_id in ids:
            package = await reader.packages.get(package_id)
            if package is None:
                continue
            result.packages += 1
            reason = package_against(package, pinned.pop(package_id, None), last.n if last else None)
            if reason:
                result.package_problems[str(package.code)] = reason
            reader.seen.clear()
        for package_id in pinned:  # in the checkpoint, gone from the database
            result.package_problems[package_id] = (
                f"存证检查点 No.{last.n if last else 0} 中有此材料包，数据库中已不存在"
            )
    return result


async def standing(conn: AsyncConnection, package: Package) -> tuple[str | None, Checkpoint | None]:
    """For a custody report: why the package's history does not verify (its chain and anchor, then
    the newest checkpoint's leaf), or None; and the newest checkpoint that covers its chain."""
    by_n = await leaves_of_package(conn, package.id)
    newest = await latest(conn)
    problem = package_against(package, by_n.get(newest.n) if newest else None, newest.n if newest else None)
    n = covering_number(by_n, [e.hash for e in package.custody])
    return problem, None if n is None else await by_number(conn, n)
