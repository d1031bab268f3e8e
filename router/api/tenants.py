"""/api/v1/tenants and their keys and rules: the same store services as the admin pages."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post

from router.api.auth import api_principal
from router.api.deps import actor, tenant_or_404
from router.api.errors import NO_SUCH, ApiError
from router.api.schemas import (
    IssuedKey,
    KeyIn,
    KeyOut,
    KeyPatch,
    RuleIn,
    RuleOut,
    TenantIn,
    TenantOut,
    TenantPatch,
    out,
)
from router.store import catalog, member_pages
from router.store import keys as key_store
from router.store import tenants as tenant_store
from router.store.access import StoreAccess
from router.store.budgets import own_budgets
from router.store.models import ApiKey, Rule, Tenant

AnyRequest = Request[Any, Any, Any]


def tenant_out(t: Tenant) -> TenantOut:
    return out(TenantOut, t, budgets=own_budgets(t.budgets, "tenant"))


def key_out(k: ApiKey) -> KeyOut:
    return out(KeyOut, k, revoked=k.revoked_at is not None, budgets=own_budgets(k.budgets, "key"))


def rule_out(r: Rule) -> RuleOut:
    return out(
        RuleOut,
        r,
        when=dict(r.conditions or {}),
        chain=r.chain.name if r.chain is not None else None,
        overrides=dict(r.overrides or {}),
    )


def _set(model: Any) -> dict[str, Any]:
    """Only the fields the caller sent: the others stay as they are (`...` to the store)."""
    return {name: getattr(model, name) for name in model.model_fields_set}


async def _key_of(session: Any, tenant: Tenant, key_id: int) -> ApiKey:
    key: ApiKey | None = await session.get(ApiKey, key_id)
    if key is None or key.tenant_id != tenant.id:
        raise ApiError(404, NO_SUCH)
    return key


async def create_rule(
    request: AnyRequest, tenant_id: int | None, data: RuleIn, store: StoreAccess
) -> RuleOut:
    async with store.mutating() as session:
        if tenant_id is not None:
            await tenant_or_404(session, tenant_id)
        rule = await catalog.create_rule(session, data.draft(), tenant_id=tenant_id, actor=actor(request))
        rule = await catalog.get_rule(session, rule.id)
        return rule_out(rule)


async def delete_rule(request: AnyRequest, tenant_id: int | None, rule_id: int, store: StoreAccess) -> None:
    async with store.mutating() as session:
        rule = await session.get(Rule, rule_id)
        if rule is None or rule.tenant_id != tenant_id:
            raise ApiError(404, NO_SUCH)
        await catalog.delete_rule(session, rule_id, actor=actor(request))


class TenantsApi(Controller):
    path = "/tenants"
    tags = ["tenants"]

    @get("/")
    async def list_tenants(self, request: AnyRequest, store: StoreAccess) -> list[TenantOut]:
        principal = api_principal(request)
        async with store.reading() as session:
            tenants = await tenant_store.list_tenants(session)
        return [tenant_out(t) for t in tenants if principal.sees_tenant(t.id)]

    @post("/")
    async def create_tenant(self, request: AnyRequest, data: TenantIn, store: StoreAccess) -> TenantOut:
        async with store.mutating() as session:
            tenant = await tenant_store.create_tenant(
                session,
                data.name,
                rpm=data.rpm,
                tpm=data.tpm,
                budget_usd=data.budget_usd,
                allowed_targets=data.allowed_targets,
                actor=actor(request),
            )
            return tenant_out(tenant)

    @get("/{tenant_id:int}")
    async def get_tenant(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> TenantOut:
        async with store.reading() as session:
            return tenant_out(await tenant_or_404(session, tenant_id))

    @patch("/{tenant_id:int}")
    async def update_tenant(
        self, request: AnyRequest, tenant_id: int, data: TenantPatch, store: StoreAccess
    ) -> TenantOut:
        changes = _set(data)
        enabled = changes.pop("enabled", None)
        self_service = changes.pop("member_self_service", None)
        async with store.mutating() as session:
            tenant = await tenant_or_404(session, tenant_id)
            if changes:
                await tenant_store.set_tenant_limits(session, tenant.name, **changes, actor=actor(request))
            if enabled is not None:
                await tenant_store.set_tenant_enabled(session, tenant.name, enabled, actor=actor(request))
            if self_service is not None:
                await member_pages.set_member_self_service(
                    session, tenant.name, self_service, actor=actor(request)
                )
            return tenant_out(await tenant_or_404(session, tenant_id))

    @delete("/{tenant_id:int}")
    async def delete_tenant(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> None:
        async with store.mutating() as session:
            tenant = await tenant_or_404(session, tenant_id)
            await tenant_store.delete_tenant(session, tenant.name, actor=actor(request))

    @get("/{tenant_id:int}/keys")
    async def list_keys(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> list[KeyOut]:
        async with store.reading() as session:
            tenant = await tenant_or_404(session, tenant_id)
            return [key_out(k) for k in await key_store.list_keys(session, tenant.name)]

    @post("/{tenant_id:int}/keys")
    async def issue_key(
        self, request: AnyRequest, tenant_id: int, data: KeyIn, store: StoreAccess
    ) -> IssuedKey:
        expires = key_store.parse_duration(data.expires) if data.expires else None
        async with store.mutating() as session:
            tenant = await tenant_or_404(session, tenant_id)
            key, plaintext = await key_store.create_key(
                session,
                tenant.name,
                data.member,
                expires,
                rpm=data.rpm,
                tpm=data.tpm,
                budget_usd=data.budget_usd,
                allowed_models=data.allowed_models,
                actor=actor(request),
            )
            return IssuedKey(**key_out(key).model_dump(), key=plaintext)

    @patch("/{tenant_id:int}/keys/{key_id:int}")
    async def update_key(
        self, request: AnyRequest, tenant_id: int, key_id: int, data: KeyPatch, store: StoreAccess
    ) -> KeyOut:
        async with store.mutating() as session:
            key = await _key_of(session, await tenant_or_404(session, tenant_id), key_id)
            key = await key_store.set_key_limits(session, key.prefix, **_set(data), actor=actor(request))
            return key_out(key)

    @delete("/{tenant_id:int}/keys/{key_id:int}")
    async def revoke_key(self, request: AnyRequest, tenant_id: int, key_id: int, store: StoreAccess) -> None:
        async with store.mutating() as session:
            key = await _key_of(session, await tenant_or_404(session, tenant_id), key_id)
            await key_store.revoke_key(session, key.prefix, actor=actor(request))

    @get("/{tenant_id:int}/rules")
    async def list_tenant_rules(
        self, request: AnyRequest, tenant_id: int, store: StoreAccess
    ) -> list[RuleOut]:
        async with store.reading() as session:
            await tenant_or_404(session, tenant_id)
            return [rule_out(r) for r in await catalog.list_rules(session, tenant_id)]

    @post("/{tenant_id:int}/rules")
    async def create_tenant_rule(
        self, request: AnyRequest, tenant_id: int, data: RuleIn, store: StoreAccess
    ) -> RuleOut:
        return await create_rule(request, tenant_id, data, store=store)

    @delete("/{tenant_id:int}/rules/{rule_id:int}")
    async def delete_tenant_rule(
        self, request: AnyRequest, tenant_id: int, rule_id: int, store: StoreAccess
    ) -> None:
        await delete_rule(request, tenant_id, rule_id, store=store)
