"""Limits on Redis under pressure: a pool smaller than the burst waits instead of failing open, rpm is exact
at 1, 100, 150 and 500 concurrent admissions, ROUTER_LIMITS_ON_REDIS_DOWN decides what an outage does (and
/metrics counts it), and spend settled while Redis was away is added back when it returns."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aredis

from router.observability import metrics
from router.routing.model import BudgetSpec, Limits
from router.settings import Settings
from router.usage.limit_rules import LimitExceeded
from router.usage.limits import Limiter
from router.usage.limits_redis import LimitsBusy, LimitsUnavailable, RedisBackend, pool_size_for
from tests.fixtures.app import LiveRouter
from tests.fixtures.minutes import clear_of_a_minute_boundary
from tests.usage.conftest import REDIS_URL, TcpProxy
from tests.usage.test_limits import key, tenant


def _limiter(url: str, namespace: str, *, pool_size: int = 8, on_down: str = "open") -> Limiter:
    backend = RedisBackend.from_url(
        url,
        None,
        namespace=namespace,
        pool_size=pool_size,
        pool_timeout=30.0,
        on_down=on_down,  # type: ignore[arg-type]
        # The machine running the suite may be very busy: a slow reply here is load, not an outage.
        socket_timeout=10.0,
    )
    return Limiter(backend=backend, clock=_mid_minute())


def _mid_minute() -> Callable[[], float]:
    """A clock stopped in the middle of the current minute: a burst never straddles two rpm windows."""
    frozen = time.time() // 60 * 60 + 30
    return lambda: frozen


async def _admitted(limiter: Limiter, rpm: int, concurrency: int, key_id: int) -> int:
    k, t = key(Limits(rpm=rpm), key_id=key_id), tenant()

    async def one() -> bool:
        try:
            await limiter.admit(k, t)
        except LimitExceeded:
            return False
        return True

    return sum(await asyncio.gather(*(one() for _ in range(concurrency))))


def _unavailable(decision: str) -> float:
    value = metrics.REGISTRY.get_sample_value("router_limits_redis_unavailable_total", {"decision": decision})
    return value or 0.0


@pytest.mark.parametrize("concurrency", [1, 100, 150, 500])
async def test_rpm_is_exact_at_any_concurrency_with_a_small_pool(
    redis_namespace: str, concurrency: int
) -> None:
    limiter = _limiter(REDIS_URL, redis_namespace, pool_size=8)
    await limiter.start()
    try:
        # rpm 10: a burst of `concurrency` gets exactly min(10, concurrency) through; rpm = concurrency: all.
        assert await _admitted(limiter, 10, concurrency, key_id=1) == min(10, concurrency)
        assert await _admitted(limiter, concurrency, concurrency, key_id=2) == concurrency
    finally:
        await limiter.stop()
    # Exact counts: had the pool's exhaustion been taken for "Redis down", the bursts would get more through.


async def test_closed_refuses_limited_requests_while_redis_is_down_and_counts_them(
    redis_namespace: str,
) -> None:
    limiter = _limiter("redis://127.0.0.1:1/0", redis_namespace, on_down="closed")
    before = _unavailable("closed")
    with pytest.raises(LimitsUnavailable) as refused:
        await limiter.admit(key(Limits(rpm=100)), tenant())
    assert refused.value.status == 529 and refused.value.headers["retry-after"] == "5"
    # A key and tenant without limits never ask Redis, so they are served.
    await limiter.admit(key(), tenant())
    assert _unavailable("closed") == before + 1
    await limiter.stop()


async def test_open_serves_during_an_outage_and_adds_the_spend_back_when_redis_returns(
    redis_namespace: str,
) -> None:
    proxy = TcpProxy("127.0.0.1", 6379)
    await proxy.start()
    backend = RedisBackend.from_url(
        f"redis://127.0.0.1:{proxy.port}/0", None, namespace=redis_namespace, pool_size=4
    )
    backend._retry_after_failure = 0.2
    limiter = Limiter(backend=backend, clock=_mid_minute())
    k, t = key(Limits(budgets=(BudgetSpec("month", 100.0),), tpm=1_000_000), key_id=7), tenant()
    direct = aredis.Redis.from_url(REDIS_URL)
    try:
        first = await limiter.reserve(k, t, tokens=100, cost_usd=2.0)
        assert first is not None and first.charged
        await limiter.settle(first, 50, 1.0)
        budget_key = f"{redis_namespace}:key:7:budget:" + time.strftime("%Y-%m", time.gmtime())
        assert float(await direct.get(budget_key) or b"nan") == pytest.approx(1.0)

        await proxy.stop()  # Redis goes away
        during = await limiter.reserve(k, t, tokens=100, cost_usd=2.0)  # served, uncounted
        assert during is not None and not during.charged
        await limiter.settle(during, 40, 3.0)  # spent while away: owed
        assert float(await direct.get(budget_key) or b"nan") == pytest.approx(1.0)

        await proxy.start()  # Redis is back (same port)
        await asyncio.sleep(0.3)
        after = await limiter.reserve(k, t, tokens=0, cost_usd=0.0)
        assert after is not None and after.charged
        assert float(await direct.get(budget_key) or b"nan") == pytest.approx(
            4.0
        )  # 1.0 + the 3.0 spent while away
    finally:
        await limiter.stop()
        await proxy.stop()
        await direct.aclose()  # type: ignore[attr-defined]


def test_the_pool_is_sized_from_the_configured_concurrency_unless_set() -> None:
    def pool_of(**settings: Any) -> int:
        limiter = Limiter(Settings(_env_file=None, redis_url=REDIS_URL, **settings))
        backend = limiter.backend
        assert isinstance(backend, RedisBackend)
        return int(backend.client.connection_pool.max_connections)

    assert pool_of() == 64  # the default concurrency, 1,024: one connection per 16 requests
    assert pool_of(concurrency=160) == 10
    assert pool_of(concurrency=10) == 4 and pool_of(concurrency=100_000) == 256  # within 4..256
    assert pool_of(concurrency=160, redis_pool_size=3) == 3  # set explicitly: as set
    assert pool_size_for(500) == 32


async def test_a_pool_busy_past_its_timeout_refuses_that_request_and_neither_serves_it_nor_calls_redis_down(
    redis_namespace: str,
) -> None:
    """One pooled connection, held by a slow command: an admission waits the pool timeout (bounded), then is
    refused (529) and counted as busy; it is not served uncounted (`open`), and Redis is not declared down:
    the next admission, once the connection is free, is counted as usual."""
    backend = RedisBackend.from_url(
        REDIS_URL, None, namespace=redis_namespace, pool_size=1, pool_timeout=0.3, on_down="open"
    )
    limiter = Limiter(backend=backend, clock=_mid_minute())
    await limiter.start()
    k, t = key(Limits(rpm=5), key_id=7), tenant()
    try:
        busy_before, open_before = _unavailable("busy"), _unavailable("open")
        holding = asyncio.ensure_future(backend.client.blpop([f"{redis_namespace}:never"], timeout=1.5))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(LimitsBusy) as refused:
            await limiter.admit(k, t)
        waited = time.monotonic() - started
        assert 0.25 <= waited < 1.4, waited  # it waited the pool timeout, and no longer
        assert refused.value.status == 529
        assert _unavailable("busy") == busy_before + 1 and _unavailable("open") == open_before
        await holding
        # Redis was never taken for down: the limit counts on (5 admissions, the 6th refused).
        for _ in range(5):
            await limiter.admit(k, t)
        with pytest.raises(LimitExceeded):
            await limiter.admit(k, t)
    finally:
        await limiter.stop()


CONFIG = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*", target: oai/gpt-4.1}
"""
BODY = {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_rpm_is_exact_through_the_service_at_1_100_150_and_500_concurrent_requests(
    start_router: Callable[..., LiveRouter], redis_namespace: str
) -> None:
    """The served path end to end on the real Redis, with the pool the default concurrency gives: bursts of
    1, 100, 150 and 500 requests on a key with rpm 10 get exactly min(10, burst) answers, the rest 429."""
    # A pool wait long enough for a loaded test machine: refusing on a busy pool is tested above; here, rpm.
    router = start_router(redis_url=REDIS_URL, redis_namespace=redis_namespace, redis_pool_timeout=60.0)
    router.apply(CONFIG)

    async def burst(key: str, n: int) -> list[int]:
        limits = httpx.Limits(max_connections=n)
        async with httpx.AsyncClient(base_url=router.base_url, timeout=120, limits=limits) as http:
            answers = await asyncio.gather(
                *(http.post("/v1/messages", json=BODY, headers={"x-api-key": key}) for _ in range(n))
            )
        return [a.status_code for a in answers]

    for n in (1, 100, 150, 500):
        key_text = router.key("acme", f"member-{n}", rpm=10)
        clear_of_a_minute_boundary(seconds=10)
        statuses = asyncio.run(burst(key_text, n))
        assert statuses.count(200) == min(10, n), (n, sorted(set(statuses)))
        assert statuses.count(429) == n - min(10, n), (n, sorted(set(statuses)))
