"""Usage reports: the limiter's month-to-date spend, aggregates and time series for the CLI and the admin
page, from the hourly rollups for whole hours and raw rows for the rest. The records themselves (list,
detail, CSV) are read in usage_records.py; writes are in usage_writes.py.

Tenant safety: each read takes its filters explicitly; deciding who may see which tenant is the caller's job.
Datetimes are UTC throughout (naive ones are taken as UTC): SQLite stores wall-clock strings, so a non-UTC
value would compare wrongly there.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.models import Tenant
from router.store.usage_models import UsageDaily, UsageHourly, UsageRecord
from router.store.usage_records import UsageFilters, subject_conditions
from router.store.usage_rollups import NANOS_PER_USD, hour_of, hour_text_expr, raw_measures
from router.store.usage_writes import utc

GroupBy = Literal["model", "key", "target", "tenant", "day", "hour", "month"]
Bucket = Literal["hour", "day", "month"]
GROUP_BY_CHOICES: tuple[str, ...] = ("model", "key", "target", "tenant", "day", "hour", "month")

# Outcomes counted as errors in aggregates: failures and refusals; a client hanging up is not our error.
ERROR_OUTCOMES = ("error", "rejected")

UR = UsageRecord
UH = UsageHourly
UD = UsageDaily

# ------------------------------------------------------------------------------------------- budgets


async def member_spend(session: AsyncSession, key_id: int, now: datetime) -> tuple[float, float, float]:
    """USD one key spent this UTC month, today, and this week (from Monday), for its own usage report."""
    today = utc(now).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = (today.replace(day=1), today, today - timedelta(days=today.weekday()))
    month, day, week = [
        (await month_to_date_spend(session, start, key_ids=[key_id], tenant_ids=()))[0].get(key_id, 0.0)
        for start in starts
    ]
    return month, day, week


async def month_to_date_spend(
    session: AsyncSession,
    month_start: datetime,
    *,
    key_ids: Collection[int] | None = None,
    tenant_ids: Collection[int] | None = None,
) -> tuple[dict[int, float], dict[int, float]]:
    """USD spent since `month_start`, per key id and per tenant id (None: all; an empty collection: none).

    Read from the hourly rollups (raw rows only for a start inside an hour)."""
    since = utc(month_start)
    by_key: dict[int, float] = {}
    by_tenant: dict[int, float] = {}
    for column, ids, out in (("key_id", key_ids, by_key), ("tenant_id", tenant_ids, by_tenant)):
        if ids is not None and not ids:
            continue
        nanos: dict[int, int] = {}
        for part in time_parts(since, None):
            subject = getattr(part.table, column)
            cost = part.measures(session)[6]
            stmt = select(subject, cost).where(*part.window, subject.is_not(None)).group_by(subject)
            if ids is not None:
                stmt = stmt.where(subject.in_(list(ids)))
            for subject_id, total in (await session.execute(stmt)).all():
                if subject_id is not None:
                    nanos[int(subject_id)] = nanos.get(int(subject_id), 0) + int(total or 0)
        out.update({subject_id: total / NANOS_PER_USD for subject_id, total in nanos.items()})
    return by_key, by_tenant


async def spend_since(
    session: AsyncSession, since: datetime, spenders: Collection[tuple[str, int, str]]
) -> dict[tuple[str, int, str], float]:
    """USD spent since `since` (a budget window's start) by each spender: ("key", key id, ""), ("tenant",
    tenant id, ""), ("member", tenant id, member name) - a member's keys in that tenant together. Read from
    the hourly rollups (raw rows only for a start inside an hour); one query per kind asked for."""
    wanted = set(spenders)
    key_ids = {i for kind, i, _ in wanted if kind == "key"}
    tenant_ids = {i for kind, i, _ in wanted if kind == "tenant"}
    member_tenants = {i for kind, i, _ in wanted if kind == "member"}
    nanos: dict[tuple[str, int, str], int] = {}
    for kind, ids in (("key", key_ids), ("tenant", tenant_ids), ("member", member_tenants)):
        if not ids:
            continue
        for part in time_parts(utc(since), None):
            cost = part.measures(session)[6]
            if kind == "member":
                dims: list[Any] = [part.table.tenant_id, part.table.member]
                members = sorted({m for k, _, m in wanted if k == "member"})
                where = [part.table.tenant_id.in_(sorted(ids)), part.table.member.in_(members)]
            else:
                dims = [part.table.key_id if kind == "key" else part.table.tenant_id]
                where = [dims[0].in_(sorted(ids))]
            stmt = select(*dims, cost).where(*part.window, *where).group_by(*dims)
            for row in (await session.execute(stmt)).all():
                spender = (kind, int(row[0]), row[1] if kind == "member" else "")
                if spender in wanted:
                    nanos[spender] = nanos.get(spender, 0) + int(row[-1] or 0)
    return {spender: total / NANOS_PER_USD for spender, total in nanos.items()}


# ------------------------------------------------------------------------------------ rollups or raw


@dataclass(frozen=True, slots=True)
class TimePart:
    """One piece of a time range and the table that answers it: whole days from the daily rollups, whole
    hours from the hourly ones, the partial hours at either end from the raw rows (indexed by time, at most
    an hour each)."""

    table: Any  # UsageRecord, UsageHourly or UsageDaily (same dimension columns)
    window: tuple[ColumnElement[bool], ...]
    # A daily part's first day and the day after its last (None: open, today's row so far included).
    days: tuple[datetime, datetime | None] | None = None

    def split(self, span_days: int) -> list[TimePart]:
        """A daily part as consecutive pieces of about `span_days` days (the last one keeps an open end),
        to be read at once; any other part as it is."""
        if self.days is None:
            return [self]
        first, end = self.days
        last = (
            end if end is not None else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        )
        count = max(1, min(8, -(-((last - first).days) // span_days)))
        step = max(1, -(-((last - first).days) // count))
        starts = [
            first + timedelta(days=step * i) for i in range(count) if first + timedelta(days=step * i) < last
        ]
        starts = starts or [first]
        bounds = [*starts[1:], end]
        return [
            TimePart(UD, (UD.day >= a,) if b is None else (UD.day >= a, UD.day < b), (a, b))
            for a, b in zip(starts, bounds, strict=True)
        ]

    @property
    def raw(self) -> bool:
        return self.table is UR

    @property
    def time(self) -> Any:
        return UR.created_at if self.raw else UH.hour if self.table is UH else UD.day

    def measures(self, session: AsyncSession) -> list[ColumnElement[Any]]:
        """requests, errors, four token kinds, cost in nano-USD (as in MEASURES' order, without latency)."""
        if self.raw:
            return raw_measures(session.get_bind().dialect.name)[:7]
        return [
            func.coalesce(func.sum(getattr(self.table, name)), 0)
            for name in ("requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
                         "cache_write_tokens", "cost_nanousd")
        ]  # fmt: skip


def _ceil_hour(value: datetime) -> datetime:
    floor = hour_of(value)
    return floor if floor == value else floor + timedelta(hours=1)


def _ceil_day(value: datetime) -> datetime:
    floor = value.replace(hour=0, minute=0, second=0, microsecond=0)
    return floor if floor == value else floor + timedelta(days=1)


def time_parts(since: datetime, until: datetime | None, *, daily: bool = True) -> list[TimePart]:
    """The pieces of [since, until) (until: open, i.e. up to now): raw rows for the partial hours at either
    end, hourly rollups for the whole hours, and (with `daily`) daily rollups for the whole days between."""
    start = utc(since)
    end = utc(until) if until is not None else None
    first = _ceil_hour(start)
    last = hour_of(end) if end is not None else None
    if last is not None and first >= last:
        return [TimePart(UR, (UR.created_at >= start, UR.created_at < end))]
    parts: list[TimePart] = []
    if start < first:
        parts.append(TimePart(UR, (UR.created_at >= start, UR.created_at < first)))
    day_first = _ceil_day(first)
    day_last = last.replace(hour=0) if last is not None else None
    if not daily or (day_last is not None and day_first >= day_last):
        window = (UH.hour >= first,) if last is None else (UH.hour >= first, UH.hour < last)
        parts.append(TimePart(UH, window))
    else:
        if first < day_first:
            parts.append(TimePart(UH, (UH.hour >= first, UH.hour < day_first)))
        if day_last is None:
            # Open-ended: today's daily row holds today so far.
            parts.append(TimePart(UD, (UD.day >= day_first,), (day_first, None)))
        else:
            parts.append(TimePart(UD, (UD.day >= day_first, UD.day < day_last), (day_first, day_last)))
            if last is not None and day_last < last:
                parts.append(TimePart(UH, (UH.hour >= day_last, UH.hour < last)))
    if end is not None and last is not None and last < end:
        parts.append(TimePart(UR, (UR.created_at >= last, UR.created_at < end)))
    return parts


# -------------------------------------------------------------------------------------------- reads


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One group of an aggregate (or one bucket of a time series). `name` is None for rows without one
    (e.g. rejected requests have no target)."""

    name: str | None
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    # The same cost exact (nano-dollars), for exports: the float above is for display.
    cost_nanousd: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requests": self.requests,
            "errors": self.errors,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost_usd,
        }


async def resolve_tenant_id(session: AsyncSession, ref: str) -> int | None:
    """A tenant id from its name or its id as text (None when no such tenant)."""
    tenant_id = await session.scalar(select(Tenant.id).where(Tenant.name == ref))
    if tenant_id is None and ref.isdigit():
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.id == int(ref)))
    return tenant_id


def usage_row(name: Any, values: Sequence[Any]) -> UsageRow:
    """A row from its name and the seven sums (MEASURES' order up to cost, in nano-dollars)."""
    requests, errors, inp, out, cread, cwrite, nanos = values
    return UsageRow(
        name=None if name is None else str(name),
        requests=int(requests),
        errors=int(errors),
        input_tokens=int(inp),
        output_tokens=int(out),
        cache_read_tokens=int(cread),
        cache_write_tokens=int(cwrite),
        cost_usd=int(nanos) / NANOS_PER_USD,
        cost_nanousd=int(nanos),
    )


async def aggregate_usage(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime | None = None,
    tenant_id: int | None = None,
    key_prefix: str | None = None,
    model: str | None = None,
    target: str | None = None,
    group_by: GroupBy | None = None,
) -> list[UsageRow]:
    """Totals per group; without `group_by`, one row named "total". Whole hours come from the hourly rollups,
    the partial hours at either end from raw rows; the pieces are summed here.

    Time groups come oldest first; other groups by cost, then requests, descending.
    """
    filters = UsageFilters(since, until, tenant_id, key_prefix, model, target)
    dialect = session.get_bind().dialect.name
    sums: dict[str | None, list[int]] = {}
    if group_by is None:
        sums["total"] = [0] * 7
    # An hourly grouping needs hours: the daily rollups cannot answer it.
    for part in time_parts(since, until, daily=group_by != "hour"):
        table = part.table
        where = [*part.window, *await subject_conditions(session, filters, table)]
        measures = part.measures(session)
        stmt: Any
        if group_by is None:
            stmt = select(literal("total"), *measures).where(*where)
        elif group_by == "tenant":
            # Grouped by id (the index's column); the name is for display (the id once the tenant is gone).
            label = func.coalesce(Tenant.name, func.cast(table.tenant_id, String))
            stmt = (
                select(label, *measures)
                .outerjoin(Tenant, Tenant.id == table.tenant_id)
                .where(*where)
                .group_by(table.tenant_id, Tenant.name)
            )
        else:
            column: ColumnElement[Any]
            if group_by in ("day", "hour", "month"):
                column = hour_text_expr(dialect, part.time, group_by)
            else:
                column = {"model": table.requested_model, "key": table.key_prefix, "target": table.target}[
                    group_by
                ]
            stmt = select(column, *measures).where(*where).group_by(column)
        for name, *values in (await session.execute(stmt)).all():
            key = None if name is None else str(name)
            current = sums.setdefault(key, [0] * 7)
            for i, value in enumerate(values):
                current[i] += int(value or 0)
    rows = [usage_row(name, values) for name, values in sums.items()]
    if group_by is None:
        return rows
    if group_by in ("day", "hour", "month"):
        return sorted(rows, key=lambda r: r.name or "")
    return sorted(rows, key=lambda r: (-r.cost_usd, -r.requests, r.name or ""))


def bucket_starts(since: datetime, until: datetime, bucket: Bucket) -> list[datetime]:
    """Every bucket start from the one holding `since` up to (excluding) `until`, in UTC."""
    start = utc(since).replace(minute=0, second=0, microsecond=0)
    if bucket != "hour":
        start = start.replace(hour=0)
    if bucket == "month":
        start = start.replace(day=1)
    end = utc(until)
    out: list[datetime] = []
    while start < end:
        out.append(start)
        if bucket == "hour":
            start += timedelta(hours=1)
        elif bucket == "day":
            start += timedelta(days=1)
        else:
            start = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return out


_PY_FORMATS = {"hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}


async def usage_timeseries(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime | None = None,
    bucket: Bucket = "day",
    tenant_id: int | None = None,
    key_prefix: str | None = None,
    model: str | None = None,
    target: str | None = None,
) -> list[UsageRow]:
    """One row per bucket from `since` to `until` (default: now), oldest first, empty buckets as zeros."""
    end = utc(until) if until is not None else datetime.now(UTC)
    found: dict[str | None, UsageRow] = {
        row.name: row
        for row in await aggregate_usage(
            session,
            since=since,
            until=until,
            tenant_id=tenant_id,
            key_prefix=key_prefix,
            model=model,
            target=target,
            group_by=bucket,
        )
    }
    series: list[UsageRow] = []
    for start in bucket_starts(since, end, bucket):
        name = start.strftime(_PY_FORMATS[bucket])
        row = found.pop(name, None)
        series.append(row if row is not None else UsageRow(name, 0, 0, 0, 0, 0, 0, 0.0, 0))
    # Rows the generated buckets missed (clock skew around `until`): keep them rather than hide usage.
    return sorted([*series, *found.values()], key=lambda r: r.name or "")
