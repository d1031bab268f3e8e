"""Hourly usage rollups (usage_hourly): kept by the writer in the same transaction as the raw rows, and
rebuilt from raw rows by the operator's repair tool (`router usage rebuild-rollups`).

Reports read these instead of raw rows (store/usage_reports.py), so their cost follows the number of hours
and groups, not the number of requests. Cost is summed in integer nano-dollars, rounded per row the same
way here, in the rebuild's SQL and in the reports' raw edges (floor(usd * 1e9 + 0.5)), so the three agree
to the nano-dollar.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Any, Protocol, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    Float,
    Integer,
    Table,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from router.store.bulk_rows import insert_rows
from router.store.usage_models import UsageDaily, UsageHourly, UsageRecord

ROLLUP_TABLE = cast(Table, UsageHourly.__table__)
DAILY_TABLE = cast(Table, UsageDaily.__table__)
DIMENSIONS: tuple[str, ...] = (
    "tenant_id", "key_id", "key_prefix", "member", "requested_model", "target", "outcome",
)  # fmt: skip
MEASURES: tuple[str, ...] = (
    "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "cost_nanousd", "latency_ms_sum", "ttft_ms_sum", "ttft_count",
)  # fmt: skip
# Failures and refusals count as errors; a client hanging up is not our error.
ERROR_OUTCOMES = ("error", "rejected")
NANOS_PER_USD = 1_000_000_000
_HOUR_TEXT = "%Y-%m-%d %H:00"
_INSERT_CHUNK = 1000
MAX_COUNT = 2**63 - 1
# What one request may add to a rollup measure (tokens, nano-USD, milliseconds): far above any real request
# (7e13), yet 131,072 hostile rows at the cap in one hour and group still fit a BIGINT sum. Raw rows keep
# their values; the rebuild applies the same cap, so writer and rebuild agree.
ROW_CAP = 2**46
USD_CAP = ROW_CAP / 1e9


class RolledUp(Protocol):
    """What a rollup reads of one usage event (store/usage_writes.py: UsageEvent, which imports this)."""

    created_at: datetime
    tenant_id: int | None
    key_id: int | None
    key_prefix: str | None
    member: str | None
    requested_model: str
    target: str | None
    outcome: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    latency_ms: int
    ttft_ms: int | None


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def hour_of(value: datetime) -> datetime:
    return utc(value).replace(minute=0, second=0, microsecond=0)


def day_of(value: datetime) -> datetime:
    return utc(value).replace(hour=0, minute=0, second=0, microsecond=0)


def usd_to_nanos(usd: float) -> int:
    # Capped before scaling: 1e300 * 1e9 is infinite (and an error on PostgreSQL).
    return min(max(math.floor(min(usd, USD_CAP) * 1e9 + 0.5), 0), ROW_CAP)


def dims_hash(values: Sequence[Any]) -> str:
    """The group's identity for the unique index: a hash of its dimension values, NULLs distinct from ''."""
    return hashlib.sha1(json.dumps(list(values), separators=(",", ":")).encode()).hexdigest()


@lru_cache(maxsize=1 << 16)
def _cached_dims_hash(values: tuple[Any, ...]) -> str:
    # The writer's groups (keys x models x targets x outcomes) recur batch after batch: ~3 µs a group saved.
    return dims_hash(values)


# A rollup row as the writer upserts it: (bucket, dims, *DIMENSIONS, *MEASURES).
ROLLUP_COLUMNS: tuple[str, ...] = ("dims", *DIMENSIONS, *MEASURES)
_DIMS_AT = 2  # where the dimension values start in a rollup row (after the bucket and dims)
_MEASURES_AT = _DIMS_AT + len(DIMENSIONS)
_OUTCOME_AT = DIMENSIONS.index("outcome")
_HOUR = timedelta(hours=1)
_NEVER = datetime.min.replace(tzinfo=UTC)
# Below this a cost needs neither of usd_to_nanos's bounds: floor(usd * 1e9 + 0.5) is its value.
_PLAIN_USD = 10_000.0
_group_of = attrgetter(*DIMENSIONS)
_measures_of = attrgetter(
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd", "latency_ms",
    "ttft_ms",
)  # fmt: skip


