"""Company sign-in rows shared by both sign-ins: the SSO group mappings and tenants' managed settings. OIDC
login states are in store/oidc_logins.py, Claude Code's device authorizations and sessions in
store/member_signin.py.

Sign-in flows write here; the request path never reads here (it reads the identity snapshot). A change that
must reach every replica's snapshot (a mapping, a managed settings document) bumps the config version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.audit import changed
from router.store.models import SsoMapping, Tenant


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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
