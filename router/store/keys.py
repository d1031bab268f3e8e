"""Proxy API keys: `sk-rt-` + 40 random url-safe characters, stored as a SHA-256 hash and a 12-char prefix.

The plaintext exists only in the return value of `create_key`; the prefix (e.g. `sk-rt-AbCdEf`) names the key
everywhere else. Every mutation bumps the config version and writes an audit entry in the same transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from router.config.lengths import ALIAS_CHARS
from router.store.audit import changed
from router.store.budgets import budget_specs, check_member, copy_key_budgets
from router.store.db import NotFoundError, StoreError, as_utc
from router.store.models import ApiKey, Tenant, utcnow
from router.store.tenants import check_limits, get_tenant

if TYPE_CHECKING:
    from router.routing.model import KeySpec

KEY_PREFIX = "sk-rt-"
KEY_RANDOM_CHARS = 40
# What every key we issue looks like: anything else is refused without asking the database.
KEY_FORMAT = re.compile(rf"{re.escape(KEY_PREFIX)}[A-Za-z0-9_-]{{{KEY_RANDOM_CHARS}}}")
VISIBLE_PREFIX_CHARS = 12

# `...` (Ellipsis) means "leave as it is"; None means "no limit".
Keep = EllipsisType

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def generate_key() -> str:
    # 30 random bytes are exactly 40 url-safe base64 characters.
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_CHARS * 3 // 4)


def is_key_format(key: str) -> bool:
    return KEY_FORMAT.fullmatch(key) is not None


def hash_key(key: str) -> str:
    """The stored form of a key: SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_prefix(key: str) -> str:
    """The visible part of a key: its first 12 characters."""
    return key[:VISIBLE_PREFIX_CHARS]


def parse_duration(text: str) -> timedelta:
    """ "90m", "12h", "30d" or "2w" as a timedelta."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}: use a whole number and a unit, m (minutes), h, d or w, e.g. 30d"
        )
    amount = int(match.group(1))
    if amount <= 0:
        raise ValueError(f"invalid duration {text!r}: it must be more than zero")
    return timedelta(**{_UNITS[match.group(2)]: amount})


def key_state(key: ApiKey) -> dict[str, Any]:
    """The audited view of a key (never its hash)."""
    return {
        "prefix": key.prefix,
        "member": key.member,
        "alias": key.alias,
        "tenant_id": key.tenant_id,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "allowed_models": key.allowed_models,
        "rpm": key.rpm,
        "tpm": key.tpm,
        "budget_usd": key.budget_usd,
    }


def check_within_tenant(tenant: Tenant, rpm: Any, tpm: Any, budget_usd: Any) -> None:
    """A member's key never gets more than its tenant has (a tenant-admin delegates within the tenant)."""
    for label, value, ceiling in (
        ("rpm", rpm, tenant.rpm),
        ("tpm", tpm, tenant.tpm),
        ("budget_usd", budget_usd, tenant.budget_usd),
    ):
        if isinstance(value, int | float) and ceiling is not None and value > ceiling:
            raise ValueError(f"{label} {value:g} is more than tenant {tenant.name}'s {ceiling:g}")


def key_spec(key: ApiKey) -> KeySpec:
    """What the request path knows about a key."""
    # Imported here: the request path's types are for the snapshot, not for `router key list`.
    from router.routing.model import KeySpec, Limits

    return KeySpec(
        id=key.id,
        tenant_id=key.tenant_id,
        member=key.member,
        prefix=key.prefix,
        expires_at=as_utc(key.expires_at),
        revoked=key.revoked_at is not None,
        allowed_models=tuple(key.allowed_models) if key.allowed_models is not None else None,
        limits=Limits(rpm=key.rpm, tpm=key.tpm, budgets=budget_specs(key.budgets, "key")),
    )


async def create_key(
    session: AsyncSession,
    tenant_name: str,
    member: str,
    expires: timedelta | None = None,
    *,
    rpm: int | None = None,
    tpm: int | None = None,
    budget_usd: float | None = None,
    allowed_models: Sequence[str] | None = None,
    alias: str | None = None,
    actor: str = "cli",
) -> tuple[ApiKey, str]:
    """A new key for `member` of the tenant; returns the row and the plaintext (shown once, never stored)."""
    alias = check_alias(alias)
    member = check_member(member)
    check_limits(rpm, tpm, budget_usd)
    tenant = await get_tenant(session, tenant_name)
    check_within_tenant(tenant, rpm, tpm, budget_usd)
    while True:
        plaintext = generate_key()
        prefix = key_prefix(plaintext)
        # 64**6 prefixes: a clash is rare, but the prefix is unique and names the key, so draw again.
        if await session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    key = ApiKey(
        tenant_id=tenant.id,
        member=member,
        alias=alias,
        key_hash=hash_key(plaintext),
        prefix=prefix,
        created_at=utcnow(),
        expires_at=utcnow() + expires if expires is not None else None,
        allowed_models=list(allowed_models) if allowed_models is not None else None,
        rpm=rpm,
        tpm=tpm,
        budget_usd=budget_usd,
    )
    session.add(key)
    await session.flush()  # the audit entry names the key by its id
    await changed(session, actor, "create", "api_key", key.id, key.prefix, None, key_state(key), tenant.id)
    key.tenant = tenant
    return key, plaintext


