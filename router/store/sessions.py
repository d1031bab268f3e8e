"""Server-side admin sessions: the browser holds a random token, the database only its SHA-256.

Ending a session (sign-out) bumps the config version, so every process drops its cached copy within the
poll interval; a stolen cookie is then refused everywhere.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.lengths import ADDRESS_CHARS
from router.store.audit import changed
from router.store.db import as_utc
from router.store.identity_models import AdminSessionRow, AdminUser
from router.store.models import utcnow

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A live session joined with its user, as the session cache keeps it."""

    session_id: int
    token_hash: str
    user_id: int
    username: str
    role: str
    tenant_ids: tuple[int, ...]
    last_seen_at: datetime
    expires_at: datetime


async def create_session(
    session: AsyncSession,
    user: AdminUser,
    *,
    absolute_seconds: float,
    address: str | None,
    now: datetime | None = None,
) -> str:
    """A new session for `user`; returns the token for the cookie (stored nowhere else)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        AdminSessionRow(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=absolute_seconds),
            address=(address or "")[:ADDRESS_CHARS] or None,
        )
    )
    await session.flush()
    return token


async def load_session(session: AsyncSession, digest: str) -> SessionRecord | None:
    """The session with this token hash and its enabled user; None when there is none."""
    row = (
        await session.execute(
            select(AdminSessionRow, AdminUser)
            .join(AdminUser, AdminUser.id == AdminSessionRow.user_id)
            .where(AdminSessionRow.token_hash == digest, AdminUser.disabled.is_(False))
        )
    ).first()
    if row is None:
        return None
    stored, user = row
    return SessionRecord(
        session_id=stored.id,
        token_hash=stored.token_hash,
        user_id=user.id,
        username=user.username,
        role=user.role,
        tenant_ids=tuple(user.tenant_ids),
        last_seen_at=as_utc(stored.last_seen_at),
        expires_at=as_utc(stored.expires_at),
    )


async def touch_session(session: AsyncSession, session_id: int, now: datetime) -> None:
    await session.execute(
        update(AdminSessionRow)
        .where(AdminSessionRow.id == session_id)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


async def end_session(
    session: AsyncSession,
    digest: str,
    *,
    actor: str,
    reason: str = "sign_out",
    address: str | None = None,
    bump: bool = True,
) -> bool:
    """Delete one session (sign-out, or expiry noticed); True when there was one.

    `bump`: tell every process to drop its cached copy (not needed for an expiry: every process sees that).
    """
    result = await session.execute(
        delete(AdminSessionRow).where(AdminSessionRow.token_hash == digest).returning(AdminSessionRow.user_id)
    )
    if result.first() is None:
        return False
    after = {"address": address} if address else None
    await changed(session, actor, reason, "admin_session", None, actor, None, after, bump=bump)
    return True


async def delete_expired(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Remove sessions past their absolute end (housekeeping; they are refused anyway)."""
    result = await session.execute(
        delete(AdminSessionRow).where(AdminSessionRow.expires_at <= (now or utcnow()))
    )
    return int(getattr(result, "rowcount", 0) or 0)
