"""Password sign-in for the admin page: per-address rate limit, per-name lock, argon2, then a session.

The order is what makes it hold under load and concurrency:
1. the client address is charged: first in this process's memory (an address over the limit here is
   refused without any query), then in the database (one atomic UPDATE, the count all replicas share);
   over the limit -> refused, no argon2;
2. the user name is charged before its password is checked (store/throttle.py), known or not;
3. at most `ARGON2_SLOTS` password checks run at once in this process, a few more may wait; the rest are
   refused, so a flood of sign-ins cannot take the CPU from /v1 traffic (the checks themselves run on a
   lowest-priority thread: store/admins.py);
4. a right password clears the name's count and opens a server-side session.
Each step commits on its own, so that other replicas see it before the slow check. A refused attempt is
answered only after `policy.refusal_hold_seconds` (a sleep: no CPU), so a client that sends its next attempt
as soon as it has the last answer (a closed loop, as sprayers run) gets at most one refusal a second per
connection instead of as many as the event loop can render, the load that slowed /v1 during a flood.
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass
from datetime import datetime

from router.config.lengths import ADMIN_NAME_CHARS
from router.store import admins as admin_store
from router.store import sessions as session_store
from router.store import throttle
from router.store.audit import record_audit
from router.store.db import Database, DatabaseBusyError
from router.store.identity_models import AdminUser
from router.store.models import utcnow

ARGON2_SLOTS = 1
ARGON2_WAITERS = 4
# How long the admin page holds a rate-limited sign-in before answering it.
REFUSAL_HOLD_SECONDS = 1.0


class SignInStatus(enum.Enum):
    OK = "ok"
    INVALID = "invalid"
    LOCKED = "locked"  # this user name: too many failures in a row
    RATE_LIMITED = "rate_limited"  # this client address, or the process is busy checking passwords


@dataclass(frozen=True, slots=True)
class SignInResult:
    status: SignInStatus
    token: str | None = None
    user: AdminUser | None = None
    retry_after: int = 0

    @property
    def ok(self) -> bool:
        return self.status is SignInStatus.OK


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    absolute_seconds: float
    attempts_per_address: int
    address_window_seconds: float
    allow_passwords: bool = True
    refusal_hold_seconds: float = 0.0


class _Argon2Gate:
    """A bounded number of concurrent password checks per process, and a bounded queue in front of them."""

    def __init__(self, slots: int, waiters: int) -> None:
        self._semaphore = asyncio.Semaphore(slots)
        self._capacity = slots + waiters
        self._inside = 0

    def try_enter(self) -> bool:
        if self._inside >= self._capacity:
            return False
        self._inside += 1
        return True

    def leave(self) -> None:
        self._inside -= 1

    @property
    def semaphore(self) -> asyncio.Semaphore:
        return self._semaphore


_gate = _Argon2Gate(ARGON2_SLOTS, ARGON2_WAITERS)


class LocalWindow:
    """This process's own count per client address and window: once an address is over the limit here, it
    is refused without touching the database (the database count stays the one all replicas share)."""

    MAX_ADDRESSES = 10_000

    def __init__(self) -> None:
        self._counts: dict[str, tuple[float, int]] = {}

    def over(self, address: str, limit: int, window: float, now: float) -> bool:
        start, count = self._counts.get(address, (now, 0))
        if now - start >= window:
            start, count = now, 0
        if len(self._counts) >= self.MAX_ADDRESSES and address not in self._counts:
            self._counts.clear()
        self._counts[address] = (start, count + 1)
        return count + 1 > limit

    def retry_after(self, address: str, window: float, now: float) -> int:
        start, _count = self._counts.get(address, (now, 0))
        return max(1, int(start + window - now) + 1)


def _seconds_until(until: datetime | None, now: datetime) -> int:
    if until is None:
        return 1
    return max(1, int((until - now).total_seconds() + 0.999))


async def _audit_failure(db: Database, username: str, address: str | None, reason: str) -> None:
    async with db.transaction() as session:
        await record_audit(
            session,
            actor=username or "anonymous",
            action="sign_in_failed",
            object_type="admin_session",
            object_id=None,
            object_name=username[:300],
            before=None,
            after={"reason": reason, "address": address},
        )


async def sign_in(
    db: Database,
    username: str,
    password: str,
    *,
    address: str | None,
    policy: SignInPolicy,
    local: LocalWindow | None = None,
) -> SignInResult:
    """`local`: this app's in-memory per-address counts (one per app, on its state). A database too busy to
    count the attempt (SQLite under a flood) refuses it like a rate limit: never a server error."""
    try:
        result = await _sign_in(db, username, password, address=address, policy=policy, local=local)
    except DatabaseBusyError:
        result = SignInResult(SignInStatus.RATE_LIMITED, retry_after=1)
    if result.status is SignInStatus.RATE_LIMITED and policy.refusal_hold_seconds > 0:
        await asyncio.sleep(policy.refusal_hold_seconds)
    return result


async def _sign_in(
    db: Database,
    username: str,
    password: str,
    *,
    address: str | None,
    policy: SignInPolicy,
    local: LocalWindow | None = None,
) -> SignInResult:
    now = utcnow()
    username = username.strip()[:ADMIN_NAME_CHARS]
    if address:
        tick = time.monotonic()
        if local is not None and local.over(
            address, policy.attempts_per_address, policy.address_window_seconds, tick
        ):
            return SignInResult(
                SignInStatus.RATE_LIMITED,
                retry_after=local.retry_after(address, policy.address_window_seconds, tick),
            )
        async with db.transaction() as session:
            count = await throttle.charge_address(
                session, address, window_seconds=policy.address_window_seconds
            )
            if count > policy.attempts_per_address:
                wait = await throttle.address_retry_after(
                    session, address, window_seconds=policy.address_window_seconds
                )
                return SignInResult(SignInStatus.RATE_LIMITED, retry_after=wait)
    if not _gate.try_enter():
        return SignInResult(SignInStatus.RATE_LIMITED, retry_after=1)
    try:
        async with db.transaction() as session:
            claim = await throttle.charge_failure(session, username, now=now)
        if not claim.allowed:
            await _audit_failure(db, username, address, "locked")
            return SignInResult(SignInStatus.LOCKED, retry_after=_seconds_until(claim.locked_until, now))
        async with db.session() as session:
            user = await admin_store.find_user(session, username)
        async with _gate.semaphore:
            matches = await admin_store.password_matches(user, password)
    finally:
        _gate.leave()
    if not matches or user is None or user.disabled or not policy.allow_passwords:
        reason = "disabled" if (matches and user is not None and user.disabled) else "invalid"
        await _audit_failure(db, username, address, reason)
        if claim.locked_until is not None and claim.locked_until > now:
            return SignInResult(SignInStatus.LOCKED, retry_after=_seconds_until(claim.locked_until, now))
        return SignInResult(SignInStatus.INVALID)
    async with db.transaction() as session:
        await throttle.clear_failures(session, username)
        fresh = await admin_store.get_user(session, username)
        await admin_store.rehash_if_needed(fresh, password)
        fresh.last_login_at = now
        token = await session_store.create_session(
            session, fresh, absolute_seconds=policy.absolute_seconds, address=address
        )
        await record_audit(
            session,
            actor=fresh.username,
            action="sign_in",
            object_type="admin_session",
            object_id=None,
            object_name=fresh.username,
            before=None,
            after={"address": address, "method": "password"},
        )
    return SignInResult(SignInStatus.OK, token=token, user=fresh)


async def open_session(
    db: Database, username: str, *, address: str | None, policy: SignInPolicy, method: str
) -> str:
    """A session for a user already authenticated elsewhere (the identity provider)."""
    async with db.transaction() as session:
        user = await admin_store.get_user(session, username)
        user.last_login_at = utcnow()
        token = await session_store.create_session(
            session, user, absolute_seconds=policy.absolute_seconds, address=address
        )
        await record_audit(
            session,
            actor=user.username,
            action="sign_in",
            object_type="admin_session",
            object_id=None,
            object_name=user.username,
            before=None,
            after={"address": address, "method": method},
        )
    return token
