"""A tenant's proxy keys: issue (the plaintext shown once), limits and allowed models, revoke."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from router.admin.auth import AdminNotFoundError
from router.admin.controllers.tenants import tenant_page
from router.admin.deps import actor, mutating, reading, tenant_or_404
from router.admin.forms import Form
from router.admin.messages import sentence
from router.admin.reveal import reveal_cookie
from router.admin.web import render, see_other
from router.store import keys as key_store
from router.store.db import StoreError
from router.store.models import ApiKey

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


class KeysController(Controller):
    path = "/admin/tenants/{tenant_id:int}/keys"

    @post("/")
    async def issue(self, request: AnyRequest, tenant_id: int) -> Template | Redirect:
        form = Form(await request.form())
        member = form.text("member", required=True, max_len=200, label="Member") or ""
        limits = read_key_limits(form)
        expires = None
        if form.raw("expires"):
            try:
                expires = key_store.parse_duration(form.raw("expires"))
            except ValueError as exc:
                form.error("expires", sentence(exc))
        if form.ok:
            try:
                async with mutating(request) as session:
                    tenant = await tenant_or_404(session, tenant_id)
                    key, plaintext = await key_store.create_key(
                        session, tenant.name, member, expires, **limits, actor=actor(request)
                    )
            except (ValueError, StoreError) as exc:
                form.error("member", sentence(exc))
            else:
                issued = {"key": plaintext, "prefix": key.prefix, "member": key.member}
                # Post/redirect/get: the page shows the key once; reloading it never issues another.
                redirect = see_other(f"/admin/tenants/{tenant_id}", "issued")
                redirect.cookies.append(reveal_cookie(request, tenant_id, issued))
                return redirect
        return await tenant_page(request, tenant_id, forms={"key": form.values}, errors={"key": form.errors})

    @get("/{key_id:int}")
    async def edit(self, request: AnyRequest, tenant_id: int, key_id: int) -> Template:
        async with reading(request) as session:
            key = await key_of_tenant(session, tenant_id, key_id)
        form = {
            "rpm": key.rpm,
            "tpm": key.tpm,
            "budget_usd": key.budget_usd,
            "allowed_models": "\n".join(key.allowed_models or []),
        }
        return render(
            request, "admin/key.html", {"key": key, "tenant": key.tenant, "form": form, "errors": {}}
        )

    @post("/{key_id:int}/limits")
    async def set_limits(self, request: AnyRequest, tenant_id: int, key_id: int) -> Template | Redirect:
        form = Form(await request.form())
        limits = read_key_limits(form)
        if form.ok:
            try:
                async with mutating(request) as session:
                    key = await key_of_tenant(session, tenant_id, key_id)
                    await key_store.set_key_limits(session, key.prefix, **limits, actor=actor(request))
                return see_other(f"/admin/tenants/{tenant_id}", "saved")
            except (ValueError, StoreError) as exc:
                form.error("form", sentence(exc))
        async with reading(request) as session:
            key = await key_of_tenant(session, tenant_id, key_id)
        return render(
            request,
            "admin/key.html",
            {"key": key, "tenant": key.tenant, "form": form.values, "errors": form.errors},
            status=422,
        )

    @post("/{key_id:int}/revoke")
    async def revoke(self, request: AnyRequest, tenant_id: int, key_id: int) -> Redirect:
        async with mutating(request) as session:
            key = await key_of_tenant(session, tenant_id, key_id)
            await key_store.revoke_key(session, key.prefix, actor=actor(request))
        return see_other(f"/admin/tenants/{tenant_id}", "revoked")
