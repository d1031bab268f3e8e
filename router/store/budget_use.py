"""Every budget and what its subject has spent in the budget's current window: what budget alerts read.

Read off the request path (the alert evaluator, every minute or so), from the hourly rollups
(store/usage_reports.py), one grouped query per window start and subject kind.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.models import ApiKey, Tenant
from router.store.usage_reports import month_to_date_spend

__all__ = ["BudgetUse", "budget_uses"]


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
    member: str | None = None


async def budget_uses(
    session: AsyncSession, window_start: dict[str, datetime], tenants: set[str] | None = None
) -> list[BudgetUse]:
    """Each budget of a tenant (and of its keys not revoked) with the spend since its window's start
    (`window_start` maps "day", "week", "month" to the current starts). `tenants`: only these."""
    query = select(Tenant).order_by(Tenant.name)
    if tenants is not None:
        query = query.where(Tenant.name.in_(sorted(tenants)))
    tenant_rows = list((await session.scalars(query)).all())
    names = {t.id: t.name for t in tenant_rows}
    keys = []
    if names:
        key_query = (
            select(ApiKey)
            .where(ApiKey.revoked_at.is_(None), ApiKey.tenant_id.in_(list(names)))
            .order_by(ApiKey.id)
        )
        keys = list((await session.scalars(key_query)).all())
    # Month budgets: the one window tenants and keys have here.
    start = window_start["month"]
    wanted_tenants = {t.id: t.budget_usd for t in tenant_rows if t.budget_usd is not None}
    wanted_keys = {k.id: k for k in keys if k.budget_usd is not None}
    if not wanted_tenants and not wanted_keys:
        return []
    by_key, by_tenant = await month_to_date_spend(
        session, start, key_ids=list(wanted_keys), tenant_ids=list(wanted_tenants)
    )
    out = [
        BudgetUse("tenant", names[tid], "", "month", start, float(amount or 0.0), by_tenant.get(tid, 0.0))
        for tid, amount in wanted_tenants.items()
    ]
    grouped: dict[int, list[BudgetUse]] = defaultdict(list)
    for kid, key in wanted_keys.items():
        amount = float(key.budget_usd or 0.0)
        spent = by_key.get(kid, 0.0)
        grouped[key.tenant_id].append(
            BudgetUse("key", names[key.tenant_id], key.prefix, "month", start, amount, spent, key.member)
        )
    for tid in sorted(grouped, key=lambda i: names[i]):
        out.extend(grouped[tid])
    return out
