"""The config version moves by one per bump and is seen by another connection after commit."""

from __future__ import annotations

from sqlalchemy import delete

from router.store.db import Database
from router.store.models import ConfigVersion
from router.store.version import bump_config_version, get_config_version


async def test_bump_moves_the_version_by_one_per_call(database: Database) -> None:
    async with database.transaction() as session:
        start = await get_config_version(session)
        assert await bump_config_version(session) == start + 1
        assert await bump_config_version(session) == start + 2
    other = Database(database.url)
    try:
        async with other.session() as session:
            assert await get_config_version(session) == start + 2
    finally:
        await other.dispose()


async def test_a_rolled_back_bump_leaves_the_version(database: Database) -> None:
    async with database.session() as session:
        start = await get_config_version(session)
        await bump_config_version(session)
        await session.rollback()
        assert await get_config_version(session) == start


async def test_bump_recreates_a_missing_row(database: Database) -> None:
    async with database.transaction() as session:
        await session.execute(delete(ConfigVersion))
        assert await get_config_version(session) == 0
        assert await bump_config_version(session) == 1
        assert await bump_config_version(session) == 2


async def test_fixture_starts_every_test_at_version_one(database: Database) -> None:
    async with database.transaction() as session:
        assert await get_config_version(session) == 1
        await bump_config_version(session)
