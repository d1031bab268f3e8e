"""Unknown keys cannot become a flood of database queries: keys not in our format are refused without a
lookup, concurrent look-ups share batched queries, misses are cached; and a key created by another process
after the snapshot was built is still found (through the database, once)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import httpx
import pytest

from router.gateway.auth import FREE_REFUSALS, MIN_LOOKUP_INTERVAL, KeyGuard
from router.routing.model import KeySpec, Limits, RoutingConfig
from router.store.keys import KEY_PREFIX, hash_key
from router.wire.errors import AuthenticationError
from tests.fixtures.app import LiveRouter


def _random_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30)


class CountingLookup:
    def __init__(self, known: Mapping[str, KeySpec] | None = None, delay: float = 0.005) -> None:
        self.known = dict(known or {})
        self.calls: list[int] = []
        self.delay = delay

    async def __call__(self, digests: Sequence[str]) -> Mapping[str, KeySpec]:
        self.calls.append(len(digests))
        await asyncio.sleep(self.delay)  # a query takes a while: others pile up behind it
        return {d: self.known[d] for d in digests if d in self.known}


def _spec(key_id: int = 1) -> KeySpec:
    return KeySpec(id=key_id, tenant_id=1, member="m", prefix="sk-rt-abcdef", limits=Limits())


def _empty_config() -> RoutingConfig:
    return RoutingConfig(
        version=1, tenants={}, targets={}, chains={}, global_rules=(), tenant_rules={}, keys={}
    )


async def _try(guard: KeyGuard, key: str, config: RoutingConfig) -> KeySpec | None:
    try:
        return await guard.authenticate({"x-api-key": key}, config)
    except AuthenticationError:
        return None


@pytest.mark.parametrize(
    "key",
    ["nope", "sk-ant-api03-" + "a" * 80, KEY_PREFIX + "a" * 39, KEY_PREFIX + "a" * 41, KEY_PREFIX + "%" * 40],
)
async def test_a_key_not_in_our_format_is_refused_without_a_lookup(key: str) -> None:
    lookup = CountingLookup()
    guard = KeyGuard(lookup)
    assert await _try(guard, key, _empty_config()) is None
    assert lookup.calls == []


async def test_concurrent_lookups_of_one_key_share_one_query_and_its_miss_is_cached() -> None:
    lookup = CountingLookup()
    guard = KeyGuard(lookup, min_interval=0.0, refusal_delay=0)
    key = _random_key()
    config = _empty_config()
    assert await asyncio.gather(*(_try(guard, key, config) for _ in range(200))) == [None] * 200
    assert lookup.calls == [1]
    assert await _try(guard, key, config) is None
    assert lookup.calls == [1]  # the miss is cached


async def test_five_thousand_distinct_unknown_keys_cost_a_handful_of_queries() -> None:
    known_key = _random_key()
    lookup = CountingLookup({hash_key(known_key): _spec()})
    guard = KeyGuard(lookup, refusal_delay=0)  # batching alone (the flood's slow-down is tested below)
    config = _empty_config()
    keys = [_random_key() for _ in range(5_000)]
    results = await asyncio.gather(*(_try(guard, k, config) for k in [*keys, known_key]))
    assert results[:-1] == [None] * 5_000
    assert results[-1] is not None and results[-1].id == 1
    # 5,001 keys waiting at once: batches of at most 500 -> 11 queries.
    assert sum(lookup.calls) == 5_001
    assert len(lookup.calls) <= 11


async def test_a_failed_lookup_treats_the_keys_as_unknown_and_does_not_wedge_the_guard() -> None:
    calls = 0

    async def flaky(digests: Sequence[str]) -> Mapping[str, KeySpec]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionRefusedError("database away")
        return {}

    guard = KeyGuard(flaky, min_interval=0.0)
    assert await _try(guard, _random_key(), _empty_config()) is None
    assert await _try(guard, _random_key(), _empty_config()) is None
    assert calls == 2


def _lookup_queries(router: LiveRouter) -> float:
    with router.http() as http:
        body = http.get("/metrics", headers={"authorization": "Bearer metrics"}).text
    [line] = [ln for ln in body.splitlines() if ln.startswith("router_key_lookup_queries_total ")]
    return float(line.split()[1])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_flood_of_unknown_keys_on_the_service_costs_few_queries_and_valid_keys_still_work(
    start_router: Callable[..., LiveRouter],
) -> None:
    router = start_router(metrics_token="metrics")
    router.apply("rules: []")
    valid = router.key("acme", "alice")
    before = _lookup_queries(router)

    async def flood() -> list[int]:
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(base_url=router.base_url, timeout=120, limits=limits) as http:
            answers = await asyncio.gather(
                *(http.get("/v1/models", headers={"x-api-key": k}) for k in [*flooding, valid])
            )
        return [a.status_code for a in answers]

    flooding = [_random_key() for _ in range(300)]
    started = time.monotonic()
    statuses = asyncio.run(flood())
    elapsed = time.monotonic() - started
    # The valid key gets past the guard: with no rules there is no model to list (404, not 401).
    assert set(statuses[:-1]) == {401} and statuses[-1] == 404
    queries = _lookup_queries(router) - before
    # At most one query per pause (50 ms), however many distinct keys arrive: a bound by construction.
    assert 1 <= queries <= elapsed / MIN_LOOKUP_INTERVAL + 2, (queries, elapsed)
    assert queries <= len(flooding) / 2, queries


async def test_a_closed_loop_flood_at_c64_costs_at_most_one_query_per_flood_interval() -> None:
    """5,000 distinct unknown keys from 64 attackers, each sending its next key as soon as the last is refused
    (the issue's flood, with the delays scaled down 25x so that the test takes seconds): every one refused,
    refusals past the free ones held back, and look-ups at most one per flood interval."""
    flood_interval, delay = 0.04, 0.02
    lookup = CountingLookup(delay=0.001)
    guard = KeyGuard(lookup, refusal_delay=delay, flood_interval=flood_interval)
    config = _empty_config()
    keys = [_random_key() for _ in range(5_000)]
    refused = 0

    async def attacker() -> None:
        nonlocal refused
        while keys:
            assert await _try(guard, keys.pop(), config) is None
            refused += 1

    started = time.monotonic()
    await asyncio.gather(*(attacker() for _ in range(64)))
    elapsed = time.monotonic() - started
    assert refused == 5_000 and sum(lookup.calls) == 5_000
    # The stated bound: until the flood is noticed (the first second's free refusals) one query per
    # MIN_LOOKUP_INTERVAL, then one per flood interval; 64 keys' refusals are held `delay` or more each.
    assert len(lookup.calls) <= 1.0 / MIN_LOOKUP_INTERVAL + elapsed / flood_interval + 2, (
        lookup.calls,
        elapsed,
    )
    assert elapsed >= (5_000 - 2 * FREE_REFUSALS) / 64 * delay
    # About one query per 64 keys, not one per key.
    assert len(lookup.calls) <= 5_000 / 64 * 2, len(lookup.calls)


async def test_a_mistyped_key_is_refused_at_once_and_a_known_key_is_never_held_during_a_flood() -> None:
    known = _random_key()
    config = replace(_empty_config(), keys={hash_key(known): _spec()})
    guard = KeyGuard(CountingLookup(), refusal_delay=0.5, min_interval=0.0)
    started = time.monotonic()
    assert await _try(guard, "sk-rt-typo", config) is None
    assert await _try(guard, _random_key(), config) is None
    # A lone wrong key gets its 401 at once: two held for the 0.5 s refusal delay would take 1 s.
    assert time.monotonic() - started < 0.5
    flood = [asyncio.ensure_future(_try(guard, _random_key(), config)) for _ in range(200)]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    spec = await _try(guard, known, config)
    # Answered from memory, not held for the 0.5 s the flood's refusals wait (the margin is for a busy CI).
    assert spec is not None and time.monotonic() - started < 0.25
    assert not all(f.done() for f in flood)  # ...while the flood's refusals are still held back
    assert await asyncio.gather(*flood) == [None] * 200
