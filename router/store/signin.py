"""Company sign-in rows shared by both sign-ins: OIDC login states, the SSO group mappings, and tenants'
managed settings. Claude Code's device authorizations and sessions are in store/member_signin.py.

Sign-in flows write here; the request path never reads here (it reads the identity snapshot). A change that
must reach every replica's snapshot (a mapping, a managed settings document) bumps the config version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.audit import changed
from router.store.db import as_utc
from router.store.identity_models import OidcLogin
from router.store.models import SsoMapping, Tenant, utcnow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- OIDC login states ------------------------------------------------------------------------------------


async def save_login(
    session: AsyncSession,
    *,
    state: str,
    purpose: str,
    code_verifier: str,
    nonce: str,
    payload: dict[str, Any],
    browser_hash: str | None,
    ttl: timedelta,
) -> None:
    now = utcnow()
    # Trips never finished leave rows behind: sweep the expired ones while we are here.
    await session.execute(delete(OidcLogin).where(OidcLogin.expires_at < now))
    session.add(
        OidcLogin(
            state=state,
            purpose=purpose,
            code_verifier=code_verifier,
            nonce=nonce,
            payload=payload,
            browser_hash=browser_hash,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()


@dataclass(frozen=True, slots=True)
class LoginState:
    state: str
    purpose: str
    code_verifier: str
    nonce: str
    payload: dict[str, Any]
    browser_hash: str | None


async def take_login(session: AsyncSession, state: str) -> LoginState | None:
    """The unexpired login with this state, deleted as it is read: a state finishes at most one sign-in,
    even when two replicas get the same callback at once."""
    row = await session.get(OidcLogin, state)
    if row is None:
        return None
    found = LoginState(
        row.state, row.purpose, row.code_verifier, row.nonce, dict(row.payload), row.browser_hash
    )
    expired = (as_utc(row.expires_at) or utcnow()) <= utcnow()
    result = await session.execute(delete(OidcLogin).where(OidcLogin.state == state))
    if getattr(result, "rowcount", 0) != 1 or expired:
        return None
    return found


# -- SSO mappings -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemberMapping:
    group: str
    tenant: str
    managed_settings: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AdminMapping:
    group: str
    role: str
    tenants: tuple[str, ...] | None = None


async def list_sso_mappings(session: AsyncSession) -> tuple[list[MemberMapping], list[AdminMapping]]:
    rows = (
        await session.execute(
            select(SsoMapping, Tenant.name)
            .outerjoin(Tenant, Tenant.id == SsoMapping.tenant_id)
            .order_by(SsoMapping.kind, SsoMapping.position, SsoMapping.id)
        )
    ).all()
    members = [
        MemberMapping(m.group, name, dict(m.managed_settings) if m.managed_settings is not None else None)
        for m, name in rows
        if m.kind == "member" and name is not None
    ]
    admins = [
        AdminMapping(m.group, m.role or "viewer", tuple(m.tenants) if m.tenants is not None else None)
        for m, _ in rows
        if m.kind == "admin"
    ]
    return members, admins


async def replace_sso_mappings(
    session: AsyncSession,
    members: Sequence[MemberMapping],
    admins: Sequence[AdminMapping],
    *,
    actor: str,
) -> bool:
    """Make the mappings exactly these (tenants must exist); True when anything changed."""
    before = await list_sso_mappings(session)
    if (list(members), list(admins)) == before:
        return False
    tenant_ids = {t.name: t.id for t in (await session.scalars(select(Tenant))).all()}
    await session.execute(delete(SsoMapping))
    for i, m in enumerate(members):
        session.add(
            SsoMapping(
                kind="member",
                group=m.group,
                tenant_id=tenant_ids[m.tenant],
                managed_settings=m.managed_settings,
                position=i,
            )
        )
    for i, a in enumerate(admins):
        session.add(
            SsoMapping(
                kind="admin",
                group=a.group,
                role=a.role,
                tenants=list(a.tenants) if a.tenants is not None else None,
                position=i,
            )
        )
    await session.flush()
    await changed(
        session,
        actor,
        "update",
        "sso",
        None,
        "sso",
        _mappings_state(*before),
        _mappings_state(list(members), list(admins)),
    )
    return True


def _mappings_state(members: list[MemberMapping], admins: list[AdminMapping]) -> dict[str, Any]:
    return {
        "members": [{"group": m.group, "tenant": m.tenant} for m in members],
        "admins": [{"group": a.group, "role": a.role, "tenants": a.tenants} for a in admins],
    }


async def tenant_managed_settings(session: AsyncSession) -> dict[int, dict[str, Any]]:
    rows = await session.execute(
        select(Tenant.id, Tenant.managed_settings).where(Tenant.managed_settings.is_not(None))
    )
    return {tid: dict(doc) for tid, doc in rows.all() if isinstance(doc, dict)}


async def set_tenant_managed_settings(
    session: AsyncSession, tenant: Tenant, settings: dict[str, Any] | None, *, actor: str
) -> bool:
    before = tenant.managed_settings
    if before == settings:
        return False
    tenant.managed_settings = settings
    await session.flush()
    await changed(
        session,
        actor,
        "update",
        "managed_settings",
        tenant.id,
        tenant.name,
        {"managed_settings": before},
        {"managed_settings": settings},
        tenant.id,
    )
    return True
