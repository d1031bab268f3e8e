"""Sign-in throttling: per-name locks that hold under concurrency, no user-name oracle, per-address limits."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from router.identity import signin, users
from router.identity.signin import SignInPolicy, SignInStatus
from router.store import admins, throttle
from router.store.db import Database
from router.store.identity_models import SignInThrottle
from router.store.models import AuditEntry, utcnow

PASSWORD = "correct horse battery"
POLICY = SignInPolicy(absolute_seconds=3600, attempts_per_address=10_000, address_window_seconds=60)


@pytest.fixture
async def root(database: Database) -> None:
    async with database.transaction() as session:
        await users.create_user(session, "root", PASSWORD, role="owner", actor="test")


async def _row(database: Database, key: str) -> SignInThrottle:
    async with database.session() as session:
        row = await session.scalar(select(SignInThrottle).where(SignInThrottle.key == key))
    assert row is not None
    return row


@pytest.fixture
def wide_gate(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No per-process argon2 queue limit, and a record of every password actually checked."""
    monkeypatch.setattr(signin, "_gate", signin._Argon2Gate(slots=50, waiters=100))
    checked: list[str] = []
    real = admins.password_matches

    async def counting(user: Any, password: str) -> bool:
        checked.append(password)
        return await real(user, password)

    monkeypatch.setattr(admins, "password_matches", counting)
    return checked


@pytest.mark.usefixtures("root")
async def test_forty_parallel_wrong_passwords_lock_exactly_like_five_sequential(
    database: Database, wide_gate: list[str]
) -> None:
    sequential = [
        (await signin.sign_in(database, "ROOT-twin", "wrong", address=None, policy=POLICY)).status
        for _ in range(5)
    ]
    assert sequential == [SignInStatus.INVALID] * 4 + [SignInStatus.LOCKED]
    twin = await _row(database, throttle.user_key("ROOT-twin"))
    wide_gate.clear()

    results = await asyncio.gather(
        *(signin.sign_in(database, "root", "wrong", address=None, policy=POLICY) for _ in range(40))
    )
    statuses = [result.status for result in results]
    assert statuses.count(SignInStatus.INVALID) == 4
    assert statuses.count(SignInStatus.LOCKED) == 36
    # Only the five attempts the lock allowed ever reached argon2.
    assert len(wide_gate) == 5
    row = await _row(database, throttle.user_key("root"))
    assert row.failures == twin.failures == 5
    assert row.locked_until is not None and twin.locked_until is not None
    lock = row.locked_until - utcnow().replace(tzinfo=None) if row.locked_until.tzinfo is None else None
    assert lock is None or timedelta(seconds=25) < lock <= timedelta(seconds=throttle.BASE_LOCK_SECONDS)
    # Locked: even the right password is refused.
    refused = await signin.sign_in(database, "root", PASSWORD, address=None, policy=POLICY)
    assert refused.status is SignInStatus.LOCKED and refused.retry_after > 0


@pytest.mark.usefixtures("root")
async def test_parallel_claims_charge_exactly_five_then_refuse(database: Database) -> None:
    async def claim() -> throttle.Claim:
        async with database.transaction() as session:
            return await throttle.charge_failure(session, "root")

    claims = await asyncio.gather(*(claim() for _ in range(40)))
    assert sorted(c.failures for c in claims if c.allowed) == [1, 2, 3, 4, 5]
    assert sum(not c.allowed for c in claims) == 35


@pytest.mark.usefixtures("root", "wide_gate")
async def test_unknown_names_are_locked_the_same_way_as_known_ones(database: Database) -> None:
    known = [(await signin.sign_in(database, "root", "nope", address=None, policy=POLICY)) for _ in range(6)]
    ghost = [(await signin.sign_in(database, "ghost", "nope", address=None, policy=POLICY)) for _ in range(6)]
    assert [r.status for r in known] == [r.status for r in ghost]
    assert [r.status for r in ghost] == [SignInStatus.INVALID] * 4 + [SignInStatus.LOCKED] * 2
    assert [r.retry_after for r in known][4:] == [r.retry_after for r in ghost][4:] or all(
        abs(a.retry_after - b.retry_after) <= 1 for a, b in zip(known, ghost, strict=True)
    )


