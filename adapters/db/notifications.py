"""The ``notifications`` rows: one SMS each, from ``created`` to a provider's last word.

The life of a row, and who may move it:

* ``created`` — written in the notifications consumer's inbox transaction (one per event,
  recipient and template: unique), or by a member of staff's resend. Its ``reference`` (our own id,
  sent to the provider) is set here, before any provider call. Its ``params`` never hold the
  applicant's tracking link: the link is recomputed from the case at send time.
* :func:`claim` — ``created`` → ``sending``, conditional: of any number of processes, exactly one
  hands a row to a provider. Nothing moves a ``sending`` row back to ``created``.
* :func:`record_outcome` — the provider's answer (its message id and our status).
* :func:`resolve` — a ``sending`` row whose provider call was cut off, settled by asking the
  provider (or ``technical_failure`` when it cannot tell), again conditional.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db import domain_tables as t
from adapters.db.locks import lock_for_transaction
from adapters.db.reports import Scope, _scoped
from handoff.ports import SmsStatus

n = t.notifications

SECRET_PARAMS = ("link",)
"""Parameters recomputed at send time and never stored (the tracking link is a bearer secret)."""

FAILED = (SmsStatus.TECHNICAL_FAILURE.value, SmsStatus.PERMANENT_FAILURE.value, SmsStatus.TEMPORARY_FAILURE.value)
"""The statuses of an SMS that did not reach its recipient, listed for staff and resendable."""


def new_reference() -> str:
    return uuid.uuid4().hex


def storable(params: Mapping[str, str]) -> dict[str, str]:
    return {str(k): str(v) for k, v in params.items() if k not in SECRET_PARAMS}


async def insert(conn: AsyncConnection, row: Mapping[str, Any]) -> bool:
    """Write one ``created`` row; False when its (event, recipient, template) already has one."""
    values = {**row, "params": storable(row.get("params") or {})}
    values.setdefault("reference", new_reference())
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    done = await conn.execute(dialect_insert(n).values(**values).on_conflict_do_nothing().returning(n.c.id))
    return done.first() is not None


async def claim(conn: AsyncConnection, notification_id: str, at: datetime, reference: str) -> bool:
    """``created`` → ``sending``, with the reference the provider will be given (a row written
    before references existed gets one here, before the call); True for the one caller that may
    now call the provider."""
    done = await conn.execute(
        update(n)
        .where(n.c.id == notification_id, n.c.status == SmsStatus.CREATED.value)
        .values(status=SmsStatus.SENDING.value, reference=reference, claimed_at=at, updated_at=at)
    )
    return int(done.rowcount or 0) == 1


async def record_outcome(conn: AsyncConnection, notification_id: str, values: Mapping[str, Any], at: datetime) -> None:
    """The provider's answer to our call (a delivery report that came first is not overwritten
    by the send's ``sending``)."""
    await conn.execute(
        update(n)
        .where(n.c.id == notification_id, n.c.status == SmsStatus.SENDING.value)
        .values(updated_at=at, **values)
    )


async def get(conn: AsyncConnection, notification_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(n).where(n.c.id == notification_id))).mappings().first()
    return dict(row) if row is not None else None