async def list_keys(
    session: AsyncSession, tenant_name: str | None = None, *, include_revoked: bool = True
) -> list[ApiKey]:
    """Keys (with `.tenant` loaded), optionally of one tenant, oldest first."""
    query = select(ApiKey).options(selectinload(ApiKey.tenant)).order_by(ApiKey.created_at, ApiKey.id)
    if tenant_name is not None:
        tenant = await get_tenant(session, tenant_name)
        query = query.where(ApiKey.tenant_id == tenant.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list((await session.scalars(query)).all())


async def members_by_prefix(session: AsyncSession, prefixes: Collection[str]) -> dict[str, str]:
    """The member each key prefix belongs to (for naming keys in usage tables)."""
    wanted = sorted({p for p in prefixes if p})
    if not wanted:
        return {}
    rows = await session.execute(select(ApiKey.prefix, ApiKey.member).where(ApiKey.prefix.in_(wanted)))
    return {prefix: member for prefix, member in rows.all()}


async def get_key(session: AsyncSession, prefix: str) -> ApiKey:
    """The key with this visible prefix (a full key also works: only its prefix is used)."""
    prefix = key_prefix(prefix.strip())
    key = await session.scalar(
        select(ApiKey).options(selectinload(ApiKey.tenant)).where(ApiKey.prefix == prefix)
    )
    if key is None:
        raise NotFoundError(f"no key with prefix {prefix!r}")
    return key


async def revoke_key(session: AsyncSession, prefix: str, *, actor: str = "cli") -> ApiKey:
    """Revoke the key (revoking a revoked key changes nothing)."""
    key = await get_key(session, prefix)
    if key.revoked_at is not None:
        return key
    before = key_state(key)
    key.revoked_at = utcnow()
    await changed(
        session, actor, "revoke", "api_key", key.id, key.prefix, before, key_state(key), key.tenant_id
    )
    return key


async def set_key_limits(
    session: AsyncSession,
    prefix: str,
    rpm: int | Keep | None = ...,
    tpm: int | Keep | None = ...,
    budget_usd: float | Keep | None = ...,
    allowed_models: Sequence[str] | Keep | None = ...,
    *,
    actor: str = "cli",
) -> ApiKey:
    """Change a key's limits: `...` leaves a value as it is, None removes the limit."""
    key = await get_key(session, prefix)
    if key.revoked_at is not None:
        raise StoreError(f"key {key.prefix} is revoked")
    check_limits(rpm, tpm, budget_usd)
    tenant = await session.get(Tenant, key.tenant_id)
    if tenant is not None:
        check_within_tenant(tenant, rpm, tpm, budget_usd)
    before = key_state(key)
    if not isinstance(rpm, EllipsisType):
        key.rpm = rpm
    if not isinstance(tpm, EllipsisType):
        key.tpm = tpm
    if not isinstance(budget_usd, EllipsisType):
        key.budget_usd = budget_usd
    if not isinstance(allowed_models, EllipsisType):
        key.allowed_models = list(allowed_models) if allowed_models is not None else None
    after = key_state(key)
    if after == before:
        return key
    await changed(session, actor, "update", "api_key", key.id, key.prefix, before, after, key.tenant_id)
    return key


async def find_key_by_hash(session: AsyncSession, key_hash: str) -> KeySpec | None:
    """The key with this hash, revoked or not (the gateway's cache miss); None when unknown."""
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
    return key_spec(key) if key is not None else None


async def find_keys_by_hashes(session: AsyncSession, key_hashes: Sequence[str]) -> dict[str, KeySpec]:
    """The keys with these hashes, revoked or not, in one query (the gateway's batched cache misses)."""
    if not key_hashes:
        return {}
    rows = await session.scalars(select(ApiKey).where(ApiKey.key_hash.in_(list(key_hashes))))
    return {key.key_hash: key_spec(key) for key in rows.all()}


def is_expired(key: ApiKey | KeySpec, now: datetime | None = None) -> bool:
    expires_at = as_utc(key.expires_at)
    if expires_at is None:
        return False
    return expires_at <= (now or utcnow())


async def rotate_key(
    session: AsyncSession, prefix: str, grace: timedelta, *, actor: str = "cli"
) -> tuple[ApiKey, str]:
    """A new secret with the same member, limits, models and expiry; the old key keeps working for `grace`
    (zero: it stops at once) and then expires. Returns the new row and its plaintext (shown once)."""
    if grace < timedelta(0) or grace > timedelta(days=30):
        raise ValueError("the grace period must be between 0 and 30 days")
    old = await get_key(session, prefix)
    if old.revoked_at is not None:
        raise StoreError(f"key {old.prefix} is revoked: re-enable it or issue a new key")
    now = utcnow()
    remaining = as_utc(old.expires_at) - now if old.expires_at is not None else None
    if remaining is not None and remaining <= timedelta(0):
        raise StoreError(f"key {old.prefix} has expired: issue a new key instead")
    new, plaintext = await create_key(
        session,
        old.tenant.name,
        old.member,
        remaining,
        rpm=old.rpm,
        tpm=old.tpm,
        budget_usd=old.budget_usd,
        allowed_models=old.allowed_models,
        alias=old.alias,
        actor=actor,
    )
    await copy_key_budgets(session, old, new, actor=actor)
    before = key_state(old)
    ends = now + grace
    if old.expires_at is None or as_utc(old.expires_at) > ends:
        old.expires_at = ends
    await changed(
        session, actor, "rotate", "api_key", old.id, old.prefix, before, key_state(old), old.tenant_id
    )
    return new, plaintext


async def reenable_key(session: AsyncSession, prefix: str, *, actor: str = "cli") -> ApiKey:
    """Undo a revocation (re-enabling an active key changes nothing)."""
    key = await get_key(session, prefix)
    if key.revoked_at is None:
        return key
    before = key_state(key)
    key.revoked_at = None
    await changed(
        session, actor, "re-enable", "api_key", key.id, key.prefix, before, key_state(key), key.tenant_id
    )
    return key


def check_alias(alias: str | None) -> str | None:
    """A trimmed alias of at most ALIAS_CHARS printable characters (None or blank: no alias)."""
    alias = (alias or "").strip() or None
    if alias is not None and (len(alias) > ALIAS_CHARS or any(ord(ch) < 32 for ch in alias)):
        raise ValueError(f"the alias must be at most {ALIAS_CHARS} printable characters")
    return alias


async def set_key_alias(
    session: AsyncSession, prefix: str, alias: str | None, *, actor: str = "cli"
) -> ApiKey:
    key = await get_key(session, prefix)
    before = key_state(key)
    key.alias = check_alias(alias)
    after = key_state(key)
    if after != before:
        await changed(session, actor, "update", "api_key", key.id, key.prefix, before, after, key.tenant_id)
    return key


async def set_key_expiry(
    session: AsyncSession, prefix: str, expires_at: datetime | None, *, actor: str = "cli"
) -> ApiKey:
    """Set when the key stops working (None: never)."""
    key = await get_key(session, prefix)
    before = key_state(key)
    key.expires_at = expires_at
    after = key_state(key)
    if after != before:
        await changed(session, actor, "update", "api_key", key.id, key.prefix, before, after, key.tenant_id)
    return key


async def search_keys(
    session: AsyncSession,
    *,
    text: str | None = None,
    status: str | None = None,
    tenant_ids: Collection[int] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ApiKey], int]:
    """Keys across tenants whose member or prefix contains `text`, by status ("active", "revoked",
    "expired"), newest first; and how many match in all (for paging)."""
    query = select(ApiKey)
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            ApiKey.member.ilike(pattern, escape="\\")
            | ApiKey.prefix.ilike(pattern, escape="\\")
            | ApiKey.alias.ilike(pattern, escape="\\")
        )
    now = utcnow()
    if status == "revoked":
        query = query.where(ApiKey.revoked_at.is_not(None))
    elif status == "expired":
        query = query.where(ApiKey.revoked_at.is_(None), ApiKey.expires_at <= now)
    elif status == "active":
        query = query.where(
            ApiKey.revoked_at.is_(None), ApiKey.expires_at.is_(None) | (ApiKey.expires_at > now)
        )
    if tenant_ids is not None:
        query = query.where(ApiKey.tenant_id.in_(list(tenant_ids)))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.options(selectinload(ApiKey.tenant))
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)
