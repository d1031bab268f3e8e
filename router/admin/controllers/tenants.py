"""Tenants: list, create, rename, enable/disable, limits, delete with confirmation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from router.admin.auth import current_principal
from router.admin.deps import actor, tenant_or_404, visible_tenants
from router.admin.drift import config_drift
from router.admin.forms import Form
from router.admin.messages import sentence
from router.admin.paging import page_count, page_number, pager
from router.admin.reveal import take_reveal
from router.admin.web import base_url, form_page, render, see_other
from router.identity.roles import Role
from router.store import keys as key_store
from router.store import member_pages
from router.store import tenants as tenant_store
from router.store.access import StoreAccess
from router.store.budgets import budget_lines
from router.store.db import AlreadyExistsError, StoreError
from router.store.models import Tenant
from router.store.usage_reports import month_to_date_spend

AnyRequest = Request[Any, Any, Any]


def read_limits(form: Form) -> dict[str, Any]:
    return {
        "rpm": form.integer("rpm", label="Requests per minute"),
        "tpm": form.integer("tpm", label="Tokens per minute"),
        "budget_usd": form.decimal("budget_usd", label="Monthly budget"),
    }


def limits_form(tenant: Tenant) -> dict[str, Any]:
    return {
        "rpm": tenant.rpm,
        "tpm": tenant.tpm,
        "budget_usd": tenant.budget_usd,
        "allowed_targets": "\n".join(tenant.allowed_targets or []),
    }


async def tenant_page(
    request: AnyRequest,
    tenant_id: int,
    *,
    forms: dict[str, dict[str, Any]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    store: StoreAccess,
) -> Template:
    issued, cleared = take_reveal(request, tenant_id)
    async with store.reading() as session:
        tenant = await tenant_or_404(session, tenant_id)
        keys = await key_store.list_keys(session, tenant.name)
        key_spend, tenant_spend = await month_to_date_spend(
            session, month_start(), key_ids=[k.id for k in keys], tenant_ids=[tenant.id]
        )
        budgets = await budget_lines(session, tenant.budgets)
        drift = await config_drift(session)
    all_forms: dict[str, dict[str, Any]] = {
        "rename": {"name": tenant.name},
        "limits": limits_form(tenant),
        "key": {},
        "budget": {"window": "day"},
    }
    all_forms.update(forms or {})
    errors = errors or {}
    return render(
        request,
        "admin/tenant.html",
        {
            "tenant": tenant,
            "keys": keys,
            "forms": all_forms,
            "errors": {name: errors.get(name, {}) for name in ("rename", "limits", "key", "budget")},
            "budgets": budgets,
            # A tenant-admin removes members' budgets; the tenant's own are an admin's.
            "removable": {
                b.id
                for b in budgets
                if b.subject_kind == "member" or (b.subject_kind == "tenant" and sets_tenant_budgets(request))
            },
            "key_prefixes": {k.id: k.prefix for k in keys},
            "issued": issued,
            "base_url": base_url(request),
            "key_spend": key_spend,
            "tenant_spend": tenant_spend.get(tenant.id, 0.0),
            "drift": drift,
        },
        status=422 if any(errors.values()) else 200,
        cookies=[cleared] if cleared else None,
    )


def sets_tenant_budgets(request: AnyRequest) -> bool:
    """The tenant's own budgets are global configuration (admins); tenant-admins delegate within them."""
    principal = current_principal(request)
    return principal is not None and principal.role in (Role.OWNER, Role.ADMIN)


def month_start() -> datetime:
    """The start of this calendar month in UTC (budgets are monthly)."""
    return datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


TENANT_PAGE_SIZE = 50


