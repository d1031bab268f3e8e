"""The config version: one row that moves on every admin change, polled by every process.

A mutation bumps it in its own transaction, so a process that sees the new version also sees the change.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.models import ConfigVersion, utcnow

_ROW_ID = 1


async def bump_config_version(session: AsyncSession) -> int:
    """Move the version on by one (in the caller's transaction) and return the new value."""
    result = await session.execute(
        update(ConfigVersion)
        .where(ConfigVersion.id == _ROW_ID)
        .values(version=ConfigVersion.version + 1, updated_at=utcnow())
        .returning(ConfigVersion.version)
    )
    version = result.scalar_one_or_none()
    if version is not None:
        return int(version)
    # The migration seeds the row; this only runs if someone deleted it.
    await session.execute(insert(ConfigVersion).values(id=_ROW_ID, version=1, updated_at=utcnow()))
    return 1


async def hold_config_writes(session: AsyncSession) -> None:
    """Make concurrent configuration writers that read before they write (an order, a next position) take
    turns until this transaction ends: a no-op UPDATE of the version row takes its row lock on PostgreSQL
    (read committed: the next statement after the wait sees the committed order) and the write lock on
    SQLite (other writers wait out the busy timeout). Call it before the first read."""
    await session.execute(
        update(ConfigVersion).where(ConfigVersion.id == _ROW_ID).values(version=ConfigVersion.version)
    )


async def get_config_version(session: AsyncSession) -> int:
    """The current version (0 when the row is missing)."""
    version = await session.scalar(select(ConfigVersion.version).where(ConfigVersion.id == _ROW_ID))
    return int(version) if version is not None else 0