def rollup_rows(events: Iterable[RolledUp]) -> list[tuple[Any, ...]]:
    """The batch's increments, one row per (hour, group) as (hour, dims, *DIMENSIONS, *MEASURES), in
    (hour, dims) order so that concurrent writers take row locks in one order (no deadlocks on PostgreSQL).

    Each event adds its values capped at ROW_CAP (its cost as usd_to_nanos), the rebuild's sums. The
    writer's per-event cost (~1 µs): the hour is worked out again only when an event leaves the previous
    one's hour, the group and the measures are read with one C call each, and bounds are checked by
    comparison, as min() compares (`usd_to_nanos` only for a cost outside 0..10,000 USD)."""
    hours: dict[datetime, dict[tuple[Any, ...], list[int]]] = {}
    groups: dict[tuple[Any, ...], list[int]] = {}
    start = end = _NEVER
    for event in events:
        at = event.created_at
        if at.tzinfo is not UTC or not start <= at < end:
            hour = hour_of(at)
            groups = hours.setdefault(hour, {})
            # Only UTC times are compared with the hour's bounds (a naive one cannot be compared at all).
            start, end = (hour, hour + _HOUR) if at.tzinfo is UTC else (_NEVER, _NEVER)
        key = _group_of(event)
        sums = groups.get(key)
        if sums is None:
            sums = groups[key] = [0] * len(MEASURES)
        tokens_in, tokens_out, cache_read, cache_write, usd, latency, ttft = _measures_of(event)
        sums[0] += 1
        sums[2] += ROW_CAP if tokens_in > ROW_CAP else tokens_in
        sums[3] += ROW_CAP if tokens_out > ROW_CAP else tokens_out
        sums[4] += ROW_CAP if cache_read > ROW_CAP else cache_read
        sums[5] += ROW_CAP if cache_write > ROW_CAP else cache_write
        sums[6] += math.floor(usd * 1e9 + 0.5) if 0 <= usd <= _PLAIN_USD else usd_to_nanos(usd)
        sums[7] += ROW_CAP if latency > ROW_CAP else latency
        if ttft is not None:
            sums[8] += ROW_CAP if ttft > ROW_CAP else ttft
            sums[9] += 1
    rows: list[tuple[Any, ...]] = []
    for hour, hour_groups in hours.items():
        for key, sums in hour_groups.items():
            if key[_OUTCOME_AT] in ERROR_OUTCOMES:
                sums[1] = sums[0]
            rows.append((hour, _cached_dims_hash(key), *key, *sums))
    rows.sort(key=_bucket_and_dims)
    return rows


_bucket_and_dims = itemgetter(0, 1)


def daily_rows(hourly: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The hourly increments summed per (day, group), in (day, dims) order (the same lock order again)."""
    days: dict[tuple[datetime, str], tuple[tuple[Any, ...], list[int]]] = {}
    day_of_hour: dict[datetime, datetime] = {}
    for row in hourly:
        hour = row[0]
        day_start = day_of_hour.get(hour)
        if day_start is None:
            day_start = day_of_hour[hour] = day_of(hour)
        key = (day_start, row[1])
        day = days.get(key)
        if day is None:
            days[key] = (row[1:_MEASURES_AT], list(row[_MEASURES_AT:]))
        else:
            sums = day[1]
            for i, value in enumerate(row[_MEASURES_AT:]):
                sums[i] += value
    rows = [(key[0], *group, *sums) for key, (group, sums) in days.items()]
    rows.sort(key=_bucket_and_dims)
    return rows


async def add_to_rollups(session: AsyncSession, events: Sequence[RolledUp]) -> None:
    """Add the batch to its hours' and days' rollups, in the caller's transaction (the one inserting the raw
    rows): one set-based upsert per table (store/bulk_rows.py). Every writer upserts hours first, then days,
    each in key order: no deadlock between writers."""
    rows = rollup_rows(events)
    if not rows:
        return
    for table, column, batch in ((ROLLUP_TABLE, "hour", rows), (DAILY_TABLE, "day", daily_rows(rows))):
        await insert_rows(
            session, table, (column, *ROLLUP_COLUMNS), batch, conflict=(column, "dims"), add=MEASURES
        )


def cost_nanos_expr(dialect: str, usd: ColumnElement[Any]) -> ColumnElement[int]:
    """floor(usd * 1e9 + 0.5) per row as an integer, as `usd_to_nanos` computes it (costs are never negative:
    SQLite's CAST truncates, which is floor for them; PostgreSQL's CAST would round half to even)."""
    least = func.least if dialect == "postgresql" else func.min
    scaled = least(usd, literal(USD_CAP, Float)) * 1e9 + 0.5  # capped first, as in usd_to_nanos
    if dialect == "postgresql":
        return cast(ColumnElement[int], func.floor(scaled).cast(BigInteger()))
    return cast(ColumnElement[int], func.cast(scaled, Integer()))


def hour_text_expr(dialect: str, column: ColumnElement[Any], fmt: str = "hour") -> ColumnElement[str]:
    """The UTC bucket of a time column as text, identical on both backends ("2025-05-01 13:00", …)."""
    if dialect == "postgresql":
        pg = {"hour": "YYYY-MM-DD HH24:00", "day": "YYYY-MM-DD", "month": "YYYY-MM"}[fmt]
        return func.to_char(func.timezone("UTC", column), pg)
    lite = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}[fmt]
    return func.strftime(lite, column)


def _cap_expr(dialect: str, value: ColumnElement[Any]) -> ColumnElement[int]:
    # SQLite's two-argument min() is scalar; PostgreSQL's least() skips a NULL, hence the coalesce.
    least = func.least if dialect == "postgresql" else func.min
    return cast(ColumnElement[int], least(func.coalesce(value, 0), ROW_CAP))


def raw_measures(dialect: str) -> list[ColumnElement[Any]]:
    """Raw rows summed into the rollup's measures (MEASURES order), each row capped as the writer caps it."""
    ur = UsageRecord

    def total(value: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(_cap_expr(dialect, value)), 0)

    return [
        func.count(),
        func.coalesce(func.sum(case((ur.outcome.in_(ERROR_OUTCOMES), 1), else_=0)), 0),
        total(ur.input_tokens.expression),
        total(ur.output_tokens.expression),
        total(ur.cache_read_tokens.expression),
        total(ur.cache_write_tokens.expression),
        total(cost_nanos_expr(dialect, ur.cost_usd.expression)),
        total(ur.latency_ms.expression),
        total(ur.ttft_ms.expression),
        func.count(ur.ttft_ms),
    ]