class TenantsController(Controller):
    path = "/admin/tenants"

    async def _list_page(
        self,
        request: AnyRequest,
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        *,
        store: StoreAccess,
    ) -> Template:
        params = request.query_params
        status = params.get("status") or ""
        filters = {
            "q": (params.get("q") or "").strip()[:100],
            "status": status if status in ("enabled", "disabled") else "",
        }
        page = page_number(params.get("page"))
        async with store.reading() as session:
            tenants = visible_tenants(request, await tenant_store.list_tenants(session))
            tenants = [
                t
                for t in tenants
                if filters["q"].lower() in t.name.lower()
                and (not filters["status"] or t.enabled == (filters["status"] == "enabled"))
            ]
            pages = page_count(len(tenants), TENANT_PAGE_SIZE)
            tenants = tenants[(page - 1) * TENANT_PAGE_SIZE : page * TENANT_PAGE_SIZE]
            key_counts = await tenant_store.count_keys_by_tenant(session)
            _, spend = await month_to_date_spend(
                session, month_start(), key_ids=[], tenant_ids=[t.id for t in tenants]
            )
            drift = await config_drift(session)
        return form_page(
            request,
            "admin/tenants.html",
            {
                "tenants": tenants,
                "key_counts": key_counts,
                "spend": spend,
                "filters": filters,
                "page": page,
                "pages": pages,
                "pager": pager("/admin/tenants", filters, "page", page, pages, "Tenant pages"),
                "page_query": urlencode({k: v for k, v in filters.items() if v}),
                "drift": drift,
            },
            form=form or {},
            errors=errors,
        )

    @get("/")
    async def list_tenants(self, request: AnyRequest, store: StoreAccess) -> Template:
        return await self._list_page(request, store=store)

    @post("/")
    async def create_tenant(self, request: AnyRequest, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        name = form.text("name", required=True, label="Name") or ""
        limits = read_limits(form)
        if form.ok:
            try:
                async with store.mutating() as session:
                    tenant = await tenant_store.create_tenant(session, name, **limits, actor=actor(request))
                return see_other(f"/admin/tenants/{tenant.id}", "created")
            except ValueError as exc:
                form.error("name", sentence(exc))
            except AlreadyExistsError as exc:
                form.error("name", sentence(exc))
        return await self._list_page(request, form.values, form.errors, store=store)

    @get("/{tenant_id:int}")
    async def tenant_detail(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> Template:
        return await tenant_page(request, tenant_id, store=store)

    @post("/{tenant_id:int}/rename")
    async def rename(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        new_name = form.text("name", required=True, label="Name") or ""
        if form.ok:
            try:
                async with store.mutating() as session:
                    tenant = await tenant_or_404(session, tenant_id)
                    await tenant_store.rename_tenant(session, tenant.name, new_name, actor=actor(request))
                return see_other(f"/admin/tenants/{tenant_id}", "saved")
            except (ValueError, AlreadyExistsError) as exc:
                form.error("name", sentence(exc))
        return await tenant_page(
            request, tenant_id, forms={"rename": form.values}, errors={"rename": form.errors}, store=store
        )

    @post("/{tenant_id:int}/enabled")
    async def set_enabled(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> Redirect:
        form = Form(await request.form())
        async with store.mutating() as session:
            tenant = await tenant_or_404(session, tenant_id)
            await tenant_store.set_tenant_enabled(
                session, tenant.name, form.checkbox("enabled"), actor=actor(request)
            )
        return see_other(f"/admin/tenants/{tenant_id}", "saved")

    @post("/{tenant_id:int}/self-service")
    async def set_self_service(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> Redirect:
        """Whether members may issue, rotate and revoke their own keys at /me."""
        form = Form(await request.form())
        async with store.mutating() as session:
            tenant = await tenant_or_404(session, tenant_id)
            await member_pages.set_member_self_service(
                session, tenant.name, form.checkbox("allowed"), actor=actor(request)
            )
        return see_other(f"/admin/tenants/{tenant_id}", "saved")

    @post("/{tenant_id:int}/limits")
    async def set_limits(
        self, request: AnyRequest, tenant_id: int, store: StoreAccess
    ) -> Template | Redirect:
        form = Form(await request.form())
        limits = read_limits(form)
        targets = form.lines("allowed_targets", label="Each target")
        if form.ok:
            try:
                async with store.mutating() as session:
                    tenant = await tenant_or_404(session, tenant_id)
                    await tenant_store.set_tenant_limits(
                        session, tenant.name, **limits, allowed_targets=targets or None, actor=actor(request)
                    )
                return see_other(f"/admin/tenants/{tenant_id}", "saved")
            except (ValueError, StoreError) as exc:
                form.error("form", sentence(exc))
        return await tenant_page(
            request, tenant_id, forms={"limits": form.values}, errors={"limits": form.errors}, store=store
        )

    @get("/{tenant_id:int}/delete")
    async def confirm_delete(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> Template:
        async with store.reading() as session:
            tenant = await tenant_or_404(session, tenant_id)
            keys = await key_store.list_keys(session, tenant.name, include_revoked=False)
        return render(
            request, "admin/tenant_delete.html", {"tenant": tenant, "active_keys": len(keys), "errors": {}}
        )

    @post("/{tenant_id:int}/delete")
    async def delete(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        async with store.reading() as session:
            tenant = await tenant_or_404(session, tenant_id)
        if form.raw("confirm_name") != tenant.name:
            return render(
                request,
                "admin/tenant_delete.html",
                {
                    "tenant": tenant,
                    "active_keys": None,
                    "errors": {"confirm_name": "Type the tenant's name exactly."},
                },
                status=422,
            )
        async with store.mutating() as session:
            await tenant_store.delete_tenant(session, tenant.name, actor=actor(request))
        return see_other("/admin/tenants", "deleted")
