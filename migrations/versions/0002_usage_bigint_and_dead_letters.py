"""64-bit token, latency and limit counters; the usage dead-letter table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 04:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_USAGE_COUNTS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "latency_ms")


def _retype(new: sa.types.TypeEngine[int], old: sa.types.TypeEngine[int]) -> None:
    with op.batch_alter_table("usage_records") as batch:
        for column in _USAGE_COUNTS:
            batch.alter_column(column, type_=new, existing_type=old, existing_nullable=False)
        batch.alter_column("ttft_ms", type_=new, existing_type=old, existing_nullable=True)
    for table in ("tenants", "api_keys"):
        with op.batch_alter_table(table) as batch:
            for column in ("rpm", "tpm"):
                batch.alter_column(column, type_=new, existing_type=old, existing_nullable=True)


def upgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())
    op.create_table(
        "usage_dead_letters",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_dead_letters")),
    )
    op.create_index(
        op.f("ix_usage_dead_letters_created_at"), "usage_dead_letters", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_usage_dead_letters_created_at"), table_name="usage_dead_letters")
    op.drop_table("usage_dead_letters")
    _retype(sa.Integer(), sa.BigInteger())
