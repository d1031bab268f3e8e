"""A tenant's reach, read-only: its rules and the global ones in evaluation order, and the targets its
requests can get to (router/store/reach.py, the same service as /api/v1/tenants/{id}/reach). For its
tenant-admins too; names only, never a base URL or a credential."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from router.admin.deps import tenant_or_404
from router.admin.web import render
from router.store.access import StoreAccess
from router.store.reach import reach_of

AnyRequest = Request[Any, Any, Any]


class ReachController(Controller):
    path = "/admin/tenants"

    @get("/{tenant_id:int}/reach")
    async def reach_page(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> Template:
        async with store.reading() as session:
            await tenant_or_404(session, tenant_id)
            reach = await reach_of(session, tenant_id)
        return render(request, "admin/tenant_reach.html", {"reach": reach, "tenant_id": tenant_id})
