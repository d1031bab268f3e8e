"""What API controllers share: one transaction per change (then this process's snapshot is rebuilt)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Request
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
