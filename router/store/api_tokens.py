"""Management API tokens (/api/v1): shown once at creation, stored as a SHA-256 hash and a visible prefix."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.lengths import AUDIT_ACTOR_CHARS, NAME_CHARS, bounded
from router.store.admins import tenant_ids_by_name, tenant_names
from router.store.audit import record_audit
from router.store.db import NotFoundError, StoreError, as_utc
from router.store.identity_models import AdminApiToken
from router.store.models import utcnow

TOKEN_PREFIX = "rt-admin-"
MAX_TOKEN_LENGTH = 200


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenView:
    prefix: str
    name: str
    role: str
    tenants: list[str]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


async def create_api_token(
    session: AsyncSession,
    *,
    name: str,
    role: str,
    tenants: Sequence[str],
    expires: timedelta | None,
    actor: str,
) -> tuple[AdminApiToken, str]:
    """A new token; returns the row and the plaintext (never stored). The role is checked by the caller."""
    name = name.strip() or "api"
    if len(name) > NAME_CHARS:
        raise ValueError(f"the token name must be at most {NAME_CHARS} characters")
    ids = await tenant_ids_by_name(session, tenants)
    while True:
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        prefix = plaintext[: len(TOKEN_PREFIX) + 8]
        if await session.scalar(select(AdminApiToken.id).where(AdminApiToken.prefix == prefix)) is None:
            break
    now = utcnow()
    row = AdminApiToken(
        name=name,
        token_hash=token_hash(plaintext),
        prefix=prefix,
        role=role,
        tenant_ids=ids or None,
        created_by=bounded(actor, AUDIT_ACTOR_CHARS),
        created_at=now,
        expires_at=now + expires if expires is not None else None,
    )
    session.add(row)
    await session.flush()
    await record_audit(
        session,
        actor=actor,
        action="create",
        object_type="api_token",
        object_id=str(row.id),
        object_name=prefix,
        before=None,
        after={"name": name, "role": role, "tenants": list(tenants), "expires_at": row.expires_at},
    )
    return row, plaintext


async def find_api_token(
    session: AsyncSession, token: str, *, now: datetime | None = None
) -> AdminApiToken | None:
    """The live token for this plaintext: None when unknown, revoked or expired."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = await session.scalar(select(AdminApiToken).where(AdminApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    expires = as_utc(row.expires_at)
    if expires is not None and expires <= (now or utcnow()):
        return None
    return row


async def list_api_tokens(session: AsyncSession) -> list[TokenView]:
    rows = await session.scalars(select(AdminApiToken).order_by(AdminApiToken.created_at))
    return [
        TokenView(
            prefix=row.prefix,
            name=row.name,
            role=row.role,
            tenants=await tenant_names(session, row.tenant_ids or []),
            created_by=row.created_by,
            created_at=as_utc(row.created_at),
            expires_at=as_utc(row.expires_at),
            revoked=row.revoked_at is not None,
        )
        for row in rows
    ]


async def revoke_api_token(session: AsyncSession, prefix: str, *, actor: str) -> None:
    row = await session.scalar(select(AdminApiToken).where(AdminApiToken.prefix == prefix.strip()))
    if row is None:
        raise NotFoundError(f"no API token with prefix {prefix.strip()[:40]!r}")
    if row.revoked_at is not None:
        raise StoreError(f"API token {row.prefix} is already revoked")
    row.revoked_at = utcnow()
    await session.flush()
    await record_audit(
        session,
        actor=actor,
        action="revoke",
        object_type="api_token",
        object_id=str(row.id),
        object_name=row.prefix,
        before=None,
        after={"revoked": True},
    )
