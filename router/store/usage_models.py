"""The usage tables: one row per request, the hourly and daily rollups, and the rows the database refused.

They carry plain ids (no foreign keys) so that batched inserts stay cheap and history survives deletions.

No `from __future__ import annotations`, as in models.py: Python evaluates the `Mapped[...]` annotations,
not SQLAlchemy (it would compile and evaluate each string again when a command loads these tables).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from router.config import lengths as L
from router.store.models import Base, BigId, updated_in_place, utcnow


class UsageRecord(Base):
    """One request (with all its attempts): tokens, cost, latency, outcome.

    On PostgreSQL the table is partitioned by month on created_at (migration 0010, store/partitions.py) and
    its primary key is (id, created_at); ids still come from one sequence, so `id` alone identifies a row,
    which is all the ORM needs (SQLite could not autoincrement a composite key). Alembic does not compare
    primary keys, and the partitions are hidden from it (migrations/env.py)."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_tenant_time", "tenant_id", "created_at"),
        Index("ix_usage_key_time", "key_id", "created_at"),
        Index("ix_usage_model_time", "requested_model", "created_at"),
        Index("ix_usage_time", "created_at"),
        # Request detail by id (`router usage show`), at any table size.
        Index("ix_usage_request_id", "request_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    request_id: Mapped[str] = mapped_column(String(L.REQUEST_ID_CHARS))
    tenant_id: Mapped[int | None] = mapped_column(Integer, default=None)
    key_id: Mapped[int | None] = mapped_column(Integer, default=None)
    key_prefix: Mapped[str | None] = mapped_column(String(32), default=None)
    member: Mapped[str | None] = mapped_column(String(L.MEMBER_CHARS), default=None)
    requested_model: Mapped[str] = mapped_column(String(300), default="")
    # The target that answered (None when none did), e.g. "openai/gpt-4.1".
    target: Mapped[str | None] = mapped_column(String(L.TARGET_CHARS), default=None)
    provider: Mapped[str | None] = mapped_column(String(100), default=None)
    upstream_model: Mapped[str | None] = mapped_column(String(300), default=None)
    # [{"target", "status", "error_type", "latency_ms"}] in the order tried
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    ttft_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    status: Mapped[int] = mapped_column(Integer, default=200)
    error_type: Mapped[str | None] = mapped_column(String(64), default=None)
    # "ok", "error", "client_cancelled", "rejected"
    outcome: Mapped[str] = mapped_column(String(20), default="ok")


class RollupColumns:
    """The group and the sums of a usage rollup (hourly and daily alike)."""

    dims: Mapped[str] = mapped_column(String(40))
    tenant_id: Mapped[int | None] = mapped_column(Integer, default=None)
    key_id: Mapped[int | None] = mapped_column(Integer, default=None)
    key_prefix: Mapped[str | None] = mapped_column(String(32), default=None)
    member: Mapped[str | None] = mapped_column(String(L.MEMBER_CHARS), default=None)
    requested_model: Mapped[str] = mapped_column(String(300), default="")
    target: Mapped[str | None] = mapped_column(String(L.TARGET_CHARS), default=None)
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_nanousd: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    ttft_ms_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    ttft_count: Mapped[int] = mapped_column(BigInteger, default=0)


@updated_in_place
class UsageHourly(RollupColumns, Base):
    """Hourly rollup of usage_records, kept by the writer in the same transaction as the raw rows.

    One row per UTC hour and group (tenant, key, member, requested model, target, outcome). `dims` is a hash
    of the group's values (NULLs included), so that one unique index serves the upsert on both backends
    (a unique index over nullable columns would let NULL groups repeat). Cost is summed in integer
    nano-dollars: exact sums, and no float noise in reports and exports.
    """

    __tablename__ = "usage_hourly"
    __table_args__ = (
        UniqueConstraint("hour", "dims", name="uq_usage_hourly_hour_dims"),
        Index("ix_usage_hourly_tenant_hour", "tenant_id", "hour"),
        Index("ix_usage_hourly_key_hour", "key_id", "hour"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@updated_in_place
class UsageDaily(RollupColumns, Base):
    """Daily rollup (UTC days) of the same groups, kept by the writer beside the hourly one in the same
    transaction: a 30-day report reads ~30 rows per group instead of ~720."""

    __tablename__ = "usage_daily"
    __table_args__ = (
        UniqueConstraint("day", "dims", name="uq_usage_daily_day_dims"),
        Index("ix_usage_daily_tenant_day", "tenant_id", "day"),
        Index("ix_usage_daily_key_day", "key_id", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UsageDeadLetter(Base):
    """A usage record the database refused even after the writer bounded it: kept aside, whole, so that
    it never blocks the records behind it; `router usage-dead-letters` lists and replays them."""

    __tablename__ = "usage_dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    request_id: Mapped[str] = mapped_column(String(L.REQUEST_ID_CHARS))
    # The event as ASCII JSON (NUL and surrogates escaped), so that the text itself is always storable.
    payload: Mapped[str] = mapped_column(Text)
    # The database's refusal, first line, cut to 1,000 characters.
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
