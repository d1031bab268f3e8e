"""Tables created from the models (metadata.create_all, as tests and fresh tools do) get the same fillfactor
on PostgreSQL as migration 0015 gives migrated databases; SQLite creates them as before."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from router.store.db import Database
from router.store.models import UPDATED_IN_PLACE_FILLFACTOR


@pytest.mark.postgres
async def test_create_all_leaves_room_on_the_pages_of_the_tables_updated_in_place(pg_db: Database) -> None:
    query = text(
        "SELECT relname, reloptions FROM pg_class"
        " WHERE relname IN ('usage_hourly', 'usage_daily', 'api_keys', 'tenants') ORDER BY relname"
    )
    async with pg_db.session() as session:
        rows = [(row[0], row[1]) for row in (await session.execute(query)).all()]
    setting = [f"fillfactor={UPDATED_IN_PLACE_FILLFACTOR}"]
    assert rows == [
        ("api_keys", setting),
        ("tenants", None),
        ("usage_daily", setting),
        ("usage_hourly", setting),
    ]


async def test_sqlite_creates_the_same_tables_without_the_setting(usage_sqlite_url: str) -> None:
    database = Database(usage_sqlite_url)
    try:
        async with database.session() as session:
            names = (
                await session.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
            ).scalars()
            assert {"usage_hourly", "usage_daily", "api_keys"} <= set(names)
    finally:
        await database.dispose()
