"""Identity columns wide enough for what compliant IdPs send: a member's `sub` up to 255 characters (OpenID
Connect allows 255), an admin user's name up to an IdP e-mail's 200, and the columns that name an admin or a
member again (the audit log's actor, an API token's `created_by`, the sign-in throttle's "user:" key) wide
enough to hold such a name whole.

PostgreSQL: ALTER COLUMN ... TYPE VARCHAR(n); widening a varchar rewrites no rows and rebuilds no index.
SQLite keeps no length, but stores the declared type (and autogenerate compares it), so each table is
rebuilt by batch mode. Rebuilding `admin_users` drops it, and with foreign keys on that would delete every
admin session and tenant link (ON DELETE CASCADE): those rows are set aside first and put back after.

The downgrade narrows the columns again; it refuses, naming the columns, while any stored value is longer
than the old width (cutting a name could make it another person's).

Revision ID: 0014_identity_widths
Revises: 0013_budgets
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014_identity_widths"
down_revision: str | None = "0013_budgets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, nullable, old width, new width)
_COLUMNS: tuple[tuple[str, str, bool, int, int], ...] = (
    ("signin_sessions", "subject", False, 200, 255),
    ("admin_users", "username", False, 100, 200),
    ("audit_log", "actor", False, 100, 255),
    ("admin_api_tokens", "created_by", False, 100, 255),
    ("sign_in_throttle", "key", False, 200, 255),
)
# Rows that reference admin_users with ON DELETE CASCADE: what a SQLite rebuild of admin_users would delete.
_ADMIN_USER_CHILDREN = ("admin_user_tenants", "admin_sessions")


def _set_aside(bind: sa.Connection, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    result = bind.execute(sa.text(f"SELECT * FROM {table}"))
    columns, rows = list(result.keys()), [tuple(row) for row in result]
    bind.execute(sa.text(f"DELETE FROM {table}"))
    return columns, rows


def _put_back(bind: sa.Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    if rows:
        names = ", ".join(f'"{c}"' for c in columns)
        values = ", ".join(f":{c}" for c in columns)
        bind.execute(
            sa.text(f"INSERT INTO {table} ({names}) VALUES ({values})"),
            [dict(zip(columns, row, strict=True)) for row in rows],
        )


def _retype(*, widen: bool) -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    kept = [(table, *_set_aside(bind, table)) for table in _ADMIN_USER_CHILDREN] if sqlite else []
    for table, column, nullable, narrow, wide in _COLUMNS:
        to, was = (wide, narrow) if widen else (narrow, wide)
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                type_=sa.String(length=to),
                existing_type=sa.String(length=was),
                existing_nullable=nullable,
            )
    for table, columns, rows in kept:
        _put_back(bind, table, columns, rows)


def upgrade() -> None:
    _retype(widen=True)


def downgrade() -> None:
    bind = op.get_bind()
    longer = [
        f"{table}.{column} ({count} longer than {narrow})"
        for table, column, _nullable, narrow, _wide in _COLUMNS
        if (
            count := bind.execute(
                sa.text(f'SELECT count(*) FROM {table} WHERE length("{column}") > :width'), {"width": narrow}
            ).scalar_one()
        )
    ]
    if longer:
        raise RuntimeError(
            "cannot narrow the identity columns while longer values are stored: " + ", ".join(longer)
        )
    _retype(widen=False)
