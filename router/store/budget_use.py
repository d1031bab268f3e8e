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
    """Each budget of an enabled tenant (and of its keys not revoked) with the spend since its window's
    start (`window_start` maps "day", "week", "month" to the current starts). `tenants`: only these."""
    tenant_rows = (await session.execute(select(Tenant.id, Tenant.name, Tenant.budget_usd))).all()
    names = {tid: name for tid, name, _ in tenant_rows if tenants is None or name in tenants}
    key_rows = (
        await session.execute(
            select(ApiKey.id, ApiKey.tenant_id, ApiKey.prefix, ApiKey.member, ApiKey.budget_usd).where(
                ApiKey.budget_usd.is_not(None), ApiKey.revoked_at.is_(None)
            )
        )
    ).all()
    # Today every budget is a month budget (one per tenant or key).
    start = window_start["month"]
    wanted_tenants = {tid: amount for tid, _, amount in tenant_rows if tid in names and amount is not None}
    wanted_keys = {
        kid: (tid, prefix, member, amount) for kid, tid, prefix, member, amount in key_rows if tid in names
    }
    if not wanted_tenants and not wanted_keys:
        return []
    by_key, by_tenant = await month_to_date_spend(
        session, start, key_ids=list(wanted_keys), tenant_ids=list(wanted_tenants)
    )
    out: list[BudgetUse] = []
    for tid, amount in sorted(wanted_tenants.items()):
        out.append(
            BudgetUse("tenant", names[tid], "", "month", start, float(amount), by_tenant.get(tid, 0.0))
        )
    grouped: dict[int, list[BudgetUse]] = defaultdict(list)
    for kid, (tid, prefix, member, key_amount) in sorted(wanted_keys.items()):
        spent = by_key.get(kid, 0.0)
        grouped[tid].append(
            BudgetUse("key", names[tid], prefix, "month", start, float(key_amount or 0.0), spent, member)
        )
    for tid in sorted(grouped):
        out.extend(grouped[tid])
    return out
