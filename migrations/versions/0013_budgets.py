"""Budgets with windows: a `budgets` table (tenant, member or key; day, week or month; USD) replaces the
single monthly `budget_usd` of tenants and keys, whose values move into it as month budgets.

Revision ID: 0013_budgets
Revises: 0012_usage_daily
Create Date: 2026-12-06 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_budgets"
down_revision: str | None = "0012_usage_daily"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    # Plain ALTER TABLE ... DROP/ADD COLUMN (SQLite 3.35+), never a batch rebuild: with foreign keys on,
    # dropping the old tenants table of a rebuild would cascade-delete every key and budget of the tenants.
    tenant_budgets = bind.execute(sa.text("SELECT id, budget_usd FROM tenants WHERE budget_usd IS NOT NULL"))
    tenant_rows = [tuple(row) for row in tenant_budgets]
    key_budgets = bind.execute(
        sa.text("SELECT id, tenant_id, budget_usd FROM api_keys WHERE budget_usd IS NOT NULL")
    )
    key_rows = [tuple(row) for row in key_budgets]
    op.drop_column("tenants", "budget_usd")
    op.drop_column("api_keys", "budget_usd")
    op.create_table(
        "budgets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_kind", sa.String(length=10), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("member", sa.String(length=200), nullable=False),
        # "window" is a reserved word in PostgreSQL; the models call it `window`.
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("amount_usd", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("period IN ('day', 'week', 'month')", name=op.f("ck_budgets_period")),
        sa.CheckConstraint(
            "subject_kind IN ('tenant', 'member', 'key')", name=op.f("ck_budgets_subject_kind")
        ),
        sa.CheckConstraint("amount_usd >= 0", name=op.f("ck_budgets_amount_usd")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_budgets_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_budgets_key_id_api_keys"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
    )
    op.create_index("ix_budgets_tenant_id", "budgets", ["tenant_id"], unique=False)
    op.create_index("ix_budgets_key_id", "budgets", ["key_id"], unique=False)
    op.create_index(
        "uq_budgets_subject_window",
        "budgets",
        ["tenant_id", "subject_kind", "member", "period", sa.text("coalesce(key_id, 0)")],
        unique=True,
    )
    # Every existing monthly budget becomes a month budget of the same subject.
    insert = sa.text(
        "INSERT INTO budgets (subject_kind, tenant_id, key_id, member, period, amount_usd, created_at) "
        "VALUES (:kind, :tenant_id, :key_id, '', 'month', :amount, CURRENT_TIMESTAMP)"
    )
    rows = [{"kind": "tenant", "tenant_id": t, "key_id": None, "amount": a} for t, a in tenant_rows]
    rows += [{"kind": "key", "tenant_id": t, "key_id": k, "amount": a} for k, t, a in key_rows]
    if rows:
        bind.execute(insert, rows)


def downgrade() -> None:
    # Only month budgets of tenants and keys had a place before; day, week and member budgets are lost.
    bind = op.get_bind()
    month = bind.execute(
        sa.text("SELECT subject_kind, tenant_id, key_id, amount_usd FROM budgets WHERE period = 'month'")
    )
    tenant_rows = [{"id": t, "amount": a} for kind, t, _, a in month if kind == "tenant"]
    month = bind.execute(
        sa.text("SELECT key_id, amount_usd FROM budgets WHERE period = 'month' AND subject_kind = 'key'")
    )
    key_rows = [{"id": k, "amount": a} for k, a in month]
    op.drop_index("uq_budgets_subject_window", table_name="budgets")
    op.drop_index("ix_budgets_key_id", table_name="budgets")
    op.drop_index("ix_budgets_tenant_id", table_name="budgets")
    op.drop_table("budgets")
    op.add_column("tenants", sa.Column("budget_usd", sa.Float(), nullable=True))
    op.add_column("api_keys", sa.Column("budget_usd", sa.Float(), nullable=True))
    if tenant_rows:
        bind.execute(sa.text("UPDATE tenants SET budget_usd = :amount WHERE id = :id"), tenant_rows)
    if key_rows:
        bind.execute(sa.text("UPDATE api_keys SET budget_usd = :amount WHERE id = :id"), key_rows)
