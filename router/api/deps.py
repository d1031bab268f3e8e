"""What API controllers share: one transaction per change (then this process's snapshot is rebuilt)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from router.api.auth import api_principal
from router.api.errors import NO_SUCH, ApiError
from router.store.db import Database
from router.store.models import Tenant

log = logging.getLogger(__name__)
AnyRequest = Request[Any, Any, Any]


def _db(request: AnyRequest) -> Database:
    db: Database = request.app.state["db"]
    return db


def actor(request: AnyRequest) -> str:
    return api_principal(request).username


@asynccontextmanager
async def reading(request: AnyRequest) -> AsyncIterator[AsyncSession]:
    async with _db(request).session() as session:
        yield session


@asynccontextmanager
async def mutating(request: AnyRequest) -> AsyncIterator[AsyncSession]:
    async with _db(request).transaction() as session:
        yield session
    snapshots = getattr(request.app.state, "snapshots", None)
    if snapshots is not None:
        try:
            await snapshots.refresh()
        except Exception:  # committed; the version poll picks it up
            log.exception("routing snapshot refresh after an API change failed")


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
