"""Members' own page (/me): sessions of members signed in through the IdP, and per-tenant self-service.

Revision ID: 0006_member_pages
Revises: 0005_pools
Create Date: 2026-12-06 04:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_member_pages"
down_revision: str | None = "0005_pools"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("member_self_service", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "member_page_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("tenant_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_page_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_member_page_sessions_token_hash")),
    )
    op.create_index(
        op.f("ix_member_page_sessions_expires_at"), "member_page_sessions", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_member_page_sessions_expires_at"), table_name="member_page_sessions")
    op.drop_table("member_page_sessions")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("member_self_service")
