"""Partition usage_records by month on PostgreSQL (SQLite keeps one table).

The table is rebuilt as a table partitioned by RANGE (created_at): one partition per UTC month that holds
rows, the current month and the next two, and a default partition; the rows are copied over in this
migration's transaction (the writer waits meanwhile: plan minutes per hundred million rows). The primary key
becomes (id, created_at), as PostgreSQL requires the partition key in a partitioned table's unique keys; ids
keep coming from the same sequence. The service creates later months ahead (router/store/partitions.py).

The DDL is written out here rather than imported, so that this revision stays what it was when the code moves.

Revision ID: 0010_usage_monthly_partitions
Revises: 0009_usage_request_id_index
Create Date: 2026-12-06 07:20:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

revision: str = "0010_usage_monthly_partitions"
down_revision: str | None = "0009_usage_request_id_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: tuple[tuple[str, str], ...] = (
    ("ix_usage_tenant_time", "tenant_id, created_at"),
    ("ix_usage_key_time", "key_id, created_at"),
    ("ix_usage_model_time", "requested_model, created_at"),
    ("ix_usage_time", "created_at"),
    ("ix_usage_request_id", "request_id"),
)
AHEAD = 2


def _is_postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def _bound(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S+00")


def _months_to_create(old_table: str) -> list[datetime]:
    """Every month holding a row, and the current month with the next AHEAD."""
    rows = op.get_bind().execute(
        text(f"SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') FROM {old_table}")
    )
    months = {value.replace(tzinfo=UTC) for (value,) in rows if value is not None}
    current = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(AHEAD + 1):
        months.add(current)
        current = _next_month(current)
    return sorted(months)


def _swap_in(old_table: str, new_ddl: str, primary_key: str, after_create: list[str]) -> None:
    """Move usage_records aside, create the new table under its name, copy the rows, drop the old one."""
    op.execute(f"ALTER TABLE usage_records RENAME TO {old_table}")
    op.execute(f"ALTER TABLE {old_table} RENAME CONSTRAINT pk_usage_records TO pk_{old_table}")
    for name, _columns in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("ALTER SEQUENCE usage_records_id_seq OWNED BY NONE")
    op.execute(new_ddl.format(old=old_table))
    op.execute(f"ALTER TABLE usage_records ADD CONSTRAINT pk_usage_records PRIMARY KEY ({primary_key})")
    op.execute("ALTER SEQUENCE usage_records_id_seq OWNED BY usage_records.id")
    for statement in after_create:
        op.execute(statement)
    op.execute(f"INSERT INTO usage_records SELECT * FROM {old_table}")
    op.execute(f"DROP TABLE {old_table}")
    for name, columns in INDEXES:
        op.execute(f"CREATE INDEX {name} ON usage_records ({columns})")
    op.execute("ANALYZE usage_records")


def upgrade() -> None:
    if not _is_postgres():
        return
    partitions: list[str] = []
    for start in _months_to_create("usage_records"):
        end = _next_month(start)
        partitions.append(
            f"CREATE TABLE usage_records_p{start.year:04d}_{start.month:02d} PARTITION OF usage_records "
            f"FOR VALUES FROM ('{_bound(start)}') TO ('{_bound(end)}')"
        )
    partitions.append("CREATE TABLE usage_records_default PARTITION OF usage_records DEFAULT")
    _swap_in(
        "usage_records_unpartitioned",
        "CREATE TABLE usage_records (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE (created_at)",
        "id, created_at",
        partitions,
    )


def downgrade() -> None:
    if not _is_postgres():
        return
    # Back to one table; every partition's rows come along (the partitions go with the parent).
    _swap_in(
        "usage_records_partitioned", "CREATE TABLE usage_records (LIKE {old} INCLUDING DEFAULTS)", "id", []
    )
