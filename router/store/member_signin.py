"""Claude Code's sign-in rows: RFC 8628 device authorizations, members' sign-in keys, and sign-in sessions
(refresh tokens stored hashed, rotated atomically; revocations that every replica's snapshot carries).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.lengths import REASON_CHARS, bounded
from router.store.audit import changed, record_audit
from router.store.identity_models import DeviceAuthorization, SigninSession
from router.store.models import ApiKey, Tenant, utcnow
from router.store.signin import token_hash

SIGNIN_KEY_PREFIX = "sso-"


# -- device authorizations --------------------------------------------------------------------------------

# RFC 8628 §6.1: a base-20 alphabet without vowels (no words) and without look-alikes.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


def new_user_code() -> str:
    chars = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def normalize_user_code(text: str) -> str:
    chars = "".join(ch for ch in text.upper() if ch in USER_CODE_ALPHABET)[:8]
    return f"{chars[:4]}-{chars[4:]}" if len(chars) == 8 else ""


async def create_device_authorization(
    session: AsyncSession, *, surface: str | None, ttl: timedelta, interval: int
) -> tuple[str, DeviceAuthorization]:
    """A new pending authorization; returns the device code (shown once, stored hashed) and the row."""
    now = utcnow()
    await session.execute(delete(DeviceAuthorization).where(DeviceAuthorization.expires_at < now - ttl))
    device_code = secrets.token_urlsafe(32)
    while True:
        user_code = new_user_code()
        taken = await session.scalar(
            select(DeviceAuthorization.id).where(DeviceAuthorization.user_code == user_code)
        )
        if taken is None:
            break
    row = DeviceAuthorization(
        device_code_hash=token_hash(device_code),
        user_code=user_code,
        status="pending",
        surface=surface,
        interval=interval,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    await session.flush()
    return device_code, row


async def device_by_code(session: AsyncSession, device_code: str) -> DeviceAuthorization | None:
    return await session.scalar(
        select(DeviceAuthorization)
        .where(DeviceAuthorization.device_code_hash == token_hash(device_code))
        .with_for_update()
    )


async def device_by_user_code(session: AsyncSession, user_code: str) -> DeviceAuthorization | None:
    code = normalize_user_code(user_code)
    if not code:
        return None
    return await session.scalar(select(DeviceAuthorization).where(DeviceAuthorization.user_code == code))


async def settle_device(
    session: AsyncSession, device_id: int, *, status: str, session_id: str | None, reason: str | None
) -> bool:
    """Approve or deny a pending authorization; False when it was no longer pending."""
    result = await session.execute(
        update(DeviceAuthorization)
        .where(DeviceAuthorization.id == device_id, DeviceAuthorization.status == "pending")
        .values(
            status=status,
            session_id=session_id,
            denied_reason=None if reason is None else bounded(reason, REASON_CHARS),
        )
    )
    return getattr(result, "rowcount", 0) == 1


# -- members' sign-in keys and sessions -------------------------------------------------------------------


async def member_key(session: AsyncSession, tenant_id: int, member: str, *, actor: str) -> ApiKey:
    """The member's sign-in key of this tenant (created at their first sign-in).

    It carries their limits, budget and usage exactly as a proxy key does, and can be revoked like one; it
    has no usable secret (its hash is not a SHA-256 hex digest, so no presented key can match it).
    """
    key = await session.scalar(
        select(ApiKey)
        .where(ApiKey.tenant_id == tenant_id, ApiKey.member == member)
        .where(ApiKey.prefix.like(f"{SIGNIN_KEY_PREFIX}%"))
        .order_by(ApiKey.id)
    )
    if key is not None:
        return key
    while True:
        prefix = SIGNIN_KEY_PREFIX + secrets.token_hex(4)
        if await session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    key = ApiKey(
        tenant_id=tenant_id,
        member=member,
        key_hash="sso:" + secrets.token_hex(30),
        prefix=prefix,
        created_at=utcnow(),
    )
    session.add(key)
    await session.flush()
    await changed(
        session,
        actor,
        "create",
        "api_key",
        key.id,
        key.prefix,
        None,
        {"prefix": key.prefix, "member": member, "tenant_id": tenant_id, "sign_in": True},
        tenant_id,
    )
    return key


async def key_by_id(session: AsyncSession, key_id: int) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def tenant_by_id(session: AsyncSession, tenant_id: int) -> Tenant | None:
    return await session.get(Tenant, tenant_id)


def new_session_id() -> str:
    return secrets.token_hex(16)


async def create_signin_session(
    session: AsyncSession,
    *,
    tenant_id: int,
    key_id: int,
    member: str,
    subject: str,
    groups: Sequence[str],
    surface: str | None,
    idp_refresh_token_encrypted: str | None,
    refresh_ttl: timedelta,
) -> SigninSession:
    row = SigninSession(
        id=new_session_id(),
        tenant_id=tenant_id,
        key_id=key_id,
        member=member,
        subject=subject,
        groups=list(groups),
        surface=surface,
        idp_refresh_token_encrypted=idp_refresh_token_encrypted,
        created_at=utcnow(),
        expires_at=utcnow() + refresh_ttl,
    )
    session.add(row)
    await session.flush()
    return row


async def audit_member_sign_in(
    session: AsyncSession,
    *,
    who: str,
    tenant_id: int | None,
    session_id: str | None,
    denied: str | None = None,
    surface: str | None = None,
) -> None:
    """The audit log's line for a Claude Code sign-in, approved or denied (and why)."""
    await record_audit(
        session,
        actor=who,
        action="sign_in_denied" if denied else "sign_in",
        object_type="signin_session",
        object_id=session_id,
        object_name=who[:300],
        before=None,
        after={"surface": surface, **({"reason": denied} if denied else {})},
        tenant_id=tenant_id,
    )


