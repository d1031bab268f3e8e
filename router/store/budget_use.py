"""Every budget and what its subject has spent in the budget's current window: what budget alerts read.

Read off the request path (the alert evaluator, every minute or so) from the hourly rollups, in one grouped
scan per window (by tenant, key and member at once: a tenant's, a member's and a key's spend all come out
of the same rows), plus the raw rows of the current partial hour (store/usage_reports.py: time_parts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.budgets import WINDOW_ORDER
from router.store.models import ApiKey, Budget, Tenant
from router.store.usage_reports import time_parts
from router.store.usage_rollups import NANOS_PER_USD

__all__ = ["BudgetUse", "budget_uses"]

_KIND_ORDER = {"tenant": 0, "member": 1, "key": 2}


@dataclass(frozen=True, slots=True)
class BudgetUse:
    kind: str  # "tenant", "member" or "key"
    tenant: str
    # The key's visible prefix (kind "key"), the member's name (kind "member"), else "".
    ident: str
    window: str  # "day", "week" or "month"
    window_start: datetime
    amount_usd: float
    spent_usd: float
    # A key's member (kind "key").
    member: str | None = None


@dataclass(frozen=True, slots=True)
class _Budget:
    kind: str
    tenant_id: int
    key_id: int | None
    member: str  # the member (kind "member"), a key's member (kind "key"), else ""
    prefix: str
    window: str
    amount_usd: float


@dataclass
class _Spend:
    """Nano-USD since one window start, by tenant, by key and by (tenant, member)."""

    tenant: dict[int, int]
    key: dict[int, int]
    member: dict[tuple[int, str], int]

    def of(self, budget: _Budget) -> float:
        if budget.kind == "tenant":
            nanos = self.tenant.get(budget.tenant_id, 0)
        elif budget.kind == "key":
            nanos = self.key.get(budget.key_id or 0, 0)
        else:
            nanos = self.member.get((budget.tenant_id, budget.member), 0)
        return nanos / NANOS_PER_USD


async def _spend_since(session: AsyncSession, since: datetime, tenant_ids: Iterable[int] | None) -> _Spend:
    spend = _Spend({}, {}, {})
    for part in time_parts(since, None):
        table = part.table
        cost = part.measures(session)[6]
        stmt = (
            select(table.tenant_id, table.key_id, table.member, cost)
            .where(*part.window, table.tenant_id.is_not(None))
            .group_by(table.tenant_id, table.key_id, table.member)
        )
        if tenant_ids is not None:
            stmt = stmt.where(table.tenant_id.in_(list(tenant_ids)))
        for tenant_id, key_id, member, total in (await session.execute(stmt)).all():
            nanos = int(total or 0)
            spend.tenant[tenant_id] = spend.tenant.get(tenant_id, 0) + nanos
            if key_id is not None:
                spend.key[key_id] = spend.key.get(key_id, 0) + nanos
            if member:
                spend.member[(tenant_id, member)] = spend.member.get((tenant_id, member), 0) + nanos
    return spend


async def _budgets(session: AsyncSession, tenants: list[Tenant]) -> list[_Budget]:
    """The budgets (store/budgets.py) of these tenants, their members and their keys not revoked: each
    tenant's own, then its members', then its keys' (oldest first), each subject's by window."""
    ids = [t.id for t in tenants]
    if not ids:
        return []
    rows = (
        await session.execute(
            select(Budget, ApiKey.prefix, ApiKey.member)
            .outerjoin(ApiKey, Budget.key_id == ApiKey.id)
            .where(Budget.tenant_id.in_(ids), Budget.key_id.is_(None) | ApiKey.revoked_at.is_(None))
        )
    ).all()
    out = [
        _Budget(
            b.subject_kind,
            b.tenant_id,
            b.key_id,
            (key_member or "") if b.subject_kind == "key" else b.member,
            prefix or "",
            b.window,
            float(b.amount_usd),
        )
        for b, prefix, key_member in rows
    ]
    order = {t.id: i for i, t in enumerate(tenants)}
    return sorted(
        out,
        key=lambda b: (
            order[b.tenant_id],
            _KIND_ORDER[b.kind],
            b.key_id or 0,
            b.member if b.kind == "member" else "",
            WINDOW_ORDER[b.window],
        ),
    )


async def budget_uses(
    session: AsyncSession, window_start: dict[str, datetime], tenants: set[str] | None = None
) -> list[BudgetUse]:
    """Each budget (of the tenants named in `tenants`, else of all) with its subject's spend since its
    window's start; `window_start` maps "day", "week" and "month" to the current starts."""
    query = select(Tenant).order_by(Tenant.name)
    if tenants is not None:
        query = query.where(Tenant.name.in_(sorted(tenants)))
    rows = list((await session.scalars(query)).all())
    names = {t.id: t.name for t in rows}
    budgets = await _budgets(session, rows)
    spend: dict[str, _Spend] = {}
    for window in sorted({b.window for b in budgets}):
        spend[window] = await _spend_since(
            session, window_start[window], names if tenants is not None else None
        )
    return [
        BudgetUse(
            b.kind,
            names[b.tenant_id],
            b.prefix if b.kind == "key" else b.member,
            b.window,
            window_start[b.window],
            b.amount_usd,
            spend[b.window].of(b),
            b.member if b.kind == "key" else None,
        )
        for b in budgets
    ]
