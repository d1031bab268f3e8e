"""Pools through the running service: weights, failing members, sticky sessions, quotas across replicas."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import pytest
import redis
from sqlalchemy import select

from router.routing.facts import session_of
from router.routing.pools import order_members
from router.store.db import Database
from router.store.usage_models import UsageRecord
from tests.fakes import Fail
from tests.fixtures.app import LiveRouter
from tests.fixtures.db import run_async
from tests.fixtures.minutes import clear_of_a_minute_boundary

PROVIDERS = """
providers:
  - {name: azure-eu, kind: azure, api_base: "${UPSTREAM}", api_key: "${AZURE_API_KEY}", api_version: "2024-10-21"}
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
deployments:
  - {name: gpt4o-eu, provider: azure-eu, deployment: gpt-4o-eu, model: gpt-4o}
  - {name: gpt4o-us, provider: azure-eu, deployment: gpt-4o-us, model: gpt-4o}
"""


def pool_config(
    strategy: str = "weighted",
    *,
    sticky: bool = True,
    rpm: int | None = None,
    weights: tuple[int, int] = (3, 1),
) -> str:
    quota = f", rpm: {rpm}" if rpm is not None else ""
    return (
        PROVIDERS
        + f"""
pools:
  - name: gpt4o
    strategy: {strategy}
    sticky: {str(sticky).lower()}
    members:
      - {{target: deployment/gpt4o-eu, weight: {weights[0]}{quota}}}
      - {{target: deployment/gpt4o-us, weight: {weights[1]}{quota}}}
chains:
  - {{name: spill, targets: [pool/gpt4o, oai/gpt-4.1]}}
rules:
  - {{match: "spill-*", chain: spill}}
  - {{match: "*", target: pool/gpt4o}}
