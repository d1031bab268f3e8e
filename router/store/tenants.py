"""Tenants (teams): create, list, find, rename, enable or disable, set limits, delete.

Every mutation bumps the config version and writes an audit entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import EllipsisType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.audit import changed
from router.store.db import AlreadyExistsError, NotFoundError
from router.store.models import ApiKey, Tenant


def validate_tenant_name(name: str) -> str:
    """The name, stripped; ValueError with config/validate/'s reason when it is not a valid name."""
    # Imported here, as in check_limits: `router tenant list` reads tenants without loading validation.
    from router.config.fields import name_error

    name = name.strip()
    problem = name_error(name, "tenant name")
    if problem is not None:
        raise ValueError(problem)
    return name


def check_limits(rpm: Any, tpm: Any, budget_usd: Any) -> None:
    """Limits of a key or a tenant, checked as config apply checks them (`...`, unchanged, passes)."""
    from router.config.validate import limit_issues

    given = [None if isinstance(v, EllipsisType) else v for v in (rpm, tpm, budget_usd)]
    issues = limit_issues(*given)
    if issues:
        raise ValueError(f"{issues[0].path} {issues[0].message}")


def tenant_state(tenant: Tenant) -> dict[str, Any]:
    """The audited view of a tenant."""
    return {
        "name": tenant.name,
        "enabled": tenant.enabled,
        "allowed_targets": tenant.allowed_targets,
        "rpm": tenant.rpm,
        "tpm": tenant.tpm,
        "budget_usd": tenant.budget_usd,
    }


async def _audit(
    session: AsyncSession,
    tenant: Tenant,
    action: str,
    actor: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await changed(session, actor, action, "tenant", tenant.id, tenant.name, before, after, tenant.id)


async def get_tenant_by_name(session: AsyncSession, name: str) -> Tenant | None:
    return await session.scalar(select(Tenant).where(Tenant.name == name.strip()))


async def get_tenant(session: AsyncSession, name: str) -> Tenant:
    """The tenant with this name; NotFoundError otherwise."""
    tenant = await get_tenant_by_name(session, name)
    if tenant is None:
        raise NotFoundError(f"no tenant named {name.strip()!r}")
    return tenant


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    """Every tenant, by name."""
    return list((await session.scalars(select(Tenant).order_by(Tenant.name))).all())


async def count_keys_by_tenant(session: AsyncSession, *, active_only: bool = True) -> dict[int, int]:
    """tenant id -> number of (non-revoked) keys."""
    query = select(ApiKey.tenant_id, func.count()).group_by(ApiKey.tenant_id)
    if active_only:
        query = query.where(ApiKey.revoked_at.is_(None))
    return {tenant_id: count for tenant_id, count in (await session.execute(query)).tuples()}


async def create_tenant(
    session: AsyncSession,
    name: str,
    *,
    rpm: int | None = None,
    tpm: int | None = None,
    budget_usd: float | None = None,
    allowed_targets: Sequence[str] | None = None,
    enabled: bool = True,
    actor: str = "cli",
) -> Tenant:
    name = validate_tenant_name(name)
    check_limits(rpm, tpm, budget_usd)
    if await get_tenant_by_name(session, name) is not None:
        raise AlreadyExistsError(f"a tenant named {name!r} already exists")
    tenant = Tenant(
        name=name,
        enabled=enabled,
        rpm=rpm,
        tpm=tpm,
        budget_usd=budget_usd,
        allowed_targets=list(allowed_targets) if allowed_targets is not None else None,
    )
    session.add(tenant)
    await session.flush()
    await _audit(session, tenant, "create", actor, None, tenant_state(tenant))
    return tenant


async def rename_tenant(session: AsyncSession, name: str, new_name: str, *, actor: str = "cli") -> Tenant:
    tenant = await get_tenant(session, name)
    new_name = validate_tenant_name(new_name)
    if new_name == tenant.name:
        return tenant
    if await get_tenant_by_name(session, new_name) is not None:
        raise AlreadyExistsError(f"a tenant named {new_name!r} already exists")
    before = tenant_state(tenant)
    tenant.name = new_name
    await session.flush()
    await _audit(session, tenant, "rename", actor, before, tenant_state(tenant))
    return tenant


async def set_tenant_enabled(
    session: AsyncSession, name: str, enabled: bool, *, actor: str = "cli"
) -> Tenant:
    tenant = await get_tenant(session, name)
    if tenant.enabled == enabled:
        return tenant
    before = tenant_state(tenant)
    tenant.enabled = enabled
    await session.flush()
    await _audit(session, tenant, "enable" if enabled else "disable", actor, before, tenant_state(tenant))
    return tenant


async def set_tenant_limits(
    session: AsyncSession,
    name: str,
    rpm: int | EllipsisType | None = ...,
    tpm: int | EllipsisType | None = ...,
    budget_usd: float | EllipsisType | None = ...,
    allowed_targets: Sequence[str] | EllipsisType | None = ...,
    *,
    actor: str = "cli",
) -> Tenant:
    """Change limits: `...` leaves a value as it is, None removes the limit."""
    tenant = await get_tenant(session, name)
    check_limits(rpm, tpm, budget_usd)
    before = tenant_state(tenant)
    if not isinstance(rpm, EllipsisType):
        tenant.rpm = rpm
    if not isinstance(tpm, EllipsisType):
        tenant.tpm = tpm
    if not isinstance(budget_usd, EllipsisType):
        tenant.budget_usd = budget_usd
    if not isinstance(allowed_targets, EllipsisType):
        tenant.allowed_targets = list(allowed_targets) if allowed_targets is not None else None
    after = tenant_state(tenant)
    if after != before:
        await session.flush()
        await _audit(session, tenant, "update", actor, before, after)
    return tenant


async def delete_tenant(session: AsyncSession, name: str, *, actor: str = "cli") -> None:
    """Delete the tenant with its keys and rules (usage history stays)."""
    tenant = await get_tenant(session, name)
    before = tenant_state(tenant)
    # The audit step bumps the config version row before the tenant's rules are deleted: the lock order of
    # every rule writer (version row first), so a concurrent move of the tenant's rules cannot deadlock.
    await _audit(session, tenant, "delete", actor, before, None)
    await session.delete(tenant)
    await session.flush()
