"""The notifications consumer group: the applicant's SMS for each step of the case.

Exactly one SMS per event and recipient, whatever the redeliveries: in the inbox transaction the
handler writes one ``notifications`` row per (event, recipient, template) — unique — in state
``created``; after the commit it claims each row (``created`` → ``sending``, conditional) and only
then calls the provider. A crash between the claim and the provider's answer leaves a ``sending``
row without a provider id: it is never sent again automatically (a second SMS is worse than a
missing one) and :func:`expire_stuck` turns it into ``technical_failure``, which the case shows.
Rows still ``created`` (a crash right after the commit) are sent by :func:`send_pending` at start.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.broker.bus import Incoming, Park
from adapters.db import domain_tables as t
from adapters.db.tables import inbox
from handoff.clock import StagePeriod, read_clock
from handoff.labels_zh import STAGE_TYPE_ZH
from handoff.ports import Calendar, ProviderError, SmsSender, SmsStatus
from handoff.timeutil import local_date

log = logging.getLogger("handoff.notifications")
CONSUMER = "notifications"
STUCK_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Planned:
    template: str
    params: dict[str, str]


@dataclass(frozen=True)
class CaseFacts:
    phone: str
    window_name: str
    accepted_on: date | None
    limit: int
    extensions: tuple[int, ...]
    stages: tuple[StagePeriod, ...]
    today: date


Planner = Callable[[Mapping[str, Any], CaseFacts, Calendar], list[Planned]]


def _due(facts: CaseFacts, calendar: Calendar) -> str:
    """The due date as the clock has it now (stages excluded, extensions added)."""
    if facts.accepted_on is None:
        return ""
    reading = read_clock(
        calendar,
        accepted_on=facts.accepted_on,
        limit=facts.limit,
        at=max(facts.today, facts.accepted_on),
        stages=facts.stages,
        extensions=facts.extensions,
    )
    return reading.due_date.isoformat()


def _stage(envelope: Mapping[str, Any]) -> str:
    return STAGE_TYPE_ZH.get(str(envelope["data"].get("stage_type", "")), "特殊环节")


# The applicant's SMS per event type. Staff SMS (incoming_package, action_needed, deadline_warning,
# overdue) come with the deadline watcher and the logistics group.
PLANS: dict[str, Planner] = {
    "case.collected": lambda e, f, c: [Planned("receipt", {})],
    "case.forwarded": lambda e, f, c: [Planned("forwarded", {})],
    "case.received": lambda e, f, c: [Planned("signed", {})],
    "case.accepted": lambda e, f, c: [Planned("accepted", {"due": _due(f, c)})],
    "case.supplement_requested": lambda e, f, c: [Planned("supplement_requested", {})],
    "case.rejected": lambda e, f, c: [Planned("rejected", {})],
    "stage.opened": lambda e, f, c: [Planned("stage_opened", {"stage": _stage(e)})],
    "stage.closed": lambda e, f, c: [Planned("stage_closed", {"stage": _stage(e)})],
    "case.extended": lambda e, f, c: [Planned("extended", {"due": _due(f, c)})],
    "case.decided": lambda e, f, c: [Planned("decided", {})],
    "case.result_shipped": lambda e, f, c: [Planned("result_shipped", {})],
    "case.delivered": lambda e, f, c: [Planned("delivered", {}), Planned("rating_request", {})],
    "case.pickup_registered": lambda e, f, c: [Planned("delivered", {}), Planned("rating_request", {})],
}


class Notifier:
    def __init__(
        self,
        engine: AsyncEngine,
        sender: SmsSender,
        calendar: Callable[[], Calendar],
        tracking_url: Callable[[str], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.sender = sender
        self.calendar = calendar
        self.tracking_url = tracking_url
        self.clock = clock

    async def handle(self, message: Incoming) -> None:
        try:
            envelope = json.loads(message.body)
        except ValueError as exc:
            raise Park(f"not JSON: {exc}") from exc
        planner = PLANS.get(str(envelope.get("type")))
        case_id = envelope.get("case_id")
        if planner is None or not case_id:
            return
        async with self.engine.begin() as conn:
            if not await _first_delivery(conn, message.message_id):
                return
            facts = await _case_facts(conn, str(case_id), local_date(self.clock()))
            if facts is None:
                raise Park(f"case {case_id} not found")
            rows = await self._plan(conn, envelope, str(case_id), facts)
        for row in rows:
            await self._send(row)

    async def _plan(
        self, conn: AsyncConnection, envelope: Mapping[str, Any], case_id: str, facts: CaseFacts
    ) -> list[dict[str, Any]]:
        now = self.clock()
        planned = PLANS[str(envelope["type"])](envelope, facts, self.calendar())
        rows = []
        for item in planned:
            params = dict(item.params)
            if "link" in _template_params(item.template):
                params["link"] = self.tracking_url(case_id)
            if "place" in _template_params(item.template):
                params["place"] = facts.window_name
            row = {
                "id": str(uuid.uuid4()),
                "event_id": str(envelope["id"]),
                "case_id": case_id,
                "recipient": facts.phone,
                "template_key": item.template,
                "status": SmsStatus.CREATED.value,
                "reason": json.dumps(params, ensure_ascii=False),
                "created_at": now,
                "updated_at": now,
            }
            dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            done = await conn.execute(
                dialect_insert(t.notifications).values(**row).on_conflict_do_nothing().returning(t.notifications.c.id)
            )
            if done.first() is not None:
                rows.append(row)
        return rows

    async def _send(self, row: Mapping[str, Any]) -> None:
        now = self.clock()
        async with self.engine.begin() as conn:
            claimed = await conn.execute(
                update(t.notifications)
                .where(t.notifications.c.id == row["id"], t.notifications.c.status == SmsStatus.CREATED.value)
                .values(status=SmsStatus.SENDING.value, updated_at=now)
            )
            if claimed.rowcount != 1:
                return
        params = json.loads(row["reason"])
        try:
            receipt = await self.sender.send(row["recipient"], row["template_key"], params)
            values = {
                "status": receipt.status.value,
                "provider": receipt.provider,
                "provider_message_id": receipt.message_id,
                "reason": receipt.reason or "",
            }
        except ProviderError as exc:
            log.warning(
                "sms failed",
                extra={
                    "case_id": row["case_id"],
                    "template": row["template_key"],
                    "provider": exc.provider,
                    "code": exc.raw_code,
                },
            )
            values = {"status": exc.status.value, "provider": exc.provider, "reason": f"{exc.raw_code} {exc.reason}"}
        async with self.engine.begin() as conn:
            await conn.execute(
                update(t.notifications)
                .where(t.notifications.c.id == row["id"])
                .values(updated_at=self.clock(), **values)
            )

    async def send_pending(self) -> int:
        """Send rows left ``created`` by a crash right after their commit."""
        async with self.engine.connect() as conn:
            rows = [
                dict(r)
                for r in (
                    await conn.execute(
                        select(t.notifications).where(t.notifications.c.status == SmsStatus.CREATED.value)
                    )
                ).mappings()
            ]
        for row in rows:
            await self._send(row)
        return len(rows)

    async def expire_stuck(self) -> int:
        """``sending`` rows without a provider id for too long: the outcome is unknown; never resend."""
        cutoff = self.clock() - STUCK_AFTER
        async with self.engine.begin() as conn:
            done = await conn.execute(
                update(t.notifications)
                .where(
                    and_(
                        t.notifications.c.status == SmsStatus.SENDING.value,
                        t.notifications.c.provider_message_id.is_(None),
                        t.notifications.c.updated_at < cutoff,
                    )
                )
                .values(
                    status=SmsStatus.TECHNICAL_FAILURE.value,
                    reason="发送结果未知（发送中断），未自动重发",
                    updated_at=self.clock(),
                )
            )
        return int(done.rowcount or 0)


def _template_params(key: str) -> tuple[str, ...]:
    from adapters.sms.templates import TEMPLATES

    return TEMPLATES[key].params


async def _first_delivery(conn: AsyncConnection, message_id: str) -> bool:
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    done = await conn.execute(
        dialect_insert(inbox)
        .values(message_id=message_id, consumer=CONSUMER, handled_at=datetime.now(UTC))
        .on_conflict_do_nothing()
        .returning(inbox.c.message_id)
    )
    return done.first() is not None


async def _case_facts(conn: AsyncConnection, case_id: str, today: date) -> CaseFacts | None:
    row = (
        await conn.execute(
            select(t.cases.c.applicant_phone, t.cases.c.accepted_at, t.cases.c.matter_terms, t.offices.c.name)
            .join(t.offices, t.offices.c.id == t.cases.c.window_office_id)
            .where(t.cases.c.id == case_id)
        )
    ).first()
    if row is None:
        return None
    extensions = (
        (await conn.execute(select(t.case_extensions.c.days).where(t.case_extensions.c.case_id == case_id)))
        .scalars()
        .all()
    )
    stages = (
        await conn.execute(
            select(t.case_stages.c.type, t.case_stages.c.start_on, t.case_stages.c.end_on).where(
                t.case_stages.c.case_id == case_id
            )
        )
    ).all()
    return CaseFacts(
        phone=row[0],
        window_name=row[3],
        accepted_on=local_date(row[1]) if row[1] else None,
        limit=int(row[2]["promised_limit"]),
        extensions=tuple(extensions),
        stages=tuple(StagePeriod(type=kind, start=start, end=end) for kind, start, end in stages),
        today=today,
    )
