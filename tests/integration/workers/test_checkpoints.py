"""Custody anchored beyond the database (DESIGN §12), on SQLite and PostgreSQL: the package row's
anchor shows a cut chain; signed daily checkpoints (one a day, however many workers make them)
show a chain rewritten with every hash and the anchor recomputed; a chain that only grew is fine;
a forged signature or rewritten stored leaves are named; the migration anchors existing chains."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import delete, func, select, update

from adapters.crypto import Ed25519Signer
from adapters.db import checkpoints
from adapters.db import domain_tables as t
from adapters.db.migrate import upgrade
from adapters.db.repositories import CustodyChainBroken, custody_from_row, custody_to_row
from handoff.package import GENESIS_HASH
from handoff.services import CourierReport, HandOverBatch
from tests.support.db import CIPHER
from worker.deadlines import DeadlineSettings, DeadlineWatcher

pytestmark = pytest.mark.integration

SIGNER = Ed25519Signer(b"checkpoint-key-for-tests-only-32")


async def delete_last(world, package_id: str, count: int) -> None:
    ce = t.custody_events
    async with world.engine.begin() as conn:
        top = (await conn.execute(select(func.max(ce.c.seq)).where(ce.c.package_id == package_id))).scalar_one()
        await conn.execute(delete(ce).where(ce.c.package_id == package_id, ce.c.seq > top - count))


async def rewrite_history(world, package_id: str, seq: int, actor: str) -> None:
    """What someone with write access to the database could do: change an event, recompute the
    hash of it and of every later event, and set the package row's anchor to the new head."""
    ce = t.custody_events
    async with world.engine.begin() as conn:
        rows = (await conn.execute(select(ce).where(ce.c.package_id == package_id).order_by(ce.c.seq))).mappings()
        chain = [custody_from_row(r) for r in rows]
        prev = GENESIS_HASH
        for index, event in enumerate(chain):
            event = replace(event, prev_hash=prev, actor=actor if event.seq == seq else event.actor)
            event = replace(event, hash=event.computed_hash())
            chain[index], prev = event, event.hash
        await conn.execute(delete(ce).where(ce.c.package_id == package_id))
        await conn.execute(ce.insert(), [custody_to_row(e) for e in chain])
        await conn.execute(
            update(t.packages).where(t.packages.c.id == package_id).values(chain_length=len(chain), chain_head=prev)
        )


async def load(world, package_id: str):
    async with world.uow() as uow:
        return await uow.packages.get(package_id)


async def code_of(world, package_id: str) -> str:
    return str((await load(world, package_id)).code)


async def test_deleting_the_last_three_custody_rows_fails_verification(world):
    package_id = await world.to_department(await world.register())
    assert (await load(world, package_id)).verify().ok
    await delete_last(world, package_id, 3)
    check = (await load(world, package_id)).verify()
    assert not check.ok and check.broken_at == 3
    assert check.reason == "监管链现有 2 条记录，材料包登记的是 5 条：记录被删除或插入"
    result = await checkpoints.verify_all(world.engine, SIGNER, CIPHER)
    assert result.lines() == [f"材料包 {await code_of(world, package_id)}：{check.reason}"]


async def test_a_cut_chain_takes_no_new_event_that_would_hide_the_cut(world):
    case_id = await world.register()
    package_id = await world.seal(case_id)
    await world.run(HandOverBatch(office_id="win-441581", courier="courier-07", package_ids=[package_id], actor="c"))
    await delete_last(world, package_id, 1)
    with pytest.raises(CustodyChainBroken):
        await world.run(CourierReport(package_id=package_id, step="delivered", courier="courier-07", actor="c"))
    async with world.engine.connect() as conn:
        anchored = (await conn.execute(select(t.packages.c.chain_length).where(t.packages.c.id == package_id))).scalar()
    assert anchored == 3  # the evidence stays


async def test_a_rewrite_that_recomputed_every_hash_and_the_anchor_is_named_against_the_checkpoint(world):
    rewritten = await world.to_department(await world.register())
    untouched = await world.to_department(await world.register())
    made = await checkpoints.make(world.engine, SIGNER, world.clock.now())
    assert made is not None and made.n == 1 and made.count == 2
    await rewrite_history(world, rewritten, seq=3, actor="someone-else")
    assert (await load(world, rewritten)).verify().ok  # the database alone no longer shows it
    result = await checkpoints.verify_all(world.engine, SIGNER, CIPHER)
    assert not result.ok and result.checkpoint_problems == []
    code = await code_of(world, rewritten)
    assert list(result.package_problems) == [code]
    why = result.package_problems[code]
    assert "与存证检查点 No.1 记录的" in why and "历史记录被改写" in why
    assert await code_of(world, untouched) not in result.package_problems


async def test_rewriting_the_stored_leaf_as_well_breaks_the_signed_root(world):
    package_id = await world.to_department(await world.register())
    await checkpoints.make(world.engine, SIGNER, world.clock.now())
    await rewrite_history(world, package_id, seq=2, actor="someone-else")
    async with world.engine.begin() as conn:
        head = (await conn.execute(select(t.packages.c.chain_head).where(t.packages.c.id == package_id))).scalar()
        await conn.execute(
            update(t.custody_checkpoint_leaves)
            .where(t.custody_checkpoint_leaves.c.package_id == package_id)
            .values(head=head)
        )
    result = await checkpoints.verify_all(world.engine, SIGNER, CIPHER)
    assert result.checkpoint_problems == ["存证检查点 No.1：由保存的叶子重算的默克尔根与签名的根不符，叶子被改动"]


