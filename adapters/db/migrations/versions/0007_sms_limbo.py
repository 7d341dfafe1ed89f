"""SMS without secrets at rest and without limbo

Notifications keep their parameters without the applicant's tracking link (recomputed from the
case when the SMS is sent): the links stored so far are removed, from ``params`` and from the
legacy parameters kept in ``reason``. Each notification gets our own ``reference`` (sent as
Alibaba ``OutId`` / Tencent ``SessionContext`` so that a cut-off send can be found again), the time
it was handed to a provider (``claimed_at``), the failed notification it resends (``resend_of``),
and an index for the sweeper and the staff's queue of failed SMS.

Revision ID: 0007
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

import adapters.db.types

revision = "0007"
down_revision = "0008"
branch_labels = None
depends_on = None

SECRET_PARAMS = ("link",)


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("resend_of", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", adapters.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_notifications_status", ["status", "updated_at"], unique=False)
    scrub_links()


def scrub_links() -> None:
    notifications = sa.table(
        "notifications",
        sa.column("id", sa.String()),
        sa.column("params", sa.JSON()),
        sa.column("reason", sa.Text()),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(notifications.c.id, notifications.c.params, notifications.c.reason)).all()
    for row_id, params, reason in rows:
        values: dict[str, Any] = {}
        if isinstance(params, dict) and any(k in params for k in SECRET_PARAMS):
            values["params"] = {k: v for k, v in params.items() if k not in SECRET_PARAMS}
        legacy = _json_object(reason)
        if legacy is not None and any(k in legacy for k in SECRET_PARAMS):
            values["reason"] = json.dumps(
                {k: v for k, v in legacy.items() if k not in SECRET_PARAMS}, ensure_ascii=False
            )
        if values:
            conn.execute(sa.update(notifications).where(notifications.c.id == row_id).values(**values))


def _json_object(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def downgrade() -> None:
    # The links removed by the upgrade are not put back: they are recomputed from the case.
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_status")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("resend_of")
        batch_op.drop_column("reference")
