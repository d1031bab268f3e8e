"""Signed-in admin sessions as each process sees them: database rows, cached per process.

The cache is emptied whenever the config version moves (sign-out, disable, delete, role or password change
all bump it), so a change made on any replica reaches every replica within the poll interval. Between
changes a request costs no query, except one small write a minute to keep the idle deadline moving.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from router.identity.roles import Principal
from router.store import sessions as session_store
from router.store.db import Database
from router.store.models import utcnow
from router.store.sessions import SessionRecord

# How stale a session's last-seen time in the database may get (idle deadlines are this coarse).
TOUCH_EVERY_SECONDS = 60.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The admin behind a request: who, what they may do, and the session's CSRF binding."""

    principal: Principal
    token_hash: str
    session_id: int

    @property
    def username(self) -> str:
        return self.principal.username

    @property
    def nonce(self) -> str:
        # The CSRF token is an HMAC of this: bound to the session, unknown to anyone without the cookie.
        return self.token_hash


class SessionCache:
    def __init__(self, *, idle_seconds: float, absolute_seconds: float) -> None:
        self.idle = timedelta(seconds=idle_seconds)
        self.absolute_seconds = absolute_seconds
        self._records: dict[str, SessionRecord] = {}

    def clear(self, *_: object) -> None:
        """Forget everything (called when the config version moves)."""
        self._records.clear()

    def forget(self, digest: str) -> None:
        self._records.pop(digest, None)

    async def resolve(
        self, db: Database, token: str | None, *, now: datetime | None = None
    ) -> SignedIn | None:
        """The admin signed in with this cookie; None if unknown, expired, idle or the user is disabled."""
        if not token or len(token) > session_store.MAX_TOKEN_LENGTH:
            return None
        now = now or utcnow()
        digest = session_store.token_hash(token)
        record = self._records.get(digest)
        if record is None or now - record.last_seen_at > self.idle:
            # Not cached, or idle as far as this process knows: another replica may have seen it since.
            async with db.session() as session:
                record = await session_store.load_session(session, digest)
            if record is None:
                self.forget(digest)
                return None
        if record.expires_at <= now or now - record.last_seen_at > self.idle:
            self.forget(digest)
            async with db.transaction() as session:
                await session_store.end_session(
                    session, digest, actor=record.username, reason="session_expired", bump=False
                )
            return None
        if now - record.last_seen_at > timedelta(seconds=TOUCH_EVERY_SECONDS):
            async with db.transaction() as session:
                await session_store.touch_session(session, record.session_id, now)
            record = replace(record, last_seen_at=now)
        if len(self._records) >= MAX_ENTRIES and digest not in self._records:
            self._records.clear()
        self._records[digest] = record
        principal = Principal.of(record.username, record.role, record.tenant_ids, record.user_id)
        return SignedIn(principal=principal, token_hash=digest, session_id=record.session_id)