async def created_before(conn: AsyncConnection, before: datetime, limit: int) -> list[dict[str, Any]]:
    """Rows still ``created`` since before ``before``: their sender crashed after the commit (or a
    resend's API process did). Resends are due at once: nobody else will send them."""
    query = (
        select(n)
        .where(
            n.c.status == SmsStatus.CREATED.value,
            (n.c.created_at <= before) | n.c.resend_of.is_not(None),
        )
        .order_by(n.c.created_at, n.c.id)
        .limit(limit)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def waits_behind(conn: AsyncConnection, row: Mapping[str, Any]) -> bool:
    """Whether an earlier SMS of the same case to the same recipient is still unsettled — left
    ``created``, or ``sending`` with no provider id yet — so that this one must not overtake it."""
    unsettled = (n.c.status == SmsStatus.CREATED.value) | (
        (n.c.status == SmsStatus.SENDING.value) & n.c.provider_message_id.is_(None)
    )
    query = select(n.c.id).where(
        n.c.case_id == row["case_id"],
        n.c.recipient == row["recipient"],
        n.c.created_at < row["created_at"],
        n.c.resend_of.is_(None),
        unsettled,
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def cut_off_before(conn: AsyncConnection, before: datetime, limit: int) -> list[dict[str, Any]]:
    """``sending`` rows without a provider message id, untouched since before ``before``: the
    provider call was cut off (a crash, a timeout) and its outcome is unknown."""
    query = (
        select(n)
        .where(
            n.c.status == SmsStatus.SENDING.value,
            n.c.provider_message_id.is_(None),
            n.c.updated_at < before,
        )
        .order_by(n.c.updated_at, n.c.id)
        .limit(limit)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def take_for_resolution(conn: AsyncConnection, row: Mapping[str, Any], at: datetime) -> bool:
    """Mark a cut-off row as being looked into (its ``updated_at`` moves), so that a second
    sweeper leaves it alone; False when someone else took it or it has moved on."""
    done = await conn.execute(
        update(n)
        .where(
            n.c.id == row["id"],
            n.c.status == SmsStatus.SENDING.value,
            n.c.provider_message_id.is_(None),
            n.c.updated_at == row["updated_at"],
        )
        .values(updated_at=at)
    )
    return int(done.rowcount or 0) == 1


async def resolve(conn: AsyncConnection, notification_id: str, values: Mapping[str, Any], at: datetime) -> bool:
    """Settle a cut-off ``sending`` row, unless it has been settled meanwhile."""
    done = await conn.execute(
        update(n)
        .where(
            n.c.id == notification_id,
            n.c.status == SmsStatus.SENDING.value,
            n.c.provider_message_id.is_(None),
        )
        .values(updated_at=at, **values)
    )
    return int(done.rowcount or 0) == 1


# --------------------------------------------------------------------------- the staff's queue


def _not_resent() -> Any:
    later = n.alias("later")
    return ~exists().where(later.c.resend_of == n.c.id)


async def failed_page(
    conn: AsyncConnection,
    scope: Scope,
    limit: int,
    after: tuple[datetime, str] | None = None,
    statuses: Sequence[str] = FAILED,
) -> list[dict[str, Any]]:
    """Failed SMS not resent yet, of the cases in ``scope`` (either office), the latest first;
    keyset pagination on (updated_at, id)."""
    window, dept = t.offices.alias("w"), t.offices.alias("d")
    query = (
        select(
            n,
            t.cases.c.case_no,
            t.cases.c.window_office_id,
            t.cases.c.department_office_id,
        )
        .join(t.cases, t.cases.c.id == n.c.case_id)
        .join(window, window.c.id == t.cases.c.window_office_id)
        .join(dept, dept.c.id == t.cases.c.department_office_id)
        .where(n.c.status.in_(list(statuses)), _not_resent())
        .order_by(n.c.updated_at.desc(), n.c.id.desc())
        .limit(limit)
    )
    scoped = _scoped(t.cases, window, dept, scope)
    if scoped is not None:
        query = query.where(scoped)
    if after is not None:
        at, last_id = after
        query = query.where((n.c.updated_at < at) | and_(n.c.updated_at == at, n.c.id < last_id))
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def with_case(conn: AsyncConnection, notification_id: str) -> dict[str, Any] | None:
    """The row with the offices of its case (for a scope check)."""
    row = (
        (
            await conn.execute(
                select(
                    n,
                    t.cases.c.case_no,
                    t.cases.c.window_office_id,
                    t.cases.c.department_office_id,
                    t.cases.c.applicant_phone,
                )
                .join(t.cases, t.cases.c.id == n.c.case_id)
                .where(n.c.id == notification_id)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


async def resend(conn: AsyncConnection, failed_id: str, at: datetime) -> dict[str, Any] | None:
    """A new ``created`` row for the same template and parameters, linked to the failed one; None
    when the failed one was resent already, to whatever number (one resend per failed
    notification: a double click, or a click on each side of a phone correction, sends one SMS).
    An SMS to the applicant goes to the case's phone as it is now (a clerk may have corrected it
    after the failure). The failed row is locked first (PostgreSQL: a transaction-scoped lock on
    its id; SQLite has one writer), so the check for an earlier resend and the phone read
    below both see what a concurrent resend committed."""
    await lock_for_transaction(conn, f"sms-resend:{failed_id}")
    failed = await with_case(conn, failed_id)
    if failed is None:
        return None
    already = await conn.execute(select(n.c.id).where(n.c.resend_of == failed_id).limit(1))
    if already.first() is not None:
        return None
    recipient = failed["recipient"]
    if failed["audience"] == "applicant" and failed.get("applicant_phone"):
        recipient = failed["applicant_phone"]
    row = {
        "id": str(uuid.uuid4()),
        "event_id": f"resend:{failed['id']}",
        "case_id": failed["case_id"],
        "recipient": recipient,
        "audience": failed["audience"],
        "user_id": failed["user_id"],
        "template_key": failed["template_key"],
        "params": storable(failed.get("params") or {}),
        "status": SmsStatus.CREATED.value,
        "reason": "",
        "reference": new_reference(),
        "resend_of": failed["id"],
        "created_at": at,
        "updated_at": at,
    }
    return row if await insert(conn, row) else None