async def get_signin_session(session: AsyncSession, session_id: str) -> SigninSession | None:
    return await session.get(SigninSession, session_id)


async def session_by_refresh_token(session: AsyncSession, refresh_token: str) -> SigninSession | None:
    return await session.scalar(
        select(SigninSession)
        .where(SigninSession.refresh_token_hash == token_hash(refresh_token))
        .with_for_update()
    )


async def rotate_refresh_token(
    session: AsyncSession, row: SigninSession, *, old_hash: str | None, refresh_ttl: timedelta
) -> str | None:
    """A new refresh token for the session, replacing `old_hash` atomically (None when another request
    rotated it first: a refresh token is good for exactly one refresh)."""
    token = "rt-" + secrets.token_urlsafe(32)
    condition = (
        SigninSession.refresh_token_hash.is_(None)
        if old_hash is None
        else SigninSession.refresh_token_hash == old_hash
    )
    result = await session.execute(
        update(SigninSession)
        .where(SigninSession.id == row.id, condition, SigninSession.revoked_at.is_(None))
        .values(
            refresh_token_hash=token_hash(token),
            refreshed_at=utcnow(),
            expires_at=utcnow() + refresh_ttl,
            idp_refresh_token_encrypted=row.idp_refresh_token_encrypted,
            groups=list(row.groups),
        )
    )
    return token if getattr(result, "rowcount", 0) == 1 else None


async def revoke_signin_sessions(
    session: AsyncSession,
    *,
    reason: str,
    actor: str,
    session_id: str | None = None,
    tenant_id: int | None = None,
    member: str | None = None,
) -> int:
    """Revoke one session, or every live session of a member (of a tenant); returns how many. Bumps the
    config version so that every replica refuses their access tokens within its poll interval."""
    query = update(SigninSession).where(SigninSession.revoked_at.is_(None))
    if session_id is not None:
        query = query.where(SigninSession.id == session_id)
    if tenant_id is not None:
        query = query.where(SigninSession.tenant_id == tenant_id)
    if member is not None:
        query = query.where(SigninSession.member == member)
    if session_id is None and member is None and tenant_id is None:
        raise ValueError("say which sessions to revoke")
    result = await session.execute(
        query.values(revoked_at=utcnow(), revoked_reason=reason[:REASON_CHARS], refresh_token_hash=None)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        await changed(
            session,
            actor,
            "revoke",
            "signin_session",
            session_id,
            member,
            None,
            {"reason": reason, "sessions": count},
            tenant_id,
        )
    return count


async def revoked_session_ids(session: AsyncSession, since: datetime) -> frozenset[str]:
    """Sessions revoked after `since`: their access tokens may still be unexpired, so the snapshot names
    them (older revocations need no entry: every token of theirs has expired)."""
    ids = await session.scalars(select(SigninSession.id).where(SigninSession.revoked_at >= since))
    return frozenset(ids.all())


async def list_signin_sessions(
    session: AsyncSession, *, tenant_id: int | None = None, live_only: bool = True
) -> list[SigninSession]:
    query = select(SigninSession).order_by(SigninSession.created_at.desc())
    if tenant_id is not None:
        query = query.where(SigninSession.tenant_id == tenant_id)
    if live_only:
        query = query.where(SigninSession.revoked_at.is_(None), SigninSession.expires_at > utcnow())
    return list((await session.scalars(query)).all())
