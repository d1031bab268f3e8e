"""The admin-user service shared by the CLI, the admin-users page and the management API.

Checks a role against its tenants once, here, then lets store/admins.py write it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from router.identity.roles import Role, validate_grant
from router.store import admins as admin_store
from router.store import api_tokens
from router.store.identity_models import AdminApiToken, AdminUser


def _grant(role: str | Role, tenants: Sequence[str]) -> Role:
    parsed = role if isinstance(role, Role) else Role.parse(role)
    # Tenant names are resolved by the store; here only "how many" matters.
    validate_grant(parsed, list(range(len([name for name in tenants if name.strip()]))))
    return parsed


async def create_user(
    session: AsyncSession,
    username: str,
    password: str | None,
    *,
    role: str | Role,
    tenants: Sequence[str] = (),
    actor: str,
) -> AdminUser:
    parsed = _grant(role, tenants)
    return await admin_store.create_user(
        session, username, password, role=parsed.value, tenants=[t for t in tenants if t.strip()], actor=actor
    )


async def create_api_token(
    session: AsyncSession,
    *,
    name: str,
    role: str | Role,
    tenants: Sequence[str] = (),
    expires: timedelta | None,
    actor: str,
) -> tuple[AdminApiToken, str]:
    """A management API token acting with this role (checked against its tenants like a user's)."""
    parsed = _grant(role, tenants)
    return await api_tokens.create_api_token(
        session,
        name=name,
        role=parsed.value,
        tenants=[t for t in tenants if t.strip()],
        expires=expires,
        actor=actor,
    )


async def set_role(
    session: AsyncSession, username: str, role: str | Role, tenants: Sequence[str] = (), *, actor: str
) -> AdminUser:
    parsed = _grant(role, tenants)
    return await admin_store.set_role(
        session, username, parsed.value, [t for t in tenants if t.strip()], actor=actor
    )
