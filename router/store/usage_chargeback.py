"""Grouped usage exports: one row per group (tenant, key, member, model, target, and time buckets) over a
window, read from the rollups (daily for whole days, hourly for whole hours, raw rows only for the partial
hours at the ends, as every report: store/usage_reports.py time_parts), with costs as exact decimals (the
rollups' integer nano-dollars), so the rows add up to the rollups' total to the nano-dollar and print
without float noise. Chargeback is one calendar month of it; the usage page's CSV/JSON downloads and
`router usage export` are the others."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.models import Tenant
from router.store.usage_overview import WORK_MEM
from router.store.usage_records import UsageFilters, subject_conditions
from router.store.usage_reports import time_parts
from router.store.usage_rollups import NANOS_PER_USD, hour_text_expr

CHARGEBACK_GROUPS: tuple[str, ...] = ("tenant", "key", "member", "model", "target")
# A window's exports may also group by time bucket (UTC; "hour" reads hourly rollups, not daily ones).
TIME_GROUPS: tuple[str, ...] = ("day", "hour", "month")
EXPORT_GROUPS: tuple[str, ...] = (*CHARGEBACK_GROUPS, *TIME_GROUPS)
COUNT_COLUMNS: tuple[str, ...] = (
    "requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
)  # fmt: skip
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class ChargebackInputError(ValueError):
    """A month or grouping the export cannot take; the message names what is wrong in one line."""


def parse_month(text: str) -> tuple[datetime, datetime]:
    """ "2025-06" -> [2025-06-01 00:00 UTC, 2025-07-01 00:00 UTC)."""
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        raise ChargebackInputError(f"not a month (YYYY-MM): {text!r}")
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def parse_groups(text: str, choices: Sequence[str] = CHARGEBACK_GROUPS) -> tuple[str, ...]:
    """ "tenant,member,model" -> ("tenant", "member", "model"); unknown or repeated names are refused."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name[:40] for name in names if name not in choices]
    if not names or unknown or len(names) > len(choices):
        shown = ", ".join(repr(n) for n in unknown[:3]) if unknown else "nothing"
        raise ChargebackInputError(f"cannot group by {shown}: use one or more of {','.join(choices)}")
    if len(set(names)) != len(names):
        raise ChargebackInputError(f"a grouping is repeated: {text!r}")
    return names


@dataclass(frozen=True, slots=True)
class ChargebackRow:
    groups: tuple[str | None, ...]
    counts: tuple[int, ...]  # COUNT_COLUMNS' order
    cost_nanousd: int

    @property
    def cost_usd(self) -> str:
        return usd_text(self.cost_nanousd)


def usd_text(nanos: int) -> str:
    """Nano-dollars as an exact decimal with nine places ("0.400000000"), never "0E-9" or float noise."""
    return f"{nanos // NANOS_PER_USD}.{nanos % NANOS_PER_USD:09d}"


async def chargeback(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    by: Sequence[str],
    *,
    tenant_ids: Collection[int] | None = None,
) -> list[ChargebackRow]:
    """One row per group over [start, end) (a month: the daily rollups), by cost then requests, descending.
    `tenant_ids` limits the rows to those tenants (None: all)."""
    return await grouped_usage(session, UsageFilters(start, end), by, tenant_ids=tenant_ids)


async def grouped_usage(
    session: AsyncSession,
    filters: UsageFilters,
    by: Sequence[str],
    *,
    tenant_ids: Collection[int] | None = None,
) -> list[ChargebackRow]:
    """One row per group of `by` (EXPORT_GROUPS' names) over the filters' window, from the rollups. Rows come
    oldest first when grouped by time, then by cost and requests, descending. `tenant_ids` limits the rows
    to those tenants (None: all)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await session.execute(text(WORK_MEM))  # the raw partial hour's grouping hashes in memory
    sums: dict[tuple[str | None, ...], list[int]] = {}
    for part in time_parts(filters.since, filters.until, daily="hour" not in by):
        table = part.table
        columns: dict[str, Any] = {
            "tenant": func.coalesce(Tenant.name, func.cast(table.tenant_id, String)),
            "key": table.key_prefix,
            "member": table.member,
            "model": table.requested_model,
            "target": table.target,
            **{name: hour_text_expr(dialect, part.time, name) for name in TIME_GROUPS},
        }
        where = [*part.window, *await subject_conditions(session, filters, table)]
        if tenant_ids is not None:
            where.append(table.tenant_id.in_(list(tenant_ids)))
        stmt = select(*(columns[name] for name in by), *part.measures(session)).where(*where)
        if "tenant" in by:
            # Grouped by id (the index's column); the name is for display (the id once the tenant is gone).
            stmt = stmt.outerjoin(Tenant, Tenant.id == table.tenant_id).group_by(table.tenant_id, Tenant.name)
        stmt = stmt.group_by(*(columns[name] for name in by if name != "tenant"))
        for row in (await session.execute(stmt)).all():
            key = tuple(None if v is None else str(v) for v in row[: len(by)])
            current = sums.setdefault(key, [0] * (len(COUNT_COLUMNS) + 1))
            for i, value in enumerate(row[len(by) :]):
                current[i] += int(value or 0)
    rows = [
        ChargebackRow(groups=key, counts=tuple(values[:-1]), cost_nanousd=values[-1])
        for key, values in sums.items()
    ]
    times = [i for i, name in enumerate(by) if name in TIME_GROUPS]
    return sorted(
        rows,
        key=lambda r: (
            [r.groups[i] or "" for i in times],
            -r.cost_nanousd,
            -r.counts[0],
            [g or "" for g in r.groups],
        ),
    )


def _cell(value: str | None) -> str:
    text = "" if value is None else value
    # Client-chosen text (the model name) must not become a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def chargeback_csv(rows: Sequence[ChargebackRow], by: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*by, *COUNT_COLUMNS, "cost_usd"])
    for row in rows:
        writer.writerow([*(_cell(g) for g in row.groups), *row.counts, row.cost_usd])
    return buffer.getvalue()


def chargeback_json(rows: Sequence[ChargebackRow], by: Sequence[str], month: str) -> str:
    """Costs as decimal strings (exact); the total is the sum of the rows' nano-dollars."""
    return export_json(rows, by, {"month": month})


def export_json(rows: Sequence[ChargebackRow], by: Sequence[str], about: dict[str, Any]) -> str:
    """`about` (the month, or the window and filters) first, then the rows and their total; costs as exact
    decimal strings."""
    total_nanos = sum(r.cost_nanousd for r in rows)
    body = {
        **about,
        "by": list(by),
        "rows": [
            {
                **dict(zip(by, row.groups, strict=True)),
                **dict(zip(COUNT_COLUMNS, row.counts, strict=True)),
                "cost_usd": row.cost_usd,
            }
            for row in rows
        ],
        "total": {
            **{name: sum(r.counts[i] for r in rows) for i, name in enumerate(COUNT_COLUMNS)},
            "cost_usd": usd_text(total_nanos),
        },
    }
    return json.dumps(body, indent=2)
