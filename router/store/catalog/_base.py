"""What every catalog module shares: the errors, the audit-and-bump step (store/audit.py: changed), and
target-ref bookkeeping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.drafts import ValidationIssue
from router.config.validate import KnownNames
from router.store.audit import changed
from router.store.db import AlreadyExistsError, StoreError
from router.store.models import (
    Chain,
    ChainTarget,
    Deployment,
    ModelPrice,
    Pool,
    PoolMember,
    Provider,
    Rule,
    Tenant,
)
from router.store.version import hold_config_writes

__all__ = [
    "DEPLOYMENT_PREFIX",
    "CatalogConflict",
    "CatalogError",
    "Direction",
    "changed",
    "known_names",
    "known_pool_names",
    "raise_first",
    "rename_refs",
    "target_users",
]

Direction = Literal["up", "down"]
DEPLOYMENT_PREFIX = "deployment/"


class CatalogError(StoreError):
    """A change refused with a reason for the user; `field` names the offending field when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field


class CatalogConflict(CatalogError, AlreadyExistsError):
    """The name is taken."""


def raise_first(issues: list[ValidationIssue], *, whole: str) -> None:
    """Refuse a change with the first problem config/validate/ found (`whole` names the field to show
    for a problem with the object as a whole)."""
    if issues:
        raise CatalogError(issues[0].message, field=issues[0].path or whole)


async def known_names(session: AsyncSession) -> KnownNames:
    """The providers, deployments, chains and pools a draft may refer to, as this transaction has them."""
    kinds = {name: kind for name, kind in (await session.execute(select(Provider.name, Provider.kind))).all()}
    deployments = frozenset((await session.scalars(select(Deployment.name))).all())
    chains = frozenset((await session.scalars(select(Chain.name))).all())
    pools = frozenset(await known_pool_names(session))
    return KnownNames(frozenset(kinds), deployments, chains, pools, kinds)


async def known_pool_names(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(Pool.name))).all())


async def target_users(session: AsyncSession, matches: Callable[[str], bool]) -> list[str]:
    """Rules and chains whose targets satisfy `matches(ref)`, described for an error message."""
    users: list[str] = []
    for rule in (await session.scalars(select(Rule).where(Rule.target.is_not(None)).order_by(Rule.id))).all():
        if rule.target is not None and matches(rule.target):
            users.append(f"rule {rule.id} ({rule.match!r})")
    rows = await session.execute(select(Chain.name, ChainTarget.target).join(ChainTarget.chain))
    users.extend(sorted({f"chain {name!r}" for name, ref in rows.tuples() if matches(ref)}))
    members = await session.execute(select(Pool.name, PoolMember.target).join(PoolMember.pool))
    users.extend(sorted({f"pool {name!r}" for name, ref in members.tuples() if matches(ref)}))
    return users


async def rename_refs(session: AsyncSession, rename: Callable[[str], str]) -> None:
    """Rewrite every stored target ref through `rename` (after a provider or deployment rename)."""
    await hold_config_writes(session)  # before any rule row is written: the lock order of rule writers
    for rule in (await session.scalars(select(Rule).where(Rule.target.is_not(None)))).all():
        if rule.target is not None:
            rule.target = rename(rule.target)
    for ct in (await session.scalars(select(ChainTarget))).all():
        ct.target = rename(ct.target)
    for member in (await session.scalars(select(PoolMember))).all():
        member.target = rename(member.target)
    for price in (await session.scalars(select(ModelPrice))).all():
        price.target = rename(price.target)
    for tenant in (await session.scalars(select(Tenant).where(Tenant.allowed_targets.is_not(None)))).all():
        if tenant.allowed_targets:
            tenant.allowed_targets = [rename(ref) for ref in tenant.allowed_targets]
