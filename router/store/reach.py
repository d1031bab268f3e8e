"""One tenant's reach as stored now (routing/reach.py decides it): the service behind the tenant-admin's
read-only page and /api/v1/tenants/{id}/reach. Loads names only: no credential, no base URL leaves here."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from router.routing.reach import Reach, TargetInfo, tenant_reach
from router.store import catalog
from router.store.catalog._base import DEPLOYMENT_PREFIX
from router.store.db import NotFoundError
from router.store.models import Tenant


async def reach_of(session: AsyncSession, tenant_id: int) -> Reach:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFoundError(f"no tenant with id {tenant_id}")
    kinds = {p.name: p.kind for p in await catalog.list_providers(session)}
    deployments = await catalog.list_deployments(session)
    pools = {p.name: [m.target for m in catalog.pool_members(p)] for p in await catalog.list_pools(session)}
    chains = {c.name: catalog.chain_refs(c) for c in await catalog.list_chains(session)}
    own = await catalog.list_rules(session, tenant.id)
    shared = await catalog.list_rules(session, None)
    refs = {r.target for r in [*own, *shared] if r.target}
    refs.update(ref for targets in [*chains.values(), *pools.values()] for ref in targets)
    targets: dict[str, TargetInfo] = {}
    for d in deployments:
        targets[DEPLOYMENT_PREFIX + d.name] = TargetInfo(d.provider.name, d.provider.kind, d.model)
    for ref in refs:
        provider, slash, model = ref.partition("/")
        if slash and provider in kinds and ref not in targets:
            targets[ref] = TargetInfo(provider, kinds[provider], model)
    return tenant_reach(
        tenant.name,
        tenant.allowed_targets,
        [(r, r.chain.name if r.chain else None) for r in own],
        [(r, r.chain.name if r.chain else None) for r in shared],
        chains=chains,
        pools=pools,
        targets=targets,
    )
