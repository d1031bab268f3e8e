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


async def get_config_version(session: AsyncSession) -> int:
    """The current version (0 when the row is missing)."""
    version = await session.scalar(select(ConfigVersion.version).where(ConfigVersion.id == _ROW_ID))
    return int(version) if version is not None else 0
