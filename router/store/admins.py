"""Admin users: argon2 password hashes, and a slow-down after failed sign-ins kept in the row.

After `LOCK_AFTER_FAILURES` failures in a row the account is locked for `BASE_LOCK_SECONDS`, doubling with
each further failure up to `MAX_LOCK_SECONDS`; a success resets the count. Being in the database, the lock
holds across replicas.
"""

from __future__ import annotations

import asyncio
import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.audit import record_audit
from router.store.db import AlreadyExistsError, NotFoundError, as_utc
from router.store.models import AdminUser, utcnow

LOCK_AFTER_FAILURES = 5
BASE_LOCK_SECONDS = 30.0
MAX_LOCK_SECONDS = 3600.0
MIN_PASSWORD_LENGTH = 8

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_hasher = PasswordHasher()
# Verified against when the user does not exist, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("router: no such user")


class LoginStatus(enum.Enum):
    OK = "ok"
    INVALID = "invalid"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class LoginResult:
    status: LoginStatus
    user: AdminUser | None = None
    # While LOCKED: when the next attempt will be considered.
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status is LoginStatus.OK


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def lock_seconds(failures: int) -> float:
    """How long an account stays locked after this many failures in a row (0: not locked)."""
    if failures < LOCK_AFTER_FAILURES:
        return 0.0
    return float(min(BASE_LOCK_SECONDS * 2.0 ** (failures - LOCK_AFTER_FAILURES), MAX_LOCK_SECONDS))


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AdminUser)) or 0)


async def find_user(session: AsyncSession, username: str) -> AdminUser | None:
    return await session.scalar(select(AdminUser).where(AdminUser.username == username.strip()))


async def create_user(
    session: AsyncSession, username: str, password: str, *, actor: str = "cli"
) -> AdminUser:
    username = username.strip()
    if not _USERNAME.match(username):
        raise ValueError(f"invalid user name {username!r}: use 1-100 letters, digits, '.', '_', '@' or '-'")
    validate_password(password)
    if await find_user(session, username) is not None:
        raise AlreadyExistsError(f"an admin user named {username!r} already exists")
    user = AdminUser(
        username=username, password_hash=await _hash(password), created_at=utcnow(), failed_logins=0
    )
    session.add(user)
    await session.flush()
    await record_audit(
        session,
        actor=actor,
        action="create",
        object_type="admin_user",
        object_id=str(user.id),
        object_name=user.username,
        before=None,
        after={"username": user.username},
    )
    return user


async def set_password(
    session: AsyncSession, username: str, password: str, *, actor: str = "cli"
) -> AdminUser:
    """Set a new password; also lifts any lock."""
    user = await find_user(session, username)
    if user is None:
        raise NotFoundError(f"no admin user named {username.strip()!r}")
    validate_password(password)
    user.password_hash = await _hash(password)
    user.failed_logins = 0
    user.locked_until = None
    await session.flush()
    await record_audit(
        session,
        actor=actor,
        action="set_password",
        object_type="admin_user",
        object_id=str(user.id),
        object_name=user.username,
        before=None,
        after={"password": "changed"},
    )
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# argon2 is deliberately slow (~0.1 s of CPU): off the event loop, so sign-ins do not stall other requests.
async def _matches(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(_verify, password_hash, password)


async def _hash(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(
    session: AsyncSession, username: str, password: str, *, now: datetime | None = None
) -> LoginResult:
    """Check a sign-in, counting failures in the row; the caller commits the session.

    A locked account is refused without looking at the password, so guessing during the lock gains nothing.
    """
    now = now or utcnow()
    user = await find_user(session, username)
    if user is None:
        await _matches(_DUMMY_HASH, password)
        return LoginResult(LoginStatus.INVALID)
    locked_until = as_utc(user.locked_until)
    if locked_until is not None and locked_until > now:
        return LoginResult(LoginStatus.LOCKED, locked_until=locked_until)
    if not await _matches(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        seconds = lock_seconds(user.failed_logins)
        user.locked_until = now + timedelta(seconds=seconds) if seconds else None
        await session.flush()
        if user.locked_until is not None:
            return LoginResult(LoginStatus.LOCKED, locked_until=user.locked_until)
        return LoginResult(LoginStatus.INVALID)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await _hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    await session.flush()
    return LoginResult(LoginStatus.OK, user=user)
