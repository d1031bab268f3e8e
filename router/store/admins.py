"""Admin users: roles and tenants, argon2 password hashes, disable/enable/delete, and sign-in checks.

Every change that must reach signed-in browsers on other replicas (role, tenants, password, disable,
delete) bumps the config version in its transaction: each process drops its session cache when the version
moves. A password change, a disable or a delete also ends the user's sessions.
Failed sign-ins are counted in store/throttle.py, per user name whether the name exists or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.lengths import ADMIN_NAME_CHARS
from router.store.audit import changed
from router.store.db import AlreadyExistsError, NotFoundError
from router.store.identity_models import AdminSessionRow, AdminUser, AdminUserTenant
from router.store.models import Tenant, utcnow
from router.store.throttle import clear_failures

OWNER = "owner"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
# A hash no password verifies against: users who only sign in through the identity provider.
NO_PASSWORD = "!"

_hasher = PasswordHasher()
_T = TypeVar("_T")


def _lower_priority() -> None:
    # Linux keeps the nice value per thread, and argon2's lane threads inherit it from this one: password
    # checks then take only the CPU the event loop (and the /v1 requests on it) leaves over.
    with contextlib.suppress(OSError):  # not permitted here: the check still runs, at normal priority
        os.nice(19)


# One thread for every argon2 computation of the process (signin.py also admits one check at a time and
# queues a few), at the lowest priority; never the event loop's thread.
_ARGON2 = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2", initializer=_lower_priority)
_dummy: str | None = None


async def _argon2(fn: Callable[..., _T], *args: Any) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_ARGON2, fn, *args)


async def _dummy_hash() -> str:
    """Verified against when the user does not exist, so that a wrong name costs as long as a wrong password.

    Made on first use, not at import (CLI commands that sign no one in should not pay for it), and off the
    event loop.
    """
    global _dummy
    if _dummy is None:
        _dummy = await _argon2(_hasher.hash, "router: no such user")
    return _dummy


@dataclass(frozen=True, slots=True)
class UserView:
    """An admin user as lists and the CLI show it (never the hash)."""

    id: int
    username: str
    role: str
    tenants: list[str]
    disabled: bool
    created_at: Any
    last_login_at: Any


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")


def validate_username(username: str) -> str:
    """1-ADMIN_NAME_CHARS printable characters without spaces. An SSO admin's name is the IdP's e-mail or
    subject as it comes: an apostrophe in an address, Auth0's "auth0|…", a pairwise subject starting with
    "-". Pages escape it and no URL carries it (users are addressed by id)."""
    username = username.strip()
    if not 1 <= len(username) <= ADMIN_NAME_CHARS or " " in username or not username.isprintable():
        raise ValueError(
            f"invalid user name {username[:ADMIN_NAME_CHARS]!r}: use 1-{ADMIN_NAME_CHARS} printable "
            "characters without spaces"
        )
    return username


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AdminUser)) or 0)


async def find_user(session: AsyncSession, username: str) -> AdminUser | None:
    return await session.scalar(select(AdminUser).where(AdminUser.username == username.strip()))


async def get_user(session: AsyncSession, username: str) -> AdminUser:
    user = await find_user(session, username)
    if user is None:
        raise NotFoundError(f"no admin user named {username.strip()[:ADMIN_NAME_CHARS]!r}")
    return user


async def get_user_by_id(session: AsyncSession, user_id: int) -> AdminUser | None:
    return await session.get(AdminUser, user_id)


async def tenant_ids_by_name(session: AsyncSession, names: Sequence[str]) -> list[int]:
    """The ids of these tenants (NotFoundError naming the first unknown one)."""
    ids: list[int] = []
    for name in names:
        tenant_id = await session.scalar(select(Tenant.id).where(Tenant.name == name.strip()))
        if tenant_id is None:
            raise NotFoundError(f"no tenant named {name.strip()[:100]!r}")
        ids.append(int(tenant_id))
    return sorted(set(ids))


async def tenant_names(session: AsyncSession, ids: Sequence[int]) -> list[str]:
    if not ids:
        return []
    rows = await session.scalars(select(Tenant.name).where(Tenant.id.in_(list(ids))).order_by(Tenant.name))
    return list(rows)


async def user_view(session: AsyncSession, user: AdminUser) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        role=user.role,
        tenants=await tenant_names(session, user.tenant_ids),
        disabled=user.disabled,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


async def list_users(session: AsyncSession) -> list[UserView]:
    users = await session.scalars(select(AdminUser).order_by(AdminUser.username))
    return [await user_view(session, user) for user in users]


def _state(user: AdminUser, tenants: Sequence[str]) -> dict[str, Any]:
    return {"username": user.username, "role": user.role, "tenants": list(tenants), "disabled": user.disabled}


async def _changed(
    session: AsyncSession,
    user: AdminUser,
    action: str,
    actor: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await changed(session, actor, action, "admin_user", user.id, user.username, before, after)


async def create_user(
    session: AsyncSession,
    username: str,
    password: str | None,
    *,
    role: str = OWNER,
    tenants: Sequence[str] = (),
    actor: str = "cli",
) -> AdminUser:
    """A new user; `password` None makes one who can only sign in through the identity provider.

    The role is taken as given: router/identity/users.py checks roles against tenants before calling this.
    """
    username = validate_username(username)
    if password is not None:
        validate_password(password)
    tenant_ids = await tenant_ids_by_name(session, tenants)
    if await find_user(session, username) is not None:
        raise AlreadyExistsError(f"an admin user named {username!r} already exists")
    user = AdminUser(
        username=username,
        password_hash=await _hash(password) if password is not None else NO_PASSWORD,
        created_at=utcnow(),
        failed_logins=0,
        role=role,
        disabled=False,
        tenant_links=[AdminUserTenant(tenant_id=tenant_id) for tenant_id in tenant_ids],
    )
    session.add(user)
    await session.flush()
    await _changed(
        session, user, "create", actor, None, _state(user, await tenant_names(session, tenant_ids))
    )
    return user


async def set_role(
    session: AsyncSession,
    username: str,
    role: str,
    tenants: Sequence[str] = (),
    *,
    actor: str = "cli",
) -> AdminUser:
    """Change a user's role and tenants; signed-in sessions carry the new role on their next request."""
    user = await get_user(session, username)
    tenant_ids = await tenant_ids_by_name(session, tenants)
    await _keep_an_owner(session, user, role)
    if user.role == role and user.tenant_ids == tenant_ids:
        return user  # the role and tenants it has: no change, no audit entry, no bump
    before = _state(user, await tenant_names(session, user.tenant_ids))
    user.role = role
    user.tenant_links = [AdminUserTenant(user_id=user.id, tenant_id=tenant_id) for tenant_id in tenant_ids]
    await session.flush()
    await _changed(
        session, user, "set_role", actor, before, _state(user, await tenant_names(session, tenant_ids))
    )
    return user


