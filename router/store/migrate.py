"""Alembic from code: upgrade, downgrade and the current revision of a database URL.

Alembic's commands are synchronous; we run them on a connection of our own async engine (passed to
migrations/env.py through `config.attributes["connection"]`), so they work inside a running event loop.
alembic.ini and migrations/ live at the repository root, beside the `router` package, and inside the wheel
(router/resources.py finds them).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from router.resources import resource_path
from router.store.db import Database, create_engine_for
from router.store.revisions import current as current  # read without Alembic; named here for callers
from router.store.revisions import current_revision_of, read_revision, script_heads

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where a migration runs or the history is walked, not with this module: `router serve`
# on a database already at head (every replica's start but the first after a release) never needs it, and
# importing it costs ~0.2 s of start-up. revisions.py reads the head from the revision files instead.

ALEMBIC_INI = resource_path("alembic.ini")
MIGRATIONS_DIR = resource_path("migrations")


def alembic_config(url: str | None = None) -> Config:
    """The Alembic config for this repository; `url` (if given) wins over Settings in env.py."""
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.exists() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # Through attributes, not set_main_option: configparser would choke on a '%' in a password.
        config.attributes["url"] = url
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


# Held (per transaction) by whoever migrates a PostgreSQL database: replicas or jobs starting together take
# turns, and the later ones find the schema already at head. The number is "router" in ASCII.
MIGRATION_LOCK_KEY = 0x726F75746572

log = logging.getLogger("router.migrate")


def _lock(connection: Connection) -> None:
    """Take the migration lock (PostgreSQL only; SQLite's own write lock serialises its writers)."""
    if connection.dialect.name != "postgresql":
        return
    took = connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    if took.scalar():
        return
    log.info("another process is migrating this database: waiting for it to finish")
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


async def _run(url: str, action: str, revision: str) -> tuple[str | None, str | None]:
    """Run one Alembic command under the migration lock; the revisions before and after (read under it)."""
    engine = create_engine_for(url)
    try:
        async with engine.begin() as conn:

            def run(sync_conn: Connection) -> tuple[str | None, str | None]:
                from alembic import command

                _lock(sync_conn)
                before = read_revision(sync_conn)
                config = alembic_config(url)
                config.attributes["connection"] = sync_conn
                if action == "upgrade":
                    if before != head_revision():
                        command.upgrade(config, revision)
                else:
                    command.downgrade(config, revision)
                return before, read_revision(sync_conn)

            return await conn.run_sync(run)
    finally:
        await engine.dispose()


async def upgrade_to_head(url: str) -> tuple[str | None, str | None]:
    """Apply every pending migration (idempotent; PostgreSQL: one process at a time); (before, after)."""
    heads = script_heads()
    if len(heads) == 1:
        # Already at head (read without the lock: a database at head only ever stays there, and one that
        # is not takes the locked path below): nothing to run, and Alembic is not imported.
        engine = create_engine_for(url)
        try:
            revision = await current_revision_of(engine)
        finally:
            await engine.dispose()
        if revision == heads[0]:
            return revision, revision
    return await _run(url, "upgrade", "head")


async def downgrade(url: str, revision: str) -> None:
    """Downgrade to `revision` ("base" drops everything; "-1" goes one step back)."""
    await _run(url, "downgrade", revision)


def known_revisions() -> frozenset[str]:
    return _known_revisions()


@lru_cache(maxsize=1)
def _known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


def schema_state(revision: str | None) -> str:
    """ "current", "behind" (never migrated, or a revision this code knows and has migrations past) or
    "ahead" (a revision this code does not know: a newer release migrated it, as in a rolling upgrade)."""
    heads = script_heads()
    # The usual answer without Alembic (readiness asks on every probe; see revisions.py).
    if revision == (heads[0] if len(heads) == 1 else head_revision()):
        return "current"
    if revision is None or revision in known_revisions():
        return "behind"
    return "ahead"


async def migrations_current(db: Database) -> bool:
    """True unless the schema is behind this code (for /readyz).

    A revision this code does not know was written by a newer release (a rolling upgrade migrates first,
    with additive changes): the old replicas stay ready until they are replaced.
    """
    try:
        revision = await current_revision_of(db.engine)
    except (SQLAlchemyError, OSError):
        return False
    return schema_state(revision) != "behind"
