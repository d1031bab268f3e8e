"""What admin controllers share about the signed-in admin: who acts (for the audit log) and which tenants
they may see. The database comes to handlers by dependency injection (`store: StoreAccess`)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request

from router.admin.auth import AdminNotFoundError, current_principal, current_session
from router.store import tenants as tenant_store
from router.store.models import Tenant

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]


def actor(request: AnyRequest) -> str:
    session = current_session(request)
    return session.username if session is not None else "anonymous"


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
