"""Admin users: argon2 hashes, and the lock that grows after repeated failed sign-ins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from router.store import admins
from router.store.admins import (
    LoginStatus,
    count_users,
    create_user,
    lock_seconds,
    set_password,
    verify_password,
)
from router.store.db import AlreadyExistsError, Database
from router.store.models import AdminUser, AuditEntry, utcnow

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same algorithm at a low cost: these tests are about counting and locking, not hash strength."""
    monkeypatch.setattr(admins, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


async def test_create_user_stores_an_argon2_hash_and_audits(database: Database) -> None:
    async with database.transaction() as session:
        assert await count_users(session) == 0
        await create_user(session, "root", PASSWORD)
        assert await count_users(session) == 1
    async with database.session() as session:
        user = await session.scalar(select(AdminUser))
        assert (
            user is not None
            and user.password_hash.startswith("$argon2")
            and PASSWORD not in user.password_hash
        )
        entry = await session.scalar(select(AuditEntry))
        assert entry is not None and (entry.action, entry.object_name) == ("create", "root")
        assert PASSWORD not in str(entry.after)
    with pytest.raises(AlreadyExistsError):
        async with database.transaction() as session:
            await create_user(session, "root", PASSWORD)
    with pytest.raises(ValueError, match="at least 8"):
        async with database.transaction() as session:
            await create_user(session, "other", "short")


async def test_right_and_wrong_passwords(database: Database) -> None:
    async with database.transaction() as session:
        await create_user(session, "root", PASSWORD)
    async with database.transaction() as session:
        assert (await verify_password(session, "root", "wrong password")).status is LoginStatus.INVALID
        assert (await verify_password(session, "nobody", PASSWORD)).status is LoginStatus.INVALID
        result = await verify_password(session, "root", PASSWORD)
        assert result.ok and result.user is not None and result.user.last_login_at is not None
        assert result.user.failed_logins == 0


async def test_five_failures_lock_for_a_growing_delay(database: Database) -> None:
    async with database.transaction() as session:
        await create_user(session, "root", PASSWORD)
    now = utcnow()
    async with database.transaction() as session:
        statuses = [(await verify_password(session, "root", "nope", now=now)).status for _ in range(5)]
    assert statuses == [LoginStatus.INVALID] * 4 + [LoginStatus.LOCKED]
    async with database.transaction() as session:
        # Locked: even the right password is refused, and the refusal does not count as a failure.
        locked = await verify_password(session, "root", PASSWORD, now=now + timedelta(seconds=10))
        assert locked.status is LoginStatus.LOCKED and locked.locked_until is not None
        assert locked.locked_until - now == timedelta(seconds=lock_seconds(5))
        later = now + timedelta(seconds=lock_seconds(5) + 1)
        sixth = await verify_password(session, "root", "nope", now=later)
        assert sixth.status is LoginStatus.LOCKED and sixth.locked_until == later + timedelta(
            seconds=lock_seconds(6)
        )
        assert lock_seconds(6) > lock_seconds(5)
        after = sixth.locked_until + timedelta(seconds=1)
        assert (await verify_password(session, "root", PASSWORD, now=after)).ok
    async with database.session() as session:
        user = await session.scalar(select(AdminUser))
        assert user is not None and user.failed_logins == 0 and user.locked_until is None


async def test_set_password_replaces_the_hash_and_lifts_the_lock(database: Database) -> None:
    async with database.transaction() as session:
        await create_user(session, "root", PASSWORD)
        for _ in range(5):
            await verify_password(session, "root", "nope")
        await set_password(session, "root", "a new password")
        assert (await verify_password(session, "root", "a new password")).ok
        assert not (await verify_password(session, "root", PASSWORD)).ok


def test_lock_delay_grows_and_is_capped() -> None:
    assert [lock_seconds(n) for n in range(5)] == [0.0] * 5
    delays = [lock_seconds(n) for n in range(5, 20)]
    assert delays == sorted(delays) and delays[0] > 0 and delays[-1] == 3600.0
