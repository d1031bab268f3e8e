"""A tenant's proxy keys: issue (the plaintext shown once), limits and allowed models, revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from router.admin.auth import AdminNotFoundError
from router.admin.controllers.tenants import month_start, tenant_page
from router.admin.deps import actor, tenant_or_404, visible_tenants
from router.admin.forms import Form
from router.admin.messages import sentence
from router.admin.paging import page_count, page_number, pager
from router.admin.reveal import reveal_cookie
from router.admin.web import render, see_other
from router.config.lengths import ALIAS_CHARS, MEMBER_CHARS
from router.store import keys as key_store
from router.store import tenants as tenant_store
from router.store.access import StoreAccess
from router.store.budgets import budget_lines
from router.store.db import StoreError
from router.store.models import ApiKey
from router.store.usage_reports import month_to_date_spend

AnyRequest = Request[Any, Any, Any]


def read_key_limits(form: Form) -> dict[str, Any]:
    models = form.lines("allowed_models", label="Each model pattern")
    return {
        "rpm": form.integer("rpm", label="Requests per minute"),
        "tpm": form.integer("tpm", label="Tokens per minute"),
        "budget_usd": form.decimal("budget_usd", label="Monthly budget"),
        "allowed_models": models or None,
    }


async def key_of_tenant(session: Any, tenant_id: int, key_id: int) -> ApiKey:
    """The key with this id if it belongs to the tenant in the URL (another tenant's id is a 404)."""
    tenant = await tenant_or_404(session, tenant_id)
    for key in await key_store.list_keys(session, tenant.name):
        if key.id == key_id:
            return key
    raise AdminNotFoundError(f"Tenant {tenant.name} has no key with id {key_id}.")


GRACE_CHOICES = {
    "0": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
GRACE_OPTIONS = [("1h", "1 hour"), ("24h", "24 hours"), ("7d", "7 days"), ("0", "none: stop it now")]


async def key_page(
    request: AnyRequest,
    tenant_id: int,
    key_id: int,
    form: dict[str, Any] | None,
    errors: dict[str, str],
    *,
    budget_form: dict[str, Any] | None = None,
    budget_errors: dict[str, str] | None = None,
    status: int = 200,
    store: StoreAccess,
) -> Template:
    async with store.reading() as session:
        key = await key_of_tenant(session, tenant_id, key_id)
        spent, _ = await month_to_date_spend(session, month_start(), key_ids=[key.id], tenant_ids=[])
        # The key's own budgets, and those of its member and its tenant, which hold it too.
        applying = [b for b in key.tenant.budgets if b.subject_kind == "tenant" or b.member == key.member]
        budgets = await budget_lines(
            session, [*key.budgets, *[b for b in applying if b.subject_kind != "key"]]
        )
    if form is None:
        form = {
            "rpm": key.rpm,
            "tpm": key.tpm,
            "budget_usd": key.budget_usd,
            "allowed_models": "\n".join(key.allowed_models or []),
            "expires_at": key.expires_at.strftime("%Y-%m-%dT%H:%M") if key.expires_at else "",
            "alias": key.alias or "",
        }
    return render(
        request,
        "admin/key.html",
        {
            "key": key,
            "tenant": key.tenant,
            "form": form,
            "errors": errors,
            "spent": spent.get(key.id, 0.0),
            "grace_options": GRACE_OPTIONS,
            "expired": key_store.is_expired(key),
            "budgets": budgets,
            "removable": {b.id for b in key.budgets},
            "key_prefixes": {key.id: key.prefix},
            "budget_form": budget_form or {"window": "day"},
            "budget_errors": budget_errors or {},
        },
        status=status,
    )


class KeysController(Controller):
    path = "/admin/tenants/{tenant_id:int}/keys"

    @post("/")
    async def issue(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> Template | Redirect:
        form = Form(await request.form())
        member = form.text("member", required=True, max_len=MEMBER_CHARS, label="Member") or ""
        alias = form.text("alias", max_len=ALIAS_CHARS, label="Alias")
        limits = read_key_limits(form)
        expires = None
        if form.raw("expires"):
            try:
                expires = key_store.parse_duration(form.raw("expires"))
            except ValueError as exc:
                form.error("expires", sentence(exc))
        if form.ok:
            try:
                async with store.mutating() as session:
                    tenant = await tenant_or_404(session, tenant_id)
                    key, plaintext = await key_store.create_key(
                        session, tenant.name, member, expires, **limits, alias=alias, actor=actor(request)
                    )
            except (ValueError, StoreError) as exc:
                form.error("member", sentence(exc))
            else:
                issued = {"key": plaintext, "prefix": key.prefix, "member": key.member}
                # Post/redirect/get: the page shows the key once; reloading it never issues another.
                redirect = see_other(f"/admin/tenants/{tenant_id}", "issued")
                redirect.cookies.append(reveal_cookie(request, tenant_id, issued))
                return redirect
        return await tenant_page(
            request, tenant_id, forms={"key": form.values}, errors={"key": form.errors}, store=store
        )

    @get("/{key_id:int}")
    async def edit(self, request: AnyRequest, tenant_id: int, key_id: int, store: StoreAccess) -> Template:
        return await key_page(request, tenant_id, key_id, None, {}, store=store)

    @post("/{key_id:int}/limits")
    async def set_limits(
        self, request: AnyRequest, tenant_id: int, key_id: int, store: StoreAccess
    ) -> Template | Redirect:
        form = Form(await request.form())
        limits = read_key_limits(form)
        expires_at = form.datetime_local("expires_at", label="Expires at (UTC)")
        alias = form.text("alias", max_len=ALIAS_CHARS, label="Alias")
        if form.ok:
            try:
                async with store.mutating() as session:
                    key = await key_of_tenant(session, tenant_id, key_id)
                    await key_store.set_key_limits(session, key.prefix, **limits, actor=actor(request))
                    await key_store.set_key_expiry(session, key.prefix, expires_at, actor=actor(request))
                    await key_store.set_key_alias(session, key.prefix, alias, actor=actor(request))
                return see_other(f"/admin/tenants/{tenant_id}/keys/{key_id}", "saved")
            except (ValueError, StoreError) as exc:
                form.error("form", sentence(exc))
        return await key_page(request, tenant_id, key_id, form.values, form.errors, status=422, store=store)

    @post("/{key_id:int}/rotate")
    async def rotate(
        self, request: AnyRequest, tenant_id: int, key_id: int, store: StoreAccess
    ) -> Template | Redirect:
        """A new secret with the same settings; the old one keeps working for the grace period chosen."""
        form = Form(await request.form())
        grace = GRACE_CHOICES.get(form.raw("grace"))
        if grace is None:
            form.error("grace", "Choose how long the old key keeps working.")
        else:
            try:
                async with store.mutating() as session:
                    old = await key_of_tenant(session, tenant_id, key_id)
                    key, plaintext = await key_store.rotate_key(
                        session, old.prefix, grace, actor=actor(request)
                    )
            except (ValueError, StoreError) as exc:
                form.error("grace", sentence(exc))
            else:
                issued = {
                    "key": plaintext,
                    "prefix": key.prefix,
                    "member": key.member,
                    "replaces": old.prefix,
                }
                redirect = see_other(f"/admin/tenants/{tenant_id}", "rotated")
                redirect.cookies.append(reveal_cookie(request, tenant_id, issued))
                return redirect
        return await key_page(request, tenant_id, key_id, None, form.errors, status=422, store=store)

    @post("/{key_id:int}/reenable")
    async def reenable(
        self, request: AnyRequest, tenant_id: int, key_id: int, store: StoreAccess
    ) -> Redirect:
        async with store.mutating() as session:
            key = await key_of_tenant(session, tenant_id, key_id)
            await key_store.reenable_key(session, key.prefix, actor=actor(request))
        return see_other(f"/admin/tenants/{tenant_id}/keys/{key_id}", "reenabled")

    @post("/{key_id:int}/revoke")
    async def revoke(self, request: AnyRequest, tenant_id: int, key_id: int, store: StoreAccess) -> Redirect:
        async with store.mutating() as session:
            key = await key_of_tenant(session, tenant_id, key_id)
            await key_store.revoke_key(session, key.prefix, actor=actor(request))
        return see_other(f"/admin/tenants/{tenant_id}", "revoked")


KEY_PAGE_SIZE = 50
KEY_STATUSES = ("active", "revoked", "expired")


class AllKeysController(Controller):
    """Every key the admin may see, across tenants: search by member or prefix, filter, page."""

    path = "/admin/keys"

    @get("/")
    async def all_keys(self, request: AnyRequest, store: StoreAccess) -> Template:
        params = request.query_params
        status = params.get("status") or ""
        filters: dict[str, str] = {
            "q": (params.get("q") or "").strip()[:200],
            "status": status if status in KEY_STATUSES else "",
            "tenant_id": (params.get("tenant_id") or "")[:18],
        }
        page = page_number(params.get("page"))
        async with store.reading() as session:
            tenants = visible_tenants(request, await tenant_store.list_tenants(session))
            visible = {t.id for t in tenants}
            wanted = visible
            if filters["tenant_id"].isdigit() and int(filters["tenant_id"]) in visible:
                wanted = {int(filters["tenant_id"])}
            keys, total = await key_store.search_keys(
                session,
                text=filters["q"] or None,
                status=filters["status"] or None,
                tenant_ids=wanted,
                limit=KEY_PAGE_SIZE,
                offset=(page - 1) * KEY_PAGE_SIZE,
            )
            spent, _ = await month_to_date_spend(
                session, month_start(), key_ids=[k.id for k in keys], tenant_ids=[]
            )
        return render(
            request,
            "admin/keys.html",
            {
                "keys": keys,
                "total": total,
                "page": page,
                "pages": page_count(total, KEY_PAGE_SIZE),
                "pager": pager(
                    "/admin/keys", filters, "page", page, page_count(total, KEY_PAGE_SIZE), "Key pages"
                ),
                "filters": filters,
                "statuses": KEY_STATUSES,
                "tenants": tenants,
                "spent": spent,
                "page_query": urlencode({k: v for k, v in filters.items() if v}),
                "is_expired": key_store.is_expired,
            },
        )
