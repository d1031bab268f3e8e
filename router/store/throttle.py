"""Sign-in throttling kept in the database, so that it holds across replicas and under concurrency.

Two kinds of row in `sign_in_throttle`:
- `user:<name>` counts failed sign-ins in a row for a user name, whether or not such a user exists (a lock
  on known names only would tell an attacker which names exist). The attempt is charged *before* the
  password is checked, in one atomic UPDATE that also refuses while locked: 40 parallel wrong passwords then
  lock the name exactly as 5 sequential ones do (only 5 are ever checked). A success clears the count.
- `addr:<client address>` counts attempts per fixed window, so one client cannot make us run argon2 without
  bound.

Each function runs its own statement in the caller's session; the caller commits at once so that other
attempts see it before the (slow) password check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.lengths import THROTTLE_KEY_CHARS
from router.store.db import as_utc, conflict_insert
from router.store.identity_models import SignInThrottle
from router.store.models import utcnow

LOCK_AFTER_FAILURES = 5
BASE_LOCK_SECONDS = 30.0
MAX_LOCK_SECONDS = 3600.0
MAX_KEY_LENGTH = THROTTLE_KEY_CHARS


def lock_seconds(failures: int) -> float:
    """How long a name stays locked after this many failures in a row (0: not locked)."""
    if failures < LOCK_AFTER_FAILURES:
        return 0.0
    return float(min(BASE_LOCK_SECONDS * 2.0 ** min(failures - LOCK_AFTER_FAILURES, 30), MAX_LOCK_SECONDS))


def user_key(username: str) -> str:
    return ("user:" + username.strip().lower())[:MAX_KEY_LENGTH]


def address_key(address: str) -> str:
    return ("addr:" + address)[:MAX_KEY_LENGTH]


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of charging one attempt: allowed (with the count so far) or locked until a time."""

    allowed: bool
    failures: int
    locked_until: datetime | None = None


async def _ensure_row(session: AsyncSession, key: str) -> None:
    values: dict[str, Any] = {"key": key, "failures": 0}
    await session.execute(conflict_insert(session, SignInThrottle).values(values).on_conflict_do_nothing())


def _lock_expression(now: datetime) -> Any:
    """SQL for "the lock after failures + 1", from the same table as lock_seconds (portable: no pow())."""
    whens = []
    failures = LOCK_AFTER_FAILURES
    while lock_seconds(failures) < MAX_LOCK_SECONDS:
        whens.append(
            (SignInThrottle.failures + 1 == failures, now + timedelta(seconds=lock_seconds(failures)))
        )
        failures += 1
    return case(
        (SignInThrottle.failures + 1 < LOCK_AFTER_FAILURES, None),
        *whens,
        else_=now + timedelta(seconds=MAX_LOCK_SECONDS),
    )


async def charge_failure(session: AsyncSession, username: str, *, now: datetime | None = None) -> Claim:
    """Count one attempt on a name before checking its password; refused (nothing counted) while locked."""
    now = now or utcnow()
    key = user_key(username)
    await _ensure_row(session, key)
    result = await session.execute(
        update(SignInThrottle)
        .where(
            SignInThrottle.key == key,
            or_(SignInThrottle.locked_until.is_(None), SignInThrottle.locked_until <= now),
        )
        .values(failures=SignInThrottle.failures + 1, locked_until=_lock_expression(now))
        .returning(SignInThrottle.failures, SignInThrottle.locked_until)
        .execution_options(synchronize_session=False)
    )
    row = result.first()
    if row is not None:
        return Claim(allowed=True, failures=int(row[0]), locked_until=as_utc(row[1]))
    locked_until = await session.scalar(select(SignInThrottle.locked_until).where(SignInThrottle.key == key))
    return Claim(allowed=False, failures=-1, locked_until=as_utc(locked_until))


async def clear_failures(session: AsyncSession, username: str) -> None:
    """A successful sign-in: the name starts again from zero."""
    await session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key == user_key(username))
        .values(failures=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )


async def charge_address(
    session: AsyncSession, address: str, *, window_seconds: float, now: datetime | None = None
) -> int:
    """Count one attempt from a client address in its fixed window; returns the count including this one."""
    now = now or utcnow()
    key = address_key(address)
    await _ensure_row(session, key)
    stale = or_(
        SignInThrottle.window_start.is_(None),
        SignInThrottle.window_start <= now - timedelta(seconds=window_seconds),
    )
    result = await session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key == key)
        .values(
            failures=case((stale, 1), else_=SignInThrottle.failures + 1),
            window_start=case((stale, now), else_=SignInThrottle.window_start),
        )
        .returning(SignInThrottle.failures)
        .execution_options(synchronize_session=False)
    )
    return int(result.scalar_one())


async def address_retry_after(
    session: AsyncSession, address: str, *, window_seconds: float, now: datetime | None = None
) -> int:
    """Seconds until the address's window starts again."""
    now = now or utcnow()
    start = as_utc(
        await session.scalar(
            select(SignInThrottle.window_start).where(SignInThrottle.key == address_key(address))
        )
    )
    if start is None:
        return 1
    return max(1, int((start + timedelta(seconds=window_seconds) - now).total_seconds()) + 1)
