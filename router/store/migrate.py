"""Alembic from code: upgrade, downgrade and the current revision of a database URL.

Alembic's commands are synchronous; we run them on a connection of our own async engine (passed to
migrations/env.py through `config.attributes["connection"]`), so they work inside a running event loop.
alembic.ini and migrations/ live at the repository root, beside the `router` package, and inside the wheel
(router/resources.py finds them).
"""

from __future__ import annotations

from functools import lru_cache

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from router.resources import resource_path
from router.store.db import create_engine_for

ALEMBIC_INI = resource_path("alembic.ini")
MIGRATIONS_DIR = resource_path("migrations")
VERSION_TABLE = "alembic_version"


def alembic_config(url: str | None = None) -> Config:
    """The Alembic config for this repository; `url` (if given) wins over Settings in env.py."""
    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.exists() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # Through attributes, not set_main_option: configparser would choke on a '%' in a password.
        config.attributes["url"] = url
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(connection: Connection) -> str | None:
    # Read alembic_version directly: MigrationContext logs at INFO each time, and /readyz asks often.
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    revisions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(revisions) > 1:
        raise RuntimeError(f"the database has several migration heads: {sorted(revisions)}")
    return revisions[0] if revisions else None


async def current_revision_of(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def _run(url: str, action: str, revision: str) -> None:
    engine = create_engine_for(url)
    try:
        async with engine.begin() as conn:

            def run(sync_conn: Connection) -> None:
                config = alembic_config(url)
                config.attributes["connection"] = sync_conn
                if action == "upgrade":
                    command.upgrade(config, revision)
                else:
                    command.downgrade(config, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def upgrade_to_head(url: str) -> None:
    """Apply every pending migration (idempotent)."""
    await _run(url, "upgrade", "head")


async def downgrade(url: str, revision: str) -> None:
    """Downgrade to `revision` ("base" drops everything; "-1" goes one step back)."""
    await _run(url, "downgrade", revision)


async def current(url: str) -> str | None:
    """The database's revision (None when never migrated)."""
    engine = create_engine_for(url)
    try:
        return await current_revision_of(engine)
    finally:
        await engine.dispose()
