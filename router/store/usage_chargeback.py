"""Chargeback: one calendar month's usage per group (tenant, key, member, model, target), from the daily
rollups, with costs as exact decimals (the rollups' integer nano-dollars), so the rows add up to the
rollups' total to the nano-dollar and print without float noise."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.models import Tenant
from router.store.usage_models import UsageDaily, UsageHourly
from router.store.usage_rollups import NANOS_PER_USD

CHARGEBACK_GROUPS: tuple[str, ...] = ("tenant", "key", "member", "model", "target")
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


def parse_groups(text: str) -> tuple[str, ...]:
    """ "tenant,member,model" -> ("tenant", "member", "model"); unknown or repeated names are refused."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in CHARGEBACK_GROUPS]
    if not names or unknown:
        shown = ", ".join(repr(n) for n in unknown) if unknown else "nothing"
        raise ChargebackInputError(
            f"cannot group by {shown}: use one or more of {','.join(CHARGEBACK_GROUPS)}"
        )
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
    """One row per group over [start, end) (whole hours; whole days, as a month is, read the daily
    rollups), by cost then requests, descending. `tenant_ids` limits the rows to those tenants (None: all)."""
    whole_days = all(t == t.replace(hour=0, minute=0, second=0, microsecond=0) for t in (start, end))
    table: Any = UsageDaily if whole_days else UsageHourly
    time = table.day if whole_days else table.hour
    columns: dict[str, Any] = {
        "tenant": func.coalesce(Tenant.name, func.cast(table.tenant_id, String)),
        "key": table.key_prefix,
        "member": table.member,
        "model": table.requested_model,
        "target": table.target,
    }
    picked = [columns[name] for name in by]
    measures = [func.sum(getattr(table, name)) for name in (*COUNT_COLUMNS, "cost_nanousd")]
    stmt = select(*picked, *measures).where(time >= start, time < end)
    if "tenant" in by:
        stmt = stmt.outerjoin(Tenant, Tenant.id == table.tenant_id).group_by(table.tenant_id, Tenant.name)
    stmt = stmt.group_by(*(columns[name] for name in by if name != "tenant"))
    if tenant_ids is not None:
        stmt = stmt.where(table.tenant_id.in_(list(tenant_ids)))
    rows = [
        ChargebackRow(
            groups=tuple(None if v is None else str(v) for v in row[: len(by)]),
            counts=tuple(int(v or 0) for v in row[len(by) : len(by) + len(COUNT_COLUMNS)]),
            cost_nanousd=int(row[-1] or 0),
        )
        for row in (await session.execute(stmt)).all()
    ]
    return sorted(rows, key=lambda r: (-r.cost_nanousd, -r.counts[0], [g or "" for g in r.groups]))


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
    total_nanos = sum(r.cost_nanousd for r in rows)
    body = {
        "month": month,
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
