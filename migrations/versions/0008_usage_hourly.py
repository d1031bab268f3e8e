"""Hourly usage rollups (usage_hourly), kept by the usage writer; filled from the existing raw rows.

Revision ID: 0008_usage_hourly
Revises: 0007_key_alias
Create Date: 2026-12-06 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_usage_hourly"
down_revision: str | None = "0007_key_alias"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger()


def upgrade() -> None:
    op.create_table(
        "usage_hourly",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dims", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("key_prefix", sa.String(length=32), nullable=True),
        sa.Column("member", sa.String(length=200), nullable=True),
        sa.Column("requested_model", sa.String(length=300), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        *(
            sa.Column(name, _BIG, nullable=False)
            for name in (
                "requests",
                "errors",
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
                "cost_nanousd",
                "latency_ms_sum",
                "ttft_ms_sum",
                "ttft_count",
            )
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_hourly")),
        sa.UniqueConstraint("hour", "dims", name="uq_usage_hourly_hour_dims"),
    )
    op.create_index("ix_usage_hourly_tenant_hour", "usage_hourly", ["tenant_id", "hour"], unique=False)
    op.create_index("ix_usage_hourly_key_hour", "usage_hourly", ["key_id", "hour"], unique=False)
    # Existing raw rows get their rollups now, so reports (which read rollups) lose no history.
    from router.store.usage_rollups import rebuild_rollups_sync

    rebuild_rollups_sync(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_usage_hourly_key_hour", table_name="usage_hourly")
    op.drop_index("ix_usage_hourly_tenant_hour", table_name="usage_hourly")
    op.drop_table("usage_hourly")