"""
    )


def ask(model: str = "claude-sonnet-4-5", user_id: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hello"}],
        **extra,
    }
    if user_id is not None:
        body["metadata"] = {"user_id": user_id}
    return body


def claude_code_user(session: str) -> str:
    return f"user_{'ab' * 32}_account_00000000-0000-0000-0000-000000000001_session_{session}"


@pytest.fixture
def shared_redis() -> Iterator[dict[str, str]]:
    namespace = f"router-test-{uuid.uuid4().hex[:12]}"
    shared = {"redis_url": "redis://127.0.0.1:6379/0", "redis_namespace": namespace}
    yield shared
    cleanup = redis.Redis.from_url(shared["redis_url"])
    try:
        for name in cleanup.scan_iter(f"{namespace}:*"):
            cleanup.delete(name)
    finally:
        cleanup.close()


async def _many(router: LiveRouter, key: str, bodies: list[dict[str, Any]], width: int = 16) -> list[Any]:
    client = router.async_client(key)
    gate = asyncio.Semaphore(width)

    async def one(body: dict[str, Any]) -> Any:
        async with gate:
            try:
                return await client.messages.create(**body)
            except anthropic.APIStatusError as exc:
                return exc

    try:
        return await asyncio.gather(*(one(b) for b in bodies))
    finally:
        await client.close()


def _usage_rows(router: LiveRouter, count: int) -> list[UsageRecord]:
    async def read() -> list[UsageRecord]:
        db = Database(router.settings.database_url)
        try:
            async with db.session() as session:
                return list((await session.scalars(select(UsageRecord).order_by(UsageRecord.id))).all())
        finally:
            await db.dispose()

    deadline = time.monotonic() + 10
    while len(rows := run_async(read())) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return rows


pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_weights_3_to_1_split_1000_requests_within_5_percent(live_router: LiveRouter) -> None:
    live_router.apply(pool_config(sticky=False))
    key = live_router.key("acme", "alice")
    results = asyncio.run(_many(live_router, key, [ask() for _ in range(1000)]))
    assert all(isinstance(r, anthropic.types.Message) for r in results)
    split = Counter(r.model for r in live_router.upstream.requests)
    assert sum(split.values()) == 1000
    assert abs(split["gpt-4o-eu"] / 1000 - 0.75) <= 0.05, split


def test_a_failing_member_is_skipped_within_the_same_request(live_router: LiveRouter) -> None:
    live_router.apply(pool_config())
    key = live_router.key("acme", "alice")
    user = claude_code_user("5b0f3c1e-1111-4222-8333-444455556666")
    pool = live_router.app.state.snapshots.current.pools["gpt4o"]
    first, second = (c.member.target.upstream_model for c in order_members(pool, session=session_of(user)))
    live_router.upstream.script(Fail(503, "deployment overloaded"), model=first)

    message = live_router.client(key).messages.create(**ask(user_id=user))

    assert message.content[0].text == f"Hello from azure:{second}."
    assert [r.model for r in live_router.upstream.requests] == [first, second]


def test_one_sessions_requests_all_reach_one_member_and_sessions_spread(live_router: LiveRouter) -> None:
    live_router.apply(pool_config())
    key = live_router.key("acme", "alice")
    sessions = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(24)]
    by_session: dict[str, set[str]] = {}
    for session in sessions:
        before = len(live_router.upstream.requests)
        results = asyncio.run(_many(live_router, key, [ask(user_id=claude_code_user(session))] * 5))
        assert all(isinstance(r, anthropic.types.Message) for r in results)
        by_session[session] = {r.model for r in live_router.upstream.requests[before:]}
    assert all(len(models) == 1 for models in by_session.values()), by_session
    # Different sessions still use both members.
    assert set().union(*by_session.values()) == {"gpt-4o-eu", "gpt-4o-us"}


def test_member_quota_is_never_exceeded_across_two_replicas(
    start_router: Callable[..., LiveRouter], shared_redis: dict[str, str]
) -> None:
    first, second = start_router(**shared_redis), start_router(**shared_redis)
    first.apply(pool_config(sticky=False, rpm=4))
    key = first.key("acme", "alice")
    second.wait_for_config()
    clear_of_a_minute_boundary()

    async def both() -> list[Any]:
        bodies = [ask() for _ in range(20)]
        a, b = await asyncio.gather(_many(first, key, bodies), _many(second, key, bodies))
        return [*a, *b]

    results = asyncio.run(both())

    per_member = Counter(r.model for r in first.upstream.requests)
    assert per_member == {"gpt-4o-eu": 4, "gpt-4o-us": 4}
    refused = [r for r in results if isinstance(r, anthropic.RateLimitError)]
    assert len(refused) == 40 - 8
    assert all(0 < int(r.response.headers["retry-after"]) <= 60 for r in refused)


def test_a_chain_moves_on_when_every_member_is_at_its_quota(live_router: LiveRouter) -> None:
    live_router.apply(pool_config(sticky=False, rpm=1))
    client = live_router.client(live_router.key("acme", "alice"))
    clear_of_a_minute_boundary()
    for _ in range(3):
        client.messages.create(**ask("spill-model"))
    assert sorted(r.model for r in live_router.upstream.requests) == ["gpt-4.1", "gpt-4o-eu", "gpt-4o-us"]


def _cache_read_share(router: LiveRouter, key: str, sessions: int, turns: int) -> float:
    """Claude Code-like sessions, each a growing conversation; the share of prompt tokens read from cache."""
    client = router.client(key)
    read = total = 0
    for s in range(sessions):
        user = claude_code_user(str(uuid.UUID(int=s + 1000)))
        history: list[dict[str, Any]] = []
        for t in range(turns):
            history.append({"role": "user", "content": f"session {s} turn {t}: " + "context " * 200})
            message = client.messages.create(**ask(user_id=user, messages=list(history)))
            usage = message.usage
            read += usage.cache_read_input_tokens or 0
            total += usage.input_tokens + (usage.cache_read_input_tokens or 0)
            history.append({"role": "assistant", "content": message.content[0].text})
    return read / total


def test_sticky_sessions_keep_the_providers_prompt_cache_warm(
    live_router: LiveRouter, capsys: pytest.CaptureFixture[str]
) -> None:
    key = live_router.key("acme", "alice")
    live_router.upstream.prompt_cache = True
    # Even weights: without stickiness a session's turns alternate members at random.
    live_router.apply(pool_config(sticky=False, weights=(1, 1)))
    unsticky = _cache_read_share(live_router, key, sessions=6, turns=6)
    live_router.upstream.reset()
    live_router.upstream.prompt_cache = True
    live_router.apply(pool_config(sticky=True, weights=(1, 1)))
    sticky = _cache_read_share(live_router, key, sessions=6, turns=6)
    with capsys.disabled():
        print(f"\ncache-read share of prompt tokens: sticky {sticky:.1%}, not sticky {unsticky:.1%}")
    assert sticky > unsticky + 0.10
