"""/api/v1 rules (global), providers, deployments and chains: the catalog services the admin pages use."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post

from router.api.auth import api_principal
from router.api.deps import actor, sent
from router.api.errors import NO_SUCH, ApiError
from router.api.rules import move_rule, update_rule
from router.api.schemas import (
    ChainIn,
    ChainOut,
    ChainPatch,
    DeploymentIn,
    DeploymentOut,
    DeploymentPatch,
    ProviderIn,
    ProviderOut,
    ProviderPatch,
    RuleIn,
    RuleMove,
    RuleOut,
    RulePatch,
    out,
)
from router.api.tenants import create_rule, delete_rule, rule_out
from router.identity.roles import CREDENTIALS_ARE_OWNERS, may_set_credentials
from router.store import catalog
from router.store.access import StoreAccess
from router.store.crypto import CredentialCipher
from router.store.models import Chain, Deployment, Provider

AnyRequest = Request[Any, Any, Any]


def provider_out(p: Provider) -> ProviderOut:
    return out(
        ProviderOut,
        p,
        extra_params=dict(p.extra_params or {}),
        has_credential=bool(p.credential_encrypted),
    )


def deployment_out(d: Deployment) -> DeploymentOut:
    return out(DeploymentOut, d, provider=d.provider.name)


def chain_out(c: Chain) -> ChainOut:
    return out(ChainOut, c, targets=[t.target for t in c.targets])


class RulesApi(Controller):
    path = "/rules"
    tags = ["rules"]

    @get("/")
    async def list_rules(self, request: AnyRequest, store: StoreAccess) -> list[RuleOut]:
        """Global rules, then the rules of every tenant the token sees."""
        principal = api_principal(request)
        async with store.reading() as session:
            rules = await catalog.list_all_rules(session)
        return [rule_out(r) for r in rules if r.tenant_id is None or principal.sees_tenant(r.tenant_id)]

    @post("/")
    async def create_global_rule(self, request: AnyRequest, data: RuleIn, store: StoreAccess) -> RuleOut:
        return await create_rule(request, None, data, store=store)

    @patch("/{rule_id:int}")
    async def update_global_rule(
        self, request: AnyRequest, rule_id: int, data: RulePatch, store: StoreAccess
    ) -> RuleOut:
        """Change the fields sent; a new target clears the chain and the reverse."""
        return await update_rule(request, None, rule_id, data, store=store)

    @post("/{rule_id:int}/move", status_code=200)
    async def move_global_rule(
        self, request: AnyRequest, rule_id: int, data: RuleMove, store: StoreAccess
    ) -> list[RuleOut]:
        """Put the rule at `position` (1 = evaluated first) among the global rules; answers them in order."""
        return await move_rule(request, None, rule_id, data, store=store)

    @delete("/{rule_id:int}")
    async def delete_global_rule(self, request: AnyRequest, rule_id: int, store: StoreAccess) -> None:
        await delete_rule(request, None, rule_id, store=store)


def _credential_check(request: AnyRequest, data: ProviderIn | ProviderPatch) -> None:
    if "api_key" in data.model_fields_set and not may_set_credentials(api_principal(request)):
        raise ApiError(403, CREDENTIALS_ARE_OWNERS, field="api_key")


class ProvidersApi(Controller):
    path = "/providers"
    tags = ["providers"]

    @get("/")
    async def list_providers(self, request: AnyRequest, store: StoreAccess) -> list[ProviderOut]:
        async with store.reading() as session:
            return [provider_out(p) for p in await catalog.list_providers(session)]

    @post("/")
    async def create_provider(
        self, request: AnyRequest, data: ProviderIn, store: StoreAccess, cipher: CredentialCipher
    ) -> ProviderOut:
        """Admins create providers without a credential; only owners send `api_key`."""
        _credential_check(request, data)
        async with store.mutating() as session:
            provider = await catalog.create_provider(
                session,
                cipher=cipher,
                name=data.name,
                kind=data.kind,
                api_base=data.api_base,
                api_version=data.api_version,
                api_key=data.api_key,
                extra_params=data.extra_params,
                actor=actor(request),
            )
            return provider_out(provider)

    @patch("/{provider_id:int}")
    async def update_provider(
        self,
        request: AnyRequest,
        provider_id: int,
        data: ProviderPatch,
        store: StoreAccess,
        cipher: CredentialCipher,
    ) -> ProviderOut:
        """Change the fields sent. `api_key` (owners only) replaces the credential; null removes it."""
        _credential_check(request, data)
        changes = sent(data, nullable=frozenset({"api_base", "api_version", "api_key"}))
        async with store.mutating() as session:
            provider = await catalog.update_provider(
                session, provider_id, cipher=cipher, **changes, actor=actor(request)
            )
            return provider_out(provider)

    @delete("/{provider_id:int}")
    async def delete_provider(self, request: AnyRequest, provider_id: int, store: StoreAccess) -> None:
        async with store.mutating() as session:
            await catalog.delete_provider(session, provider_id, actor=actor(request))


class DeploymentsApi(Controller):
    path = "/deployments"
    tags = ["deployments"]

    @get("/")
    async def list_deployments(self, request: AnyRequest, store: StoreAccess) -> list[DeploymentOut]:
        async with store.reading() as session:
            return [deployment_out(d) for d in await catalog.list_deployments(session)]

    @post("/")
    async def create_deployment(
        self, request: AnyRequest, data: DeploymentIn, store: StoreAccess
    ) -> DeploymentOut:
        async with store.mutating() as session:
            row = await catalog.create_deployment(session, **data.model_dump(), actor=actor(request))
            return deployment_out(await catalog.get_deployment(session, row.id))

    @patch("/{deployment_id:int}")
    async def update_deployment(
        self, request: AnyRequest, deployment_id: int, data: DeploymentPatch, store: StoreAccess
    ) -> DeploymentOut:
        changes = sent(data, nullable=frozenset({"api_version"}))
        async with store.mutating() as session:
            await catalog.update_deployment(session, deployment_id, **changes, actor=actor(request))
            return deployment_out(await catalog.get_deployment(session, deployment_id))

    @delete("/{deployment_id:int}")
    async def delete_deployment(self, request: AnyRequest, deployment_id: int, store: StoreAccess) -> None:
        async with store.mutating() as session:
            await catalog.delete_deployment(session, deployment_id, actor=actor(request))


class ChainsApi(Controller):
    path = "/chains"
    tags = ["chains"]

    @get("/")
    async def list_chains(self, request: AnyRequest, store: StoreAccess) -> list[ChainOut]:
        async with store.reading() as session:
            return [chain_out(c) for c in await catalog.list_chains(session)]

    @post("/")
    async def create_chain(self, request: AnyRequest, data: ChainIn, store: StoreAccess) -> ChainOut:
        async with store.mutating() as session:
            row = await catalog.create_chain(session, **data.model_dump(), actor=actor(request))
            return chain_out(await catalog.get_chain(session, row.id))

    @patch("/{chain_id:int}")
    async def update_chain(
        self, request: AnyRequest, chain_id: int, data: ChainPatch, store: StoreAccess
    ) -> ChainOut:
        """Change the fields sent; `targets` replaces the whole ordered list."""
        async with store.mutating() as session:
            await catalog.update_chain(session, chain_id, **sent(data), actor=actor(request))
            return chain_out(await catalog.get_chain(session, chain_id))

    @delete("/{chain_id:int}")
    async def delete_chain(self, request: AnyRequest, chain_id: int, store: StoreAccess) -> None:
        async with store.mutating() as session:
            if await session.get(Chain, chain_id) is None:
                raise ApiError(404, NO_SUCH)
            await catalog.delete_chain(session, chain_id, actor=actor(request))
