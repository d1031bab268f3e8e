"""The schema revision of a database, and the newest one this release has, without importing Alembic.

CLI data commands check "is the schema at head?" on every run; importing Alembic for that costs them a
third of their start-up. The head is read from the revision files' `revision` / `down_revision` lines (the
form `alembic revision` writes); tests/migrations checks it always equals what Alembic itself says, and
anything that migrates still goes through Alembic (store/migrate.py).
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from router.resources import resource_path
from router.store.db import create_engine_for

VERSION_TABLE = "alembic_version"

_REVISION = re.compile(r"^revision(?:\s*:[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=]*)?=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


@lru_cache(maxsize=1)
def script_heads() -> tuple[str, ...]:
    """The revisions no other revision builds on (one, unless the history has branched)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted(resource_path("migrations").joinpath("versions").glob("*.py")):
        source = script.read_text(encoding="utf-8")
        revision = _REVISION.search(source)
        if revision is None:
            continue
        revisions.add(revision.group(1))
        down = _DOWN_REVISION.search(source)
        if down is not None:
            parents.update(_QUOTED.findall(down.group(1)))
    return tuple(sorted(revisions - parents))


def _has_version_table(connection: Connection) -> bool:
    if connection.dialect.name == "postgresql":
        # The table an unqualified `FROM alembic_version` reads (the search path's), or NULL: one light
        # statement where the Inspector's has_table builds and compiles a pg_catalog join first (cold, in a
        # CLI process: ~2 ms of CPU and 3-5 ms on the clock more, bench/README.md).
        return connection.execute(text(f"SELECT to_regclass('{VERSION_TABLE}') IS NOT NULL")).scalar() is True
    return inspect(connection).has_table(VERSION_TABLE)


def read_revision(connection: Connection) -> str | None:
    # Read alembic_version directly: MigrationContext logs at INFO each time, and /readyz asks often.
    if not _has_version_table(connection):
        return None
    revisions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(revisions) > 1:
        raise RuntimeError(f"the database has several migration heads: {sorted(revisions)}")
    return revisions[0] if revisions else None


async def current_revision_of(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(read_revision)


async def current(url: str) -> str | None:
    """The revision of the database at `url` (None when never migrated)."""
    engine = create_engine_for(url)
    try:
        return await current_revision_of(engine)
    finally:
        await engine.dispose()
