"""The courier's three lists (issue 17): packages to pick up, in hand, delivered today. Each list
is one page read with LIMIT in SQL on a keyset, in the order of an index that matches it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db import domain_tables as t

IN_HAND_STATES = ("with_courier", "in_transit")


def _office_party(offices: Sequence[str]) -> list[str]:
    return [f"office:{o}" for o in offices]


async def courier_packages(
    conn: AsyncConnection,
    *,
    courier: str,
    kind: str,
    sender_offices: Sequence[str] | None,
    internal_carrier: str,
    since: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """One page of ``kind`` (``to_pick_up``, ``in_hand`` or ``delivered_today``) for ``courier``:

    - to_pick_up: sealed for our own couriers at an office in ``sender_offices`` (None: any),
      oldest first;
    - in_hand: held by the courier (with_courier or in_transit), oldest movement first, with
      whether the courier's own 揽收 is on the chain (``acknowledged``: false for a package a
      clerk handed over that the courier has not yet confirmed);
    - delivered_today: the courier's 送达 reports since ``since`` (the local midnight), newest
      first, at the time of the report.
    """
    p, ce = t.packages.c, t.custody_events.c
    me = f"courier:{courier}"
    if kind == "delivered_today":
        query = (
            select(p.id, p.code, p.case_id, p.state, p.from_party, p.to_party, p.holder, ce.server_time.label("at"))
            .select_from(t.custody_events.join(t.packages, p.id == ce.package_id))
            .where(ce.kind == "delivered", ce.from_party == me, ce.server_time >= since)
            .order_by(ce.server_time.desc(), p.id.desc())
        )
        if after is not None:
            query = query.where(tuple_(ce.server_time, p.id) < tuple_(literal(after[0], ce.server_time.type), after[1]))
    else:
        if kind == "in_hand":
            where: list[Any] = [p.holder == me, p.state.in_(IN_HAND_STATES)]
        else:
            where = [
                p.state == "sealed",
                or_(p.carrier.is_(None), p.carrier == internal_carrier),
            ]
            if sender_offices is not None:
                where.append(p.holder.in_(_office_party(sender_offices)) if sender_offices else literal(False))
        query = select(
            p.id, p.code, p.case_id, p.state, p.from_party, p.to_party, p.holder, p.last_movement_at.label("at")
        )
        query = query.where(*where).order_by(p.last_movement_at, p.id)
        if after is not None:
            query = query.where(
                tuple_(p.last_movement_at, p.id) > tuple_(literal(after[0], p.last_movement_at.type), after[1])
            )
    # the courier's own 揽收 is on the chain (a clerk's hand-over alone is not)
    own = t.custody_events.alias("own")
    acknowledged = (
        exists()
        .where(and_(own.c.package_id == p.id, own.c.kind == "picked_up", own.c.actor == courier))
        .correlate(t.packages)
    )
    query = query.add_columns(acknowledged.label("acknowledged"), p.direction, p.purpose).limit(limit)
    return [dict(r) for r in (await conn.execute(query)).mappings()]
