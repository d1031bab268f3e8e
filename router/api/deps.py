"""What API controllers share: who acts, the tenant or a 404, and which fields a PATCH sent. The database
comes to handlers by dependency injection (`store: StoreAccess`: one transaction per change)."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from router.api.auth import api_principal
from router.api.errors import NO_SUCH, ApiError
from router.store.models import Tenant

log = logging.getLogger(__name__)
AnyRequest = Request[Any, Any, Any]


def actor(request: AnyRequest) -> str:
    return api_principal(request).username


async def tenant_or_404(session: AsyncSession, tenant_id: int) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise ApiError(404, NO_SUCH)
    return tenant


# A null in these means "empty" rather than "clear": the store keeps an empty mapping.
_EMPTY_WHEN_NULL = frozenset({"when", "overrides", "extra_params"})


def sent(model: BaseModel, *, nullable: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields the caller sent (the others stay as they are); a null is refused (422, naming the field)
    unless the field may be cleared."""
    changes: dict[str, Any] = {}
    for name in sorted(model.model_fields_set):
        value = getattr(model, name)
        if value is None and name in _EMPTY_WHEN_NULL:
            value = {}
        elif value is None and name not in nullable:
            raise ApiError(422, f"{name}: may not be null (leave it out to keep it)", field=name)
        changes[name] = value
    return changes
