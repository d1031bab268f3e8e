"""Index usage_records.request_id, so that one request's detail is found at any table size.

Revision ID: 0009_usage_request_id_index
Revises: 0008_usage_hourly
Create Date: 2026-12-06 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009_usage_request_id_index"
down_revision: str | None = "0008_usage_hourly"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_usage_request_id", "usage_records", ["request_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_usage_request_id", table_name="usage_records")