async def test_chains_that_grew_since_the_checkpoint_and_new_packages_are_fine(world):
    first = await world.register()
    package_id = await world.seal(first)
    await checkpoints.make(world.engine, SIGNER, world.clock.now())
    await world.run(HandOverBatch(office_id="win-441581", courier="courier-07", package_ids=[package_id], actor="c"))
    await world.run(CourierReport(package_id=package_id, step="delivered", courier="courier-07", actor="c"))
    await world.to_department(await world.register())
    world.at(2026, 3, 3)
    second = await checkpoints.make(world.engine, SIGNER, world.clock.now())
    assert second is not None and second.n == 2 and second.count == 2
    result = await checkpoints.verify_all(world.engine, SIGNER, CIPHER)
    assert result.ok, result.lines()
    assert (result.packages, result.checkpoints, result.last) == (2, 2, 2)


async def test_a_tampered_signature_or_a_foreign_key_is_named(world):
    await world.to_department(await world.register())
    await checkpoints.make(world.engine, SIGNER, world.clock.now())
    assert (await checkpoints.verify_all(world.engine, Ed25519Signer(b"x" * 32), CIPHER)).checkpoint_problems == [
        "存证检查点 No.1：签名公钥不是本系统配置的检查点密钥"
    ]
    async with world.engine.begin() as conn:
        signature = (await conn.execute(select(t.custody_checkpoints.c.signature))).scalar_one()
        forged = ("0" if signature[0] != "0" else "1") + signature[1:]
        await conn.execute(update(t.custody_checkpoints).values(signature=forged))
    result = await checkpoints.verify_all(world.engine, SIGNER, CIPHER)
    assert result.lines() == ["存证检查点 No.1：签名无效，检查点内容被改动"]


async def test_the_deadline_workers_make_one_checkpoint_a_day_in_china(world):
    watcher = DeadlineWatcher(
        world.engine, CIPHER, world.calendar, world.deps, world.uow, DeadlineSettings(), checkpoint_signer=SIGNER
    )
    await world.to_department(await world.register())
    world.at(2026, 3, 2, 0)  # 00:00 in China: still the 2nd there, though the 1st in UTC
    await watcher.tick()
    world.at(2026, 3, 2, 23)
    await watcher.tick()
    world.at(2026, 3, 3, 1)
    await watcher.tick()
    async with world.engine.connect() as conn:
        days = list(
            (
                await conn.execute(
                    select(t.custody_checkpoints.c.day, t.custody_checkpoints.c.trigger).order_by(
                        t.custody_checkpoints.c.n
                    )
                )
            ).all()
        )
    assert [(str(d), trigger) for d, trigger in days] == [("2026-03-02", "daily"), ("2026-03-03", "daily")]


async def test_two_workers_making_the_days_checkpoint_at_once_make_exactly_one(pg_world):
    world = pg_world
    await world.to_department(await world.register())
    watchers = [
        DeadlineWatcher(world.engine, CIPHER, world.calendar, world.deps, world.uow, checkpoint_signer=SIGNER)
        for _ in range(4)
    ]
    for day in (2, 3):
        world.at(2026, 3, day)
        made = await asyncio.gather(*(w.daily_checkpoint() for w in watchers))
        assert sum(m is not None for m in made) == 1
    async with world.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.custody_checkpoints))).scalar_one() == 2
    assert (await checkpoints.verify_all(world.engine, SIGNER, CIPHER)).ok


async def test_the_migration_anchors_the_chains_already_stored(world):
    package_id = await world.to_department(await world.register())
    before = await load(world, package_id)
    await world.engine.dispose()
    async with world.engine.begin() as conn:
        from alembic import command

        from adapters.db.migrate import alembic_config

        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "0004"))
    await upgrade(world.engine)
    after = await load(world, package_id)
    assert after.anchor == before.anchor and after.anchor.length == 5 and after.verify().ok
    async with world.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.package_items))).scalar_one() > 0


async def test_two_processes_on_one_sqlite_file_making_checkpoints_at_once_chain_them_without_an_error(tmp_path):
    """SQLite has no lock to queue two processes (the API's watcher and ``handoff custody
    checkpoint``, each with its own engine): the second's colliding insert starts over."""
    from adapters.db.engine import make_engine
    from tests.support.db import sqlite_engine

    from .conftest import make_world

    async for engine in sqlite_engine(tmp_path):
        world = await make_world(engine)
        await world.to_department(await world.register())
        others = [make_engine(engine.url.render_as_string(hide_password=False)) for _ in range(3)]
        try:
            made = await asyncio.gather(*(checkpoints.make(e, SIGNER, world.clock.now()) for e in [engine, *others]))
        finally:
            for e in others:
                await e.dispose()
        assert sorted(m.n for m in made if m) == list(range(1, 5))
        assert (await checkpoints.verify_all(engine, SIGNER, CIPHER)).ok