@pytest.mark.usefixtures("root")
async def test_success_clears_the_count_and_later_locks_grow(
    database: Database, wide_gate: list[str]
) -> None:
    for _ in range(4):
        await signin.sign_in(database, "root", "nope", address=None, policy=POLICY)
    ok = await signin.sign_in(database, "root", PASSWORD, address=None, policy=POLICY)
    assert ok.ok and ok.token
    assert (await _row(database, throttle.user_key("root"))).failures == 0
    assert throttle.lock_seconds(6) > throttle.lock_seconds(5) > 0
    assert throttle.lock_seconds(100) == throttle.MAX_LOCK_SECONDS


@pytest.mark.usefixtures("root")
async def test_one_address_is_rate_limited_before_any_password_is_checked(
    database: Database, wide_gate: list[str]
) -> None:
    policy = SignInPolicy(absolute_seconds=3600, attempts_per_address=3, address_window_seconds=60)
    names = ["a1", "a2", "a3", "a4", "a5", "a6"]
    results = await asyncio.gather(
        *(signin.sign_in(database, name, "nope", address="10.0.0.9", policy=policy) for name in names)
    )
    assert sorted(r.status.value for r in results).count(SignInStatus.RATE_LIMITED.value) == 3
    assert len(wide_gate) == 3
    # Another address is not affected.
    other = await signin.sign_in(database, "root", PASSWORD, address="10.0.0.10", policy=policy)
    assert other.ok


async def test_a_busy_process_refuses_more_password_checks_than_it_queues(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signin, "_gate", signin._Argon2Gate(slots=1, waiters=2))
    release = asyncio.Event()

    async def slow(user: Any, password: str) -> bool:
        await release.wait()
        return False

    monkeypatch.setattr(admins, "password_matches", slow)
    tasks = [
        asyncio.create_task(signin.sign_in(database, f"n{i}", "x", address=None, policy=POLICY))
        for i in range(6)
    ]
    await asyncio.sleep(0.5)
    release.set()
    statuses = [r.status for r in await asyncio.gather(*tasks)]
    assert statuses.count(SignInStatus.RATE_LIMITED) == 3
    assert statuses.count(SignInStatus.INVALID) == 3


@pytest.mark.usefixtures("root", "wide_gate")
async def test_sign_ins_and_failures_are_audited(database: Database) -> None:
    await signin.sign_in(database, "root", "nope", address="10.1.1.1", policy=POLICY)
    await signin.sign_in(database, "root", PASSWORD, address="10.1.1.1", policy=POLICY)
    async with database.session() as session:
        actions = [
            e.action
            for e in await session.scalars(
                select(AuditEntry).where(AuditEntry.object_type == "admin_session").order_by(AuditEntry.id)
            )
        ]
    assert actions == ["sign_in_failed", "sign_in"]


@pytest.mark.usefixtures("root", "wide_gate")
async def test_password_sign_in_can_be_switched_off(database: Database) -> None:
    policy = SignInPolicy(
        absolute_seconds=3600, attempts_per_address=100, address_window_seconds=60, allow_passwords=False
    )
    result = await signin.sign_in(database, "root", PASSWORD, address=None, policy=policy)
    assert result.status is SignInStatus.INVALID


async def test_an_address_over_the_limit_here_is_refused_without_a_query(
    database: Database, wide_gate: list[str]
) -> None:
    policy = SignInPolicy(absolute_seconds=3600, attempts_per_address=2, address_window_seconds=60)
    local = signin.LocalWindow()
    results = [
        await signin.sign_in(database, f"x{i}", "nope", address="10.9.9.9", policy=policy, local=local)
        for i in range(4)
    ]
    assert [r.status for r in results] == [SignInStatus.INVALID] * 2 + [SignInStatus.RATE_LIMITED] * 2
    # The database saw only the two attempts the process let through.
    assert (await _row(database, throttle.address_key("10.9.9.9"))).failures == 2
    fresh = signin.LocalWindow()
    assert (
        not fresh.over("a", 1, 60, 0.0) and fresh.over("a", 1, 60, 1.0) and not fresh.over("a", 1, 60, 61.0)
    )
