"""The Alembic history builds exactly the schema of models.py, and tears it down again, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, select

from router.store.db import Database
from router.store.migrate import current, downgrade, head_revision, migrations_current, upgrade_to_head
from router.store.models import Base, ConfigVersion


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(empty_db_url: str) -> None:
    assert await current(empty_db_url) is None

    await upgrade_to_head(empty_db_url)
    assert await current(empty_db_url) == head_revision()
    db = Database(empty_db_url)
    try:
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            assert await conn.run_sync(_tables) == set(Base.metadata.tables) | {"alembic_version"}
            # The migration seeds the config version row.
            assert (await conn.execute(select(ConfigVersion.version))).scalars().all() == [1]
        assert await migrations_current(db)
    finally:
        await db.dispose()

    await downgrade(empty_db_url, "base")
    assert await current(empty_db_url) is None
    db = Database(empty_db_url)
    try:
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_tables) <= {"alembic_version"}
        assert not await migrations_current(db)
    finally:
        await db.dispose()


async def test_upgrade_is_idempotent(empty_db_url: str) -> None:
    await upgrade_to_head(empty_db_url)
    await upgrade_to_head(empty_db_url)
    assert await current(empty_db_url) == head_revision()


async def test_migrations_current_is_false_on_an_empty_database(empty_db_url: str) -> None:
    db = Database(empty_db_url)
    try:
        assert await db.ping()
        assert not await migrations_current(db)
    finally:
        await db.dispose()


async def test_the_rollup_migration_fills_rollups_from_existing_raw_rows(empty_db_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, insert

    from router.store.models import UsageHourly
    from router.store.usage_writes import USAGE_TABLE
    from tests.usage.helpers import event

    await upgrade_to_head(empty_db_url)
    await downgrade(empty_db_url, "0007_key_alias")
    start = datetime(2025, 4, 1, 8, 15, tzinfo=UTC)
    rows = [
        event(
            created_at=start + timedelta(minutes=25 * i), tenant_id=1, cost_usd=0.25, input_tokens=10
        ).as_row()
        for i in range(6)
    ]
    db = Database(empty_db_url)
    try:
        async with db.transaction() as session:
            await session.execute(insert(USAGE_TABLE), rows)
        await upgrade_to_head(empty_db_url)
        async with db.session() as session:
            hours, requests, tokens, nanos = (
                await session.execute(
                    select(
                        func.count(),
                        func.sum(UsageHourly.requests),
                        func.sum(UsageHourly.input_tokens),
                        func.sum(UsageHourly.cost_nanousd),
                    )
                )
            ).one()
    finally:
        await db.dispose()
    # 08:15 .. 10:20, 25 minutes apart: three hours, every request, every token and cent.
    assert (hours, requests, tokens, nanos) == (3, 6, 60, 1_500_000_000)
