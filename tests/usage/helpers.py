"""Building usage events and the tenants/keys they point at."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from router.store.db import Database
from router.store.models import ApiKey, Tenant
from router.store.usage_writes import UsageEvent

_ids = itertools.count(1)


def event(**fields: Any) -> UsageEvent:
    fields.setdefault("created_at", datetime.now(UTC))
    fields.setdefault("request_id", f"req_{next(_ids)}")
    return UsageEvent(**fields)


async def add_tenant_with_keys(database: Database, name: str, prefixes: list[str]) -> tuple[int, list[int]]:
    async with database.transaction() as session:
        tenant = Tenant(name=name)
        session.add(tenant)
        await session.flush()
        keys = [
            ApiKey(
                tenant_id=tenant.id, member=f"{p}@example.com", key_hash=f"hash-{p}".ljust(64, "0"), prefix=p
            )
            for p in prefixes
        ]
        session.add_all(keys)
        await session.flush()
        return tenant.id, [k.id for k in keys]
