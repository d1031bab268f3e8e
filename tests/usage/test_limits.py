"""Limits per key and per tenant, in-process and on Redis: rpm, tpm, budget, scopes, replicas, Redis down."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from router.routing.model import BudgetSpec, KeySpec, Limits, TenantSpec
from router.settings import Settings
from router.store.db import Database
from router.store.usage_writes import insert_usage_batch
from router.usage.limit_rules import LimitExceeded, Spender, SpendSource, seconds_to_next_month
from router.usage.limits import Limiter, MemoryBackend
from router.usage.limits_redis import RedisBackend
from tests.usage.conftest import REDIS_URL
from tests.usage.helpers import event

# 12:00:05 UTC on a mid-month day: 55 s left in the minute.
NOW = datetime(2025, 3, 10, 12, 0, 5, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def key(limits: Limits = Limits(), key_id: int = 1, tenant_id: int = 1) -> KeySpec:
    return KeySpec(id=key_id, tenant_id=tenant_id, member="m", prefix=f"rk-{key_id}", limits=limits)


def tenant(limits: Limits = Limits(), tenant_id: int = 1) -> TenantSpec:
    return TenantSpec(id=tenant_id, name=f"t{tenant_id}", limits=limits)


def month(amount: float) -> tuple[BudgetSpec, ...]:
    return (BudgetSpec("month", amount),)


SpendCalls = list[tuple[datetime, list[int], list[int]]]


def spend_source(
    by_key: dict[int, float],
    by_tenant: dict[int, float],
    calls: SpendCalls | None = None,
    by_member: dict[tuple[int, str], float] | None = None,
) -> SpendSource:
    """The database's spend since any window start: the same figures whatever the start (each test says
    which window it reads); `calls` records (start, key ids, tenant ids) of each read."""

    async def source(start: datetime, spenders: Collection[Spender]) -> dict[Spender, float]:
        if calls is not None:
            calls.append(
                (
                    start,
                    [i for k, i, _ in spenders if k == "key"],
                    [i for k, i, _ in spenders if k == "tenant"],
                )
            )
        found: dict[Spender, float] = {}
        for kind, ident, member in spenders:
            if kind == "key" and ident in by_key:
                found[(kind, ident, member)] = by_key[ident]
            elif kind == "tenant" and ident in by_tenant:
                found[(kind, ident, member)] = by_tenant[ident]
            elif kind == "member" and (ident, member) in (by_member or {}):
                found[(kind, ident, member)] = (by_member or {})[(ident, member)]
        return found

    return source


LimiterFactory = Callable[..., Limiter]


@pytest.fixture(params=["memory", "redis"])
async def make_limiter(request: pytest.FixtureRequest, redis_namespace: str) -> AsyncIterator[LimiterFactory]:
    """Builds limiters on the parametrized backend; Redis ones share one namespace (like replicas)."""
    made: list[Limiter] = []

    def make(clock: Clock, source: SpendSource | None = None) -> Limiter:
        if request.param == "memory":
            backend: MemoryBackend | RedisBackend = MemoryBackend(source)
        else:
            backend = RedisBackend.from_url(REDIS_URL, source, namespace=redis_namespace)
        limiter = Limiter(backend=backend, clock=clock)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.stop()


async def test_rpm_refuses_exactly_the_request_after_the_limit(make_limiter: LimiterFactory) -> None:
    clock = Clock()
    limiter = make_limiter(clock)
    k, t = key(Limits(rpm=5)), tenant()
    for _ in range(5):
        await limiter.admit(k, t)
    with pytest.raises(LimitExceeded) as refused:
        await limiter.admit(k, t)
    assert (refused.value.kind, refused.value.scope) == ("rpm", "key")
    assert refused.value.retry_after == 55
    assert refused.value.status == 429 and refused.value.headers["retry-after"] == "55"
    # A refusal does not use up the next window, and the next minute starts afresh.
    clock.now += 60
    for _ in range(5):
        await limiter.admit(k, t)


async def test_refused_requests_do_not_count_against_rpm(make_limiter: LimiterFactory) -> None:
    clock = Clock()
    limiter = make_limiter(clock)
    k, t = key(Limits(rpm=3)), tenant(Limits(rpm=2))
    await limiter.admit(k, t)
    await limiter.admit(k, t)
    with pytest.raises(LimitExceeded) as refused:
        await limiter.admit(k, t)
    assert refused.value.scope == "tenant"
    # The key's own rpm (3) counted only the two admitted requests: a key in another tenant gets one more.
    await limiter.admit(k, tenant(tenant_id=2))
    with pytest.raises(LimitExceeded):
        await limiter.admit(k, tenant(tenant_id=2))


async def test_tpm_refuses_once_the_minute_tokens_are_used_up(make_limiter: LimiterFactory) -> None:
    clock = Clock()
    limiter = make_limiter(clock)
    k, t = key(Limits(tpm=1000)), tenant()
    await limiter.admit(k, t)
    await limiter.consume(k, t, 600, 0.0)
    await limiter.admit(k, t)  # 600 < 1000: still admitted
    await limiter.consume(k, t, 400, 0.0)
    with pytest.raises(LimitExceeded) as refused:
        await limiter.admit(k, t)
    assert (refused.value.kind, refused.value.retry_after) == ("tpm", 55)
    clock.now += 60
    await limiter.admit(k, t)


async def test_budget_refuses_until_next_month_once_spent(make_limiter: LimiterFactory) -> None:
    clock = Clock()
    limiter = make_limiter(clock, spend_source({}, {7: 9.5}))
    k, t = key(tenant_id=7), tenant(Limits(budgets=month(10.0)), tenant_id=7)
    await limiter.admit(k, t)  # 9.50 spent this month (from the database) < 10
    await limiter.consume(k, t, 100, 0.5)
    with pytest.raises(LimitExceeded) as refused:
        await limiter.admit(k, t)
    assert (refused.value.kind, refused.value.scope) == ("budget", "tenant")
    assert refused.value.retry_after == seconds_to_next_month(clock.now)
    assert refused.value.retry_after == int(datetime(2025, 4, 1, tzinfo=UTC).timestamp() - NOW)
    assert "2025-04-01" in refused.value.message
    clock.now = datetime(2025, 4, 1, 0, 0, 1, tzinfo=UTC).timestamp()
    await limiter.admit(k, t)  # a new month, a new budget


async def test_key_and_tenant_limits_are_independent(make_limiter: LimiterFactory) -> None:
    clock = Clock()
    limiter = make_limiter(clock)
    team = tenant(Limits(rpm=4), tenant_id=3)
    tight = key(Limits(rpm=1), key_id=31, tenant_id=3)
    loose = key(key_id=32, tenant_id=3)
    await limiter.admit(tight, team)
    with pytest.raises(LimitExceeded) as by_key:
        await limiter.admit(tight, team)
    assert by_key.value.scope == "key"
    for _ in range(3):  # the tenant has 3 requests left; the tight key's refusal did not use one
        await limiter.admit(loose, team)
    with pytest.raises(LimitExceeded) as by_tenant:
        await limiter.admit(loose, team)
    assert by_tenant.value.scope == "tenant"
    # Another tenant's key with the same key-level limit is untouched.
    await limiter.admit(key(Limits(rpm=1), key_id=41, tenant_id=4), tenant(Limits(rpm=4), tenant_id=4))


async def test_keys_and_tenants_without_limits_never_touch_the_backend() -> None:
    class Exploding(MemoryBackend):
        async def admit(self, *_: Any, **__: Any) -> Any:
            raise AssertionError("backend used")

        async def consume(self, *_: Any, **__: Any) -> Any:
            raise AssertionError("backend used")

    limiter = Limiter(backend=Exploding())
    for _ in range(1000):
        await limiter.admit(key(), tenant())
        await limiter.consume(key(), tenant(), 10_000, 5.0)


async def test_two_replicas_on_one_redis_share_the_rpm_limit(redis_namespace: str) -> None:
    clock = Clock()
    settings = Settings(redis_url=REDIS_URL)
    first = Limiter(settings, None, namespace=redis_namespace, clock=clock)
    second = Limiter(settings, None, namespace=redis_namespace, clock=clock)
    assert isinstance(first.backend, RedisBackend)
    k, t = key(Limits(rpm=4)), tenant()
    try:
        for replica in (first, second, first, second):
            await replica.admit(k, t)
        for replica in (first, second):
            with pytest.raises(LimitExceeded):
                await replica.admit(k, t)
        # And tokens consumed on one replica count on the other.
        k2 = key(Limits(tpm=100), key_id=2)
        await first.admit(k2, t)
        await first.consume(k2, t, 100, 0.0)
        with pytest.raises(LimitExceeded):
            await second.admit(k2, t)
    finally:
        await first.stop()
        await second.stop()


async def test_redis_budget_counter_is_seeded_once_from_the_database_spend(redis_namespace: str) -> None:
    calls: SpendCalls = []
    source = spend_source({5: 3.0}, {}, calls)
    clock = Clock()
    replicas = [
        Limiter(backend=RedisBackend.from_url(REDIS_URL, source, namespace=redis_namespace), clock=clock)
        for _ in range(2)
    ]
    k, t = key(Limits(budgets=month(4.0)), key_id=5), tenant()
    try:
        await replicas[0].admit(k, t)
        await replicas[1].admit(k, t)
        assert len(calls) == 1 and calls[0][1] == [5]
        assert calls[0][0] == datetime(2025, 3, 1, tzinfo=UTC)
        await replicas[1].consume(k, t, 10, 1.0)
        with pytest.raises(LimitExceeded) as refused:
            await replicas[0].admit(k, t)
        assert refused.value.kind == "budget"
        client = aioredis.Redis.from_url(REDIS_URL)
        stored = await client.get(f"{redis_namespace}:key:5:budget:2025-03")
        await client.aclose()  # type: ignore[attr-defined]
        assert stored is not None and float(stored) == pytest.approx(4.0)
    finally:
        for limiter in replicas:
            await limiter.stop()


async def test_redis_down_fails_open_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="router.usage.limits_redis")
    # Nothing listens on port 1: every Redis call fails at once.
    limiter = Limiter(Settings(redis_url="redis://127.0.0.1:1/0"), None)
    k, t = key(Limits(rpm=1, tpm=1, budgets=month(0.0))), tenant(Limits(rpm=1))
    await limiter.start()
    for _ in range(5):
        await limiter.admit(k, t)  # never refused, never raises
        await limiter.consume(k, t, 100, 1.0)
    warnings = [r.getMessage() for r in caplog.records if "serving without limits" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not per request
    await limiter.stop()


async def test_memory_budgets_follow_spend_recorded_by_other_replicas(usage_db: Database) -> None:
    """Without Redis, the periodic re-read brings in what other replicas wrote to the database."""
    clock = Clock()
    limiter = Limiter(None, usage_db, clock=clock)
    backend = limiter.backend
    assert isinstance(backend, MemoryBackend)
    k, t = key(Limits(budgets=month(2.0)), key_id=9), tenant()
    await limiter.admit(k, t)  # seeds: nothing spent yet
    await limiter.consume(k, t, 10, 0.5)
    async with usage_db.transaction() as session:
        # This replica's 0.5 (written by its recorder) plus 1.6 from another replica.
        await insert_usage_batch(
            session,
            [
                event(created_at=datetime.fromtimestamp(NOW, UTC), key_id=9, cost_usd=0.5),
                event(
                    created_at=datetime.fromtimestamp(NOW, UTC) - timedelta(days=1), key_id=9, cost_usd=1.6
                ),
            ],
        )
    await limiter.admit(k, t)  # 0.5 known locally < 2.0
    await backend.refresh(clock.now)
    assert backend.spend((("key", 9, ""), "month")) == pytest.approx(
        2.1
    )  # not 2.6: the local 0.5 is not counted twice
    with pytest.raises(LimitExceeded):
        await limiter.admit(k, t)


async def test_an_unreadable_database_spend_fails_open_and_is_not_asked_per_request(
    redis_namespace: str,
) -> None:
    calls = 0

    async def broken(start: datetime, spenders: Collection[Spender]) -> dict[Spender, float]:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError("database away")

    memory = Limiter(backend=MemoryBackend(broken), clock=Clock())
    redis_backed = Limiter(
        backend=RedisBackend.from_url(REDIS_URL, broken, namespace=redis_namespace), clock=Clock()
    )
    k, t = key(Limits(budgets=month(1.0))), tenant()
    try:
        for limiter in (memory, redis_backed):
            for _ in range(5):
                await limiter.admit(k, t)
        assert calls == 2  # once per backend, not once per request
    finally:
        await redis_backed.stop()


async def test_budget_used_pct_reads_the_tightest_budget_without_counting(
    make_limiter: LimiterFactory,
) -> None:
    clock = Clock()
    limiter = make_limiter(clock, spend_source({7: 2.0}, {1: 5.0}))
    k, t = key(Limits(budgets=month(10.0)), key_id=7), tenant(Limits(budgets=month(50.0)), tenant_id=1)
    assert await limiter.budget_used_pct(k, t) == pytest.approx(20.0)  # key: 2 of 10; tenant: 5 of 50
    await limiter.consume(k, t, 100, 4.0)
    assert await limiter.budget_used_pct(k, t) == pytest.approx(60.0)
    assert await limiter.budget_used_pct(key(Limits()), tenant()) is None


async def test_budgets_report_spend_read_only_on_either_backend(make_limiter: LimiterFactory) -> None:
    """The accessor behind Claude Code's usage notices: month-to-date spend per budget, never a refusal."""
    clock = Clock()
    limiter = make_limiter(clock, spend_source({3: 2.0}, {7: 9.5}))
    k = key(Limits(budgets=month(4.0)), key_id=3, tenant_id=7)
    t = tenant(Limits(budgets=month(10.0)), tenant_id=7)
    assert await limiter.budgets(key(), tenant()) == []  # no budget, no read

    standings = {s.scope: s for s in await limiter.budgets(k, t)}
    assert (standings["key"].spent_usd, standings["key"].budget_usd) == (2.0, 4.0)
    assert standings["tenant"].utilization == pytest.approx(0.95)
    assert standings["key"].resets_at == datetime(2025, 4, 1, tzinfo=UTC)

    await limiter.admit(k, t)
    await limiter.consume(k, t, 100, 1.0)
    after = {s.scope: s.spent_usd for s in await limiter.budgets(k, t)}
    assert after == {"key": pytest.approx(3.0), "tenant": pytest.approx(10.5)}
    # Reading never counts as a request: the spent tenant budget refuses on admission only.
    with pytest.raises(LimitExceeded):
        await limiter.admit(k, t)
