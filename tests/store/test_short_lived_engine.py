"""A CLI command's database handle (`Database(url, short_lived=True)`) on PostgreSQL: its second session
takes the connection back without a ping, and JSON columns are written and read as by the service's."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from router.store.db import Database
from router.store.models import Tenant
from tests.usage.conftest import PG_HOST, PG_PORT

pytestmark = pytest.mark.postgres


async def _pings_over_two_sessions(database: Database) -> tuple[int, list[str] | None, dict[str, Any] | None]:
    pings = 0
    dialect = database.engine.sync_engine.dialect
    do_ping = dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        nonlocal pings
        pings += 1
        return do_ping(dbapi_connection)

    dialect.do_ping = counting  # type: ignore[method-assign]
    try:
        async with database.transaction() as session:
            session.add(
                Tenant(
                    name="short-lived",
                    allowed_targets=["openai/gpt-4.1"],
                    managed_settings={"env": {"A": "1"}},
                )
            )
        async with database.session() as session:
            tenant = (await session.execute(select(Tenant).where(Tenant.name == "short-lived"))).scalar_one()
            return pings, tenant.allowed_targets, tenant.managed_settings
    finally:
        await database.dispose()


@pytest.mark.parametrize(("short_lived", "expected_pings"), [(True, 0), (False, 1)])
async def test_a_short_lived_handle_reuses_its_connection_unpinged_and_reads_json(
    pg_db: Database, usage_pg_name: str, short_lived: bool, expected_pings: int
) -> None:
    url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{usage_pg_name}"
    pings, targets, managed = await _pings_over_two_sessions(Database(url, short_lived=short_lived))
    assert pings == expected_pings
    assert targets == ["openai/gpt-4.1"]
    assert managed == {"env": {"A": "1"}}