def _lock_and_clear(connection: Connection, table: Table, column: str, start: datetime | None) -> None:
    """Lock a rollup table against writers for the transaction (PostgreSQL) and delete from `start` on."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"LOCK TABLE {table.name} IN EXCLUSIVE MODE"))
    wipe = delete(table)
    if start is not None:
        wipe = wipe.where(table.c[column] >= start)
    connection.execute(wipe)


def rebuild_rollups_sync(connection: Connection, since: datetime | None = None) -> int:
    """Recompute the rollups of every hour from `since`'s hour on (all hours without it) from the raw rows;
    returns the number of rollup rows written. Idempotent.

    On PostgreSQL the rollup table is locked (EXCLUSIVE: reads go on, writers wait) for the transaction,
    so a batch committed meanwhile is either in the raw rows read here or added after the rebuild commits.
    SQLite has one writer at a time: the DELETE comes first, so the write lock is held before the read.
    """
    dialect = connection.dialect.name
    start = hour_of(since) if since is not None else None
    _lock_and_clear(connection, ROLLUP_TABLE, "hour", start)
    ur = UsageRecord
    bucket = hour_text_expr(dialect, ur.created_at.expression)
    dims = [getattr(ur, name).expression for name in DIMENSIONS]
    bounds = select(func.min(ur.created_at), func.max(ur.created_at))
    if start is not None:
        bounds = bounds.where(ur.created_at >= start)
    first, last = connection.execute(bounds).one()
    if first is None or last is None:
        return 0
    written = 0
    # A day at a time: the groups of one day in memory (not of years), each read over the time index.
    day = hour_of(utc(first)).replace(hour=0)
    if start is not None and start > day:
        day = start
    while day <= utc(last):
        following = (day + timedelta(days=1)).replace(hour=0)
        stmt = (
            select(bucket, *dims, *raw_measures(dialect))
            .where(ur.created_at >= day, ur.created_at < following)
            .group_by(bucket, *dims)
        )
        written += _insert_chunked(connection, ROLLUP_TABLE, _hourly_rows(connection.execute(stmt).all()))
        day = following
    return written


def _hourly_rows(groups: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for bucket_text, *values in groups:
        group = values[: len(DIMENSIONS)]
        yield {
            "hour": datetime.strptime(bucket_text, _HOUR_TEXT).replace(tzinfo=UTC),
            "dims": dims_hash(group),
            **dict(zip(DIMENSIONS, group, strict=True)),
            **{name: int(v or 0) for name, v in zip(MEASURES, values[len(DIMENSIONS) :], strict=True)},
        }


def _insert_chunked(connection: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    written = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= _INSERT_CHUNK:
            connection.execute(insert(table), chunk)
            written += len(chunk)
            chunk = []
    if chunk:
        connection.execute(insert(table), chunk)
        written += len(chunk)
    return written


def rebuild_daily_sync(connection: Connection, since: datetime | None = None) -> int:
    """Recompute the daily rollups from `since`'s day on (all days without it) from the hourly ones; returns
    the number of daily rows written. Idempotent."""
    dialect = connection.dialect.name
    start = day_of(since) if since is not None else None
    _lock_and_clear(connection, DAILY_TABLE, "day", start)
    uh = ROLLUP_TABLE.c
    bucket = hour_text_expr(dialect, uh.hour, "day")
    dims = [uh[name] for name in DIMENSIONS]
    stmt = select(bucket, uh.dims, *dims, *(func.sum(uh[name]) for name in MEASURES)).group_by(
        bucket, uh.dims, *dims
    )
    if start is not None:
        stmt = stmt.where(uh.hour >= start)
    days = (
        {
            "day": datetime.strptime(day_text, "%Y-%m-%d").replace(tzinfo=UTC),
            "dims": dims_value,
            **dict(zip(DIMENSIONS, values[: len(DIMENSIONS)], strict=True)),
            **{name: int(v or 0) for name, v in zip(MEASURES, values[len(DIMENSIONS) :], strict=True)},
        }
        for day_text, dims_value, *values in connection.execute(stmt).all()
    )
    return _insert_chunked(connection, DAILY_TABLE, days)


async def rebuild_rollups(session: AsyncSession, since: datetime | None = None) -> int:
    """`rebuild_rollups_sync`, then the days from `since`'s day from the hourly rollups
    (`rebuild_daily_sync`), in the session's transaction (the caller commits); returns the hourly rows
    written."""

    def rebuild(sync_session: Any) -> int:
        connection = sync_session.connection()
        written = rebuild_rollups_sync(connection, since)
        rebuild_daily_sync(connection, since)
        return written

    return await session.run_sync(rebuild)
