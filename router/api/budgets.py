"""/api/v1/tenants/{id}/budgets: every budget in a tenant (its own, its members', its keys') with the spend
of its current UTC window, and setting or removing one. The same store service as the pages and the CLI."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, put

from router.api.auth import api_principal
from router.api.deps import actor, tenant_or_404
from router.api.errors import NO_SUCH, ApiError
from router.api.schemas import BudgetIn, BudgetOut
from router.identity.roles import Role
from router.store import budgets as budget_store
from router.store.access import StoreAccess
from router.store.models import ApiKey, Tenant

AnyRequest = Request[Any, Any, Any]


async def _budgets_out(session: Any, tenant: Tenant) -> list[BudgetOut]:
    prefixes = {k.id: k.prefix for k in tenant.keys}
    return [
        BudgetOut(
            id=b.id,
            subject=b.subject_kind,
            member=b.member or None,
            key_id=b.key_id,
            key_prefix=prefixes.get(b.key_id) if b.key_id is not None else None,
            window=b.window,
            amount_usd=b.amount_usd,
            spent_usd=round(b.spent_usd, 6),
            remaining_usd=round(b.remaining_usd, 6),
            resets_at=b.resets_at,
        )
        for b in await budget_store.budget_lines(session, tenant.budgets)
    ]


async def _tenant_with_keys(session: Any, tenant_id: int) -> Tenant:
    tenant = await tenant_or_404(session, tenant_id)
    await session.refresh(tenant, ["keys", "budgets"])
    return tenant


class BudgetsApi(Controller):
    path = "/tenants/{tenant_id:int}/budgets"
    tags = ["budgets"]

    @get("/")
    async def list_budgets(self, tenant_id: int, store: StoreAccess) -> list[BudgetOut]:
        async with store.reading() as session:
            return await _budgets_out(session, await _tenant_with_keys(session, tenant_id))

    @put("/")
    async def set_budget(
        self, request: AnyRequest, tenant_id: int, data: BudgetIn, store: StoreAccess
    ) -> list[BudgetOut]:
        """Set the budget of a window (`amount_usd` null removes it) of the tenant, of a member (`member`)
        or of a key (`key_id`); answers every budget of the tenant."""
        if data.member is not None and data.key_id is not None:
            raise ApiError(422, "give member or key_id, not both", field="member")
        async with store.mutating() as session:
            tenant = await tenant_or_404(session, tenant_id)
            if data.key_id is not None:
                key = await session.get(ApiKey, data.key_id)
                if key is None or key.tenant_id != tenant.id:
                    raise ApiError(404, NO_SUCH)
                await budget_store.set_key_budget(
                    session, key, data.window, data.amount_usd, actor=actor(request)
                )
            elif data.member is not None:
                await budget_store.set_member_budget(
                    session, tenant.name, data.member, data.window, data.amount_usd, actor=actor(request)
                )
            else:
                if api_principal(request).role not in (Role.OWNER, Role.ADMIN):
                    raise ApiError(403, "only an admin sets the tenant's own budgets; give member or key_id")
                await budget_store.set_tenant_budget(
                    session, tenant.name, data.window, data.amount_usd, actor=actor(request)
                )
        async with store.reading() as session:
            return await _budgets_out(session, await _tenant_with_keys(session, tenant_id))
