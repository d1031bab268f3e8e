"""Daily usage rollups (usage_daily), kept by the usage writer beside the hourly ones; filled from them.

Revision ID: 0012_usage_daily
Revises: 0011_alerts
Create Date: 2026-12-06 08:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_usage_daily"
down_revision: str | None = "0011_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger()
_MEASURES = (
    "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "cost_nanousd", "latency_ms_sum", "ttft_ms_sum", "ttft_count",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "usage_daily",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dims", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("key_prefix", sa.String(length=32), nullable=True),
        sa.Column("member", sa.String(length=200), nullable=True),
        sa.Column("requested_model", sa.String(length=300), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        *(sa.Column(name, _BIG, nullable=False) for name in _MEASURES),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_daily")),
        sa.UniqueConstraint("day", "dims", name="uq_usage_daily_day_dims"),
    )
    op.create_index("ix_usage_daily_tenant_day", "usage_daily", ["tenant_id", "day"], unique=False)
    op.create_index("ix_usage_daily_key_day", "usage_daily", ["key_id", "day"], unique=False)
    # The days of the hourly rollups already kept, so that reports lose no history.
    from router.store.usage_rollups import rebuild_daily_sync

    rebuild_daily_sync(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_usage_daily_key_day", table_name="usage_daily")
    op.drop_index("ix_usage_daily_tenant_day", table_name="usage_daily")
    op.drop_table("usage_daily")
