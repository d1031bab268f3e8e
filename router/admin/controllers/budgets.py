"""Budgets on the tenant and key pages: set one (a window and an amount; on the tenant page optionally a
member's), remove one. Errors come back beside their field on the page they were sent from."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.response import Redirect, Template

from router.admin.auth import AdminNotFoundError, RoleForbiddenError
from router.admin.controllers.keys import key_of_tenant, key_page
from router.admin.controllers.tenants import sets_tenant_budgets, tenant_page
from router.admin.deps import actor, tenant_or_404
from router.admin.forms import Form
from router.admin.messages import sentence
from router.admin.web import see_other
from router.config.lengths import MEMBER_CHARS
from router.store import budgets as budget_store
from router.store.access import StoreAccess
from router.store.db import StoreError

AnyRequest = Request[Any, Any, Any]
WINDOWS = ("day", "week", "month")
TENANT_BUDGET_IS_ADMINS = "Only an admin sets the tenant's own budgets; set a member's or a key's here."


def read_budget(form: Form, *, members: bool) -> tuple[str, str | None, float | None]:
    """(member or "", window, amount) as typed, with each problem beside its field."""
    member = (form.text("member", max_len=MEMBER_CHARS, label="Member") or "") if members else ""
    window = form.raw("window")
    if window not in WINDOWS:
        form.error("window", "Choose a window: day, week or month.")
    amount = form.decimal("amount_usd", label="Amount (USD)")
    if amount is None and "amount_usd" not in form.errors:
        form.error("amount_usd", "Amount (USD) is required: a number of dollars, 0 or more.")
    return member, window if window in WINDOWS else None, amount


class BudgetsController(Controller):
    path = "/admin/tenants/{tenant_id:int}"

    @post("/budgets")
    async def set_tenant_budget(
        self, request: AnyRequest, tenant_id: int, store: StoreAccess
    ) -> Template | Redirect:
        form = Form(await request.form())
        member, window, amount = read_budget(form, members=True)
        if not member and not sets_tenant_budgets(request):
            form.error("member", TENANT_BUDGET_IS_ADMINS)
        if form.ok and window is not None:
            try:
                async with store.mutating() as session:
                    tenant = await tenant_or_404(session, tenant_id)
                    if member:
                        await budget_store.set_member_budget(
                            session, tenant.name, member, window, amount, actor=actor(request)
                        )
                    else:
                        await budget_store.set_tenant_budget(
                            session, tenant.name, window, amount, actor=actor(request)
                        )
                return see_other(f"/admin/tenants/{tenant_id}#budgets-title", "saved")
            except (ValueError, StoreError) as exc:
                form.error("amount_usd", sentence(exc))
        return await tenant_page(
            request, tenant_id, forms={"budget": form.values}, errors={"budget": form.errors}, store=store
        )

    @post("/budgets/{budget_id:int}/remove")
    async def remove_tenant_budget(
        self, request: AnyRequest, tenant_id: int, budget_id: int, store: StoreAccess
    ) -> Redirect:
        async with store.mutating() as session:
            tenant = await tenant_or_404(session, tenant_id)
            row = next((b for b in tenant.budgets if b.id == budget_id and b.subject_kind != "key"), None)
            if row is None:
                raise AdminNotFoundError(f"Tenant {tenant.name} has no budget with id {budget_id}.")
            if row.subject_kind == "tenant" and not sets_tenant_budgets(request):
                raise RoleForbiddenError(detail=TENANT_BUDGET_IS_ADMINS)
            if row.subject_kind == "member":
                await budget_store.set_member_budget(
                    session, tenant.name, row.member, row.window, None, actor=actor(request)
                )
            else:
                await budget_store.set_tenant_budget(
                    session, tenant.name, row.window, None, actor=actor(request)
                )
        return see_other(f"/admin/tenants/{tenant_id}#budgets-title", "removed")

    @post("/keys/{key_id:int}/budgets")
    async def set_key_budget(
        self, request: AnyRequest, tenant_id: int, key_id: int, store: StoreAccess
    ) -> Template | Redirect:
        form = Form(await request.form())
        _, window, amount = read_budget(form, members=False)
        if form.ok and window is not None:
            try:
                async with store.mutating() as session:
                    key = await key_of_tenant(session, tenant_id, key_id)
                    await budget_store.set_key_budget(session, key, window, amount, actor=actor(request))
                return see_other(f"/admin/tenants/{tenant_id}/keys/{key_id}#budgets-title", "saved")
            except (ValueError, StoreError) as exc:
                form.error("amount_usd", sentence(exc))
        return await key_page(
            request,
            tenant_id,
            key_id,
            None,
            {},
            budget_form=form.values,
            budget_errors=form.errors,
            status=422,
            store=store,
        )

    @post("/keys/{key_id:int}/budgets/{budget_id:int}/remove")
    async def remove_key_budget(
        self, request: AnyRequest, tenant_id: int, key_id: int, budget_id: int, store: StoreAccess
    ) -> Redirect:
        async with store.mutating() as session:
            key = await key_of_tenant(session, tenant_id, key_id)
            row = next((b for b in key.budgets if b.id == budget_id), None)
            if row is None:
                raise AdminNotFoundError(f"Key {key.prefix} has no budget with id {budget_id}.")
            await budget_store.set_key_budget(session, key, row.window, None, actor=actor(request))
        return see_other(f"/admin/tenants/{tenant_id}/keys/{key_id}#budgets-title", "removed")
