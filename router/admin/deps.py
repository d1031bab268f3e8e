"""What controllers reach on the app: the database, the signed-in admin, and the post-commit refresh.

A mutation runs in one transaction (the store function writes the audit entry and bumps the config version
in it); after the commit this process rebuilds its routing snapshot at once; other processes follow by
polling.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Request

from router.admin.auth import AdminNotFoundError, current_principal, current_session
from router.store import tenants as tenant_store
from router.store.db import Database
from router.store.models import Tenant

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]


def database(request: AnyRequest) -> Database:
    db: Database = request.app.state["db"]
    return db


def actor(request: AnyRequest) -> str:
    session = current_session(request)
    return session.username if session is not None else "anonymous"


@asynccontextmanager
async def reading(request: AnyRequest) -> AsyncIterator[Any]:
    """A read-only session (rolled back at the end)."""
    async with database(request).session() as session:
        yield session


@asynccontextmanager
async def mutating(request: AnyRequest) -> AsyncIterator[Any]:
    """One transaction; on commit the in-process routing snapshot is refreshed."""
    async with database(request).transaction() as session:
        yield session
    await refresh_snapshot(request)


async def refresh_snapshot(request: AnyRequest) -> None:
    snapshots = getattr(request.app.state, "snapshots", None)
    if snapshots is None:
        return
    try:
        await snapshots.refresh()
    except Exception:  # the change is committed; the version poll will pick it up
        log.exception("routing snapshot refresh after an admin change failed")


def visible_tenants(request: AnyRequest, tenants: list[Tenant]) -> list[Tenant]:
    """The tenants the signed-in admin may see (all for unrestricted roles): lists never name the others."""
    principal = current_principal(request)
    if principal is None or not principal.scoped:
        return tenants
    return [tenant for tenant in tenants if principal.sees_tenant(tenant.id)]


def can_see_tenant(request: AnyRequest, tenant_id: int | None) -> bool:
    """Whether the signed-in admin may see an object of this tenant (None: of no tenant)."""
    principal = current_principal(request)
    if principal is None or not principal.scoped:
        return True
    return tenant_id is not None and principal.sees_tenant(tenant_id)


async def tenant_or_404(session: Any, tenant_id: int) -> Tenant:
    for tenant in await tenant_store.list_tenants(session):
        if tenant.id == tenant_id:
            return tenant
    raise AdminNotFoundError(f"There is no tenant with id {tenant_id}.")
