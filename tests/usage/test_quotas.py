"""Pool members' quotas: a sliding minute, counted atomically, in memory and in Redis shared by replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from router.usage.quotas import MemberQuotas, MemoryQuotas
from router.usage.quotas_redis import RedisQuotas
from tests.usage.conftest import REDIS_URL


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def quotas(request: pytest.FixtureRequest, redis_namespace: str) -> AsyncIterator[MemberQuotas]:
    made: MemberQuotas = (
        MemoryQuotas()
        if request.param == "memory"
        else RedisQuotas.from_url(REDIS_URL, namespace=redis_namespace)
    )
    yield made
    await made.stop()


async def test_rpm_admits_n_requests_a_minute_then_says_when_one_frees(quotas: MemberQuotas) -> None:
    answers = [await quotas.take("deployment/eu", 3, None, 10) for _ in range(5)]
    assert answers[:3] == [None, None, None]
    assert all(a is not None and 59 < a <= 60 for a in answers[3:])


async def test_tpm_counts_the_prompt_then_the_answer(quotas: MemberQuotas) -> None:
    assert await quotas.take("deployment/eu", None, 1000, 600) is None
    await quotas.add_tokens("deployment/eu", 300)
    assert await quotas.take("deployment/eu", None, 1000, 200) is not None
    assert await quotas.take("deployment/eu", None, 1000, 100) is None


async def test_members_are_counted_apart(quotas: MemberQuotas) -> None:
    assert await quotas.take("a", 1, None, 0) is None
    assert await quotas.take("b", 1, None, 0) is None
    assert await quotas.take("a", 1, None, 0) is not None


async def test_memory_window_slides() -> None:
    clock = Clock()
    quotas = MemoryQuotas(clock)
    assert await quotas.take("m", 1, None, 0) is None
    clock.now += 30
    assert await quotas.take("m", 1, None, 0) == pytest.approx(30)
    clock.now += 30.5
    assert await quotas.take("m", 1, None, 0) is None


async def test_two_replicas_under_concurrency_never_exceed_the_quota(redis_namespace: str) -> None:
    replicas = [RedisQuotas.from_url(REDIS_URL, namespace=redis_namespace) for _ in range(2)]
    try:
        answers = await asyncio.gather(
            *(replicas[i % 2].take("deployment/eu", 25, None, 1) for i in range(300))
        )
    finally:
        for replica in replicas:
            await replica.stop()
    assert sum(a is None for a in answers) == 25
