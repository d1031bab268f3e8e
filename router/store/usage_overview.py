"""The usage page's figures (the total, the series and the four tables) from one read of the rollups.

The page used to run six aggregates over the same rollup rows (total, series, by tenant, model, target and
key), each over every time part (daily rollups, hourly ones, raw partial hours): at ~1,300 rollup groups an
hour that passed 1 s for 30 days. On PostgreSQL one statement now reads each part's rows once and groups
them six ways at once (GROUPING SETS); SQLite, the embedded default, runs the same aggregates one by one
(aggregate_usage). Either way the figures are the ones aggregate_usage and usage_timeseries give: same parts,
same rounding of raw costs, same names and order (tests/store/test_usage_overview.py holds them equal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.models import Tenant
from router.store.usage_models import UsageDaily
from router.store.usage_records import UsageFilters, subject_conditions
from router.store.usage_reports import (
    Bucket,
    GroupBy,
    TimePart,
    UsageRow,
    aggregate_usage,
    bucket_starts,
    time_parts,
    usage_row,
    usage_timeseries,
)
from router.store.usage_writes import utc

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
# The raw partial hour's pre-grouping: PostgreSQL cannot estimate its groups (it guesses one per row), so at
# the default 4 MB it sorts on disk; with room it hashes (~1,500 groups from ~43,000 rows at 500 keys:
# 0.56-0.69 s -> 0.27-0.32 s under load). Memory actually used follows the groups, not this bound; LOCAL:
# the reading transaction only.
WORK_MEM = "SET LOCAL work_mem = '32MB'"
# Read at once, the daily rollups come in pieces of about this many days: ~45,000 rows a piece at 1,500
# groups a day, about what the edges' hours and raw rows take, so that no piece is the long pole of 90 days.
DAYS_A_PIECE = 30
# The page's tables, in its order, and the rollup column each groups by.
TABLE_GROUPS: tuple[GroupBy, ...] = ("tenant", "model", "target", "key")
_COLUMNS: dict[str, str] = {
    "tenant": "tenant_id",
    "model": "requested_model",
    "target": "target",
    "key": "key_prefix",
}
_MEASURES = ("requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
             "cost_nanousd")  # fmt: skip
_NAME_FORMATS = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}


@dataclass(frozen=True, slots=True)
class UsageOverview:
    total: UsageRow
    series: list[UsageRow]  # one row per bucket, oldest first, empty buckets as zeros
    groups: dict[str, list[UsageRow]]  # TABLE_GROUPS' names: by cost, then requests, descending


async def usage_overview(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime | None = None,
    bucket: Bucket = "day",
    tenant_id: int | None = None,
    key_prefix: str | None = None,
    model: str | None = None,
    target: str | None = None,
    sessions: SessionFactory | None = None,
) -> UsageOverview:
    """What the usage page shows for these filters (see the module's doc). With `sessions` (a session
    factory, e.g. Database.session) PostgreSQL reads the time parts at once on connections of their own."""
    filters = UsageFilters(since, until, tenant_id, key_prefix, model, target)
    if session.get_bind().dialect.name != "postgresql":
        return await _one_by_one(session, filters, bucket)
    # An hourly series needs hours, which the daily rollups cannot answer: it is read apart (its span is
    # at most ~800 hours), and the tables from the daily rollups as for any other bucket.
    sums = await _grouped(session, filters, None if bucket == "hour" else bucket, sessions)
    if bucket == "hour":
        series = await usage_timeseries(session, bucket="hour", **_kwargs(filters))
    else:
        series = _fill(sums.pop("bucket", {}), since, until, bucket)
    tenant_names = await _tenant_names(session, sums.get("tenant", {}))
    groups: dict[str, list[UsageRow]] = {}
    for name in TABLE_GROUPS:
        labels = tenant_names if name == "tenant" else {}
        rows = [usage_row(labels.get(key, key), values) for key, values in sums.get(name, {}).items()]
        # aggregate_usage's order, to the letter.
        groups[name] = sorted(rows, key=lambda r: (-r.cost_usd, -r.requests, r.name or ""))
    total = usage_row("total", sums.get("total", {}).get("total", [0] * len(_MEASURES)))
    return UsageOverview(total=total, series=series, groups=groups)


def _kwargs(filters: UsageFilters) -> dict[str, Any]:
    return {
        "since": filters.since,
        "until": filters.until,
        "tenant_id": filters.tenant_id,
        "key_prefix": filters.key_prefix,
        "model": filters.model,
        "target": filters.target,
    }


async def _one_by_one(session: AsyncSession, filters: UsageFilters, bucket: Bucket) -> UsageOverview:
    kwargs = _kwargs(filters)
    total = (await aggregate_usage(session, **kwargs))[0]
    series = await usage_timeseries(session, bucket=bucket, **kwargs)
    groups: dict[str, list[UsageRow]] = {
        name: await aggregate_usage(session, **kwargs, group_by=name) for name in TABLE_GROUPS
    }
    return UsageOverview(total=total, series=series, groups=groups)


def _part_rows(
    session: AsyncSession, part: TimePart, bucket: Bucket | None, where: Sequence[ColumnElement[bool]]
) -> Any:
    """One time part's rows with the page's dimensions, its bucket's start and the seven measures: rollup
    rows as stored, raw rows summed per group first (with the rollups' caps and cost rounding)."""
    table = part.table
    dims: list[Any] = [getattr(table, _COLUMNS[name]).label(name) for name in TABLE_GROUPS]
    if bucket is not None:
        # The bucket's start (date_trunc at UTC); a daily row's `day` already is its day's start.
        whole = bucket == "day" and table is UsageDaily
        dims.append((part.time if whole else func.date_trunc(bucket, part.time, "UTC")).label("bucket"))
    if part.raw:
        measures = [m.label(name) for m, name in zip(part.measures(session), _MEASURES, strict=True)]
        return select(*dims, *measures).where(*where).group_by(*dims)
    return select(*dims, *(getattr(table, name).label(name) for name in _MEASURES)).where(*where)


async def _grouped(
    session: AsyncSession, filters: UsageFilters, bucket: Bucket | None, sessions: SessionFactory | None
) -> dict[str, dict[Any, list[int]]]:
    """Sums per grouping ("total", "bucket" and TABLE_GROUPS' names) -> per group value -> measures: one
    statement per time part, each grouping its rows six ways (GROUPING SETS), summed here. With `sessions`,
    the parts run at once, each on a connection of its own (the daily part and the hours at the edges take
    about as long as each other at ~1,300 groups an hour)."""
    keys = [*TABLE_GROUPS, *(["bucket"] if bucket is not None else [])]
    statements = []
    pieces = [
        piece for part in time_parts(filters.since, filters.until) for piece in part.split(DAYS_A_PIECE)
    ]
    for part in pieces if sessions is not None else time_parts(filters.since, filters.until):
        where = [*part.window, *await subject_conditions(session, filters, part.table)]
        rows = _part_rows(session, part, bucket, where).subquery("part")
        columns = [rows.c[name] for name in keys]
        statements.append(
            select(
                *columns,
                *(func.coalesce(func.sum(rows.c[name]), 0) for name in _MEASURES),
                func.grouping(*columns),
            ).group_by(func.grouping_sets(tuple_(), *(tuple_(column) for column in columns)))
        )

    async def run(stmt: Any) -> list[Any]:
        if sessions is None:
            await session.execute(text(WORK_MEM))
            return list((await session.execute(stmt)).all())
        async with sessions() as own:
            await own.execute(text(WORK_MEM))
            return list((await own.execute(stmt)).all())

    if sessions is None:
        results = [await run(stmt) for stmt in statements]
    else:
        results = await asyncio.gather(*(run(stmt) for stmt in statements))
    out: dict[str, dict[Any, list[int]]] = {}
    everything = (1 << len(keys)) - 1
    for row in (row for result in results for row in result):
        values = [int(v or 0) for v in row[len(keys) : len(keys) + len(_MEASURES)]]
        mask = int(row[-1])
        if mask == everything:
            grouping, value = "total", "total"
        else:
            # GROUPING's bit is 0 for the column the row is grouped by (the first key is the highest bit).
            position = next(i for i in range(len(keys)) if not mask & (1 << (len(keys) - 1 - i)))
            grouping, value = keys[position], row[position]
        current = out.setdefault(grouping, {}).setdefault(value, [0] * len(_MEASURES))
        for i, number in enumerate(values):
            current[i] += number
    return out


async def _tenant_names(session: AsyncSession, sums: dict[Any, list[int]]) -> dict[Any, str | None]:
    """Tenant id -> its name, or the id as text once the tenant is gone (as aggregate_usage labels them)."""
    ids = [tenant_id for tenant_id in sums if tenant_id is not None]
    names: dict[Any, str | None] = {tenant_id: str(tenant_id) for tenant_id in ids}
    if ids:
        found = await session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(ids)))
        names.update({tenant_id: name for tenant_id, name in found.all()})
    return names


def _fill(
    found: dict[Any, list[int]], since: datetime, until: datetime | None, bucket: Bucket
) -> list[UsageRow]:
    """One row per bucket from `since` to `until` (default now), empty ones as zeros, as usage_timeseries."""
    fmt = _NAME_FORMATS[bucket]
    named = {utc(start).strftime(fmt): values for start, values in found.items()}
    starts = bucket_starts(since, until or datetime.now(UTC), bucket)
    series = [
        usage_row(name, named.pop(name, [0] * len(_MEASURES))) for name in (s.strftime(fmt) for s in starts)
    ]
    # Rows the generated buckets missed (clock skew around `until`): kept rather than hidden.
    series += [usage_row(name, values) for name, values in named.items()]
    return sorted(series, key=lambda r: r.name or "")