async def set_disabled(
    session: AsyncSession, username: str, disabled: bool, *, actor: str = "cli"
) -> AdminUser:
    """Disable (ending every session of the user) or enable a user."""
    user = await get_user(session, username)
    if disabled:
        await _keep_an_owner(session, user, None)
    before = {"disabled": user.disabled}
    user.disabled = disabled
    if disabled:
        await end_sessions(session, user.id)
    await session.flush()
    await _changed(session, user, "disable" if disabled else "enable", actor, before, {"disabled": disabled})
    return user


async def delete_user(session: AsyncSession, username: str, *, actor: str = "cli") -> None:
    user = await get_user(session, username)
    await _keep_an_owner(session, user, None)
    before = _state(user, await tenant_names(session, user.tenant_ids))
    await end_sessions(session, user.id)
    await _changed(session, user, "delete", actor, before, None)
    await session.delete(user)
    await session.flush()


async def set_password(
    session: AsyncSession, username: str, password: str, *, actor: str = "cli"
) -> AdminUser:
    """Set a new password and end the user's sessions everywhere (a stolen cookie dies with the old one)."""
    user = await get_user(session, username)
    validate_password(password)
    user.password_hash = await _hash(password)
    user.failed_logins = 0
    user.locked_until = None
    await end_sessions(session, user.id)
    await session.flush()
    await _changed(session, user, "set_password", actor, None, {"password": "changed"})
    return user


async def clear_sign_in_lock(session: AsyncSession, username: str) -> None:
    await clear_failures(session, username)


async def end_sessions(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(AdminSessionRow).where(AdminSessionRow.user_id == user_id))


async def _keep_an_owner(session: AsyncSession, user: AdminUser, new_role: str | None) -> None:
    """Refuse to demote, disable or delete the last enabled owner (nobody could manage users any more)."""
    if user.role != OWNER or user.disabled or new_role == OWNER:
        return
    owners = await session.scalar(
        select(func.count())
        .select_from(AdminUser)
        .where(AdminUser.role == OWNER, AdminUser.disabled.is_(False))
    )
    if int(owners or 0) <= 1:
        raise ValueError(f"{user.username!r} is the last enabled owner: make another owner first")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# argon2 is deliberately slow (0.1-0.6 s of CPU on several threads): on the low-priority argon2 thread, so
# sign-ins do not stall other requests or take their CPU.
async def password_matches(user: AdminUser | None, password: str) -> bool:
    """Whether `password` is the user's; a missing user costs the same time as a wrong password."""
    if user is None:
        await _argon2(_verify, await _dummy_hash(), password)
        return False
    return await _argon2(_verify, user.password_hash, password)


async def rehash_if_needed(user: AdminUser, password: str) -> None:
    if user.password_hash != NO_PASSWORD and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await _hash(password)


async def _hash(password: str) -> str:
    return await _argon2(_hasher.hash, password)
