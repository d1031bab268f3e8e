"""An alias on proxy keys: a name the admin gives a key ("ann's laptop", "CI runner").

Revision ID: 0007_key_alias
Revises: 0006_member_pages
Create Date: 2026-12-06 05:12:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_key_alias"
down_revision: str | None = "0006_member_pages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("alias", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("alias")
