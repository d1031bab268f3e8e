"""Fallback chains: retryable failures move along the chain, bad requests do not, streams only before byte one."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import pytest

from tests.fakes import BreakStream, Delay, Fail, Reply
from tests.fixtures.app import LiveRouter

CHAIN = """
providers:
  - {name: oai, kind: openai, api_base: "${UPSTREAM}/v1", api_key: "${OPENAI_API_KEY}"}
  - {name: azure-eu, kind: azure, api_base: "${UPSTREAM}", api_key: "${AZURE_API_KEY}", api_version: "2024-10-21"}
  - {name: gem, kind: gemini, api_base: "${UPSTREAM}", api_key: "${GEMINI_API_KEY}"}
deployments:
  - {name: gpt4o-eu, provider: azure-eu, deployment: gpt-4o-prod, model: gpt-4o}
chains:
  - {name: big, targets: [oai/gpt-4.1, deployment/gpt4o-eu, gem/gemini-2.5-pro]}
rules:
  - {match: "*", chain: big}
"""

ASK = {"model": "claude-opus-5-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def router(live_router: LiveRouter) -> LiveRouter:
    live_router.apply(CHAIN)
    return live_router


@pytest.mark.parametrize("status", [500, 429, 529, 503])
def test_retryable_failure_moves_to_the_next_target(router: LiveRouter, status: int) -> None:
    router.upstream.script(Fail(status, "boom"), model="gpt-4.1")
    router.upstream.script(Reply(text="from azure"), model="gpt-4o-prod")
    message = router.client(router.key()).messages.create(**ASK)  # type: ignore[call-overload]
    assert message.content[0].text == "from azure"
    assert [r.kind for r in router.upstream.requests] == ["openai", "azure"]


def test_all_targets_failing_returns_the_last_error(router: LiveRouter) -> None:
    router.upstream.script(Fail(500), model="gpt-4.1")
    router.upstream.script(Fail(500), model="gpt-4o-prod")
    router.upstream.script(Fail(529, "overloaded"), model="gemini-2.5-pro")
    with pytest.raises(anthropic.APIStatusError) as caught:
        router.client(router.key()).messages.create(**ASK)  # type: ignore[call-overload]
    assert caught.value.status_code == 529
    assert [r.kind for r in router.upstream.requests] == ["openai", "azure", "gemini"]


def test_bad_request_does_not_fall_back(router: LiveRouter) -> None:
    router.upstream.script(Fail(400, "invalid messages"), model="gpt-4.1")
    with pytest.raises(anthropic.BadRequestError):
        router.client(router.key()).messages.create(**ASK)  # type: ignore[call-overload]
    assert [r.kind for r in router.upstream.requests] == ["openai"]


def test_slow_first_byte_of_a_stream_times_out_then_falls_back(router: LiveRouter) -> None:
    router.upstream.script(Delay(30, Reply(text="too late")), model="gpt-4.1")
    router.upstream.script(Reply(text="on time"), model="gpt-4o-prod")
    with router.client(router.key()).messages.stream(**ASK) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert final.content[0].text == "on time"  # type: ignore[union-attr]


def test_non_stream_call_slower_than_the_whole_call_timeout_falls_back(
    start_router: Callable[..., LiveRouter],
) -> None:
    live_router = start_router(upstream_timeout=2.0)
    live_router.apply(CHAIN)
    live_router.upstream.script(Delay(30, Reply(text="too late")), model="gpt-4.1")
    live_router.upstream.script(Reply(text="on time"), model="gpt-4o-prod")
    message = live_router.client(live_router.key()).messages.create(**ASK)  # type: ignore[call-overload]
    assert message.content[0].text == "on time"


def test_stream_falls_back_before_first_byte(router: LiveRouter) -> None:
    router.upstream.script(Fail(503), model="gpt-4.1")
    router.upstream.script(Reply(text="streamed from azure"), model="gpt-4o-prod")
    with router.client(router.key()).messages.stream(**ASK) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    assert final.content[0].text == "streamed from azure"  # type: ignore[union-attr]


def test_stream_broken_after_first_byte_ends_with_error_event(router: LiveRouter) -> None:
    router.upstream.script(
        BreakStream(after_chunks=3, reply=Reply(text="a long answer that breaks")), model="gpt-4.1"
    )
    client = router.client(router.key())
    with pytest.raises(anthropic.APIStatusError), client.messages.stream(**ASK) as stream:  # type: ignore[arg-type]
        for _ in stream:
            pass
    # Committed to the first target: no fallback once bytes reached the client.
    assert [r.kind for r in router.upstream.requests] == ["openai"]


def test_target_that_keeps_failing_is_cooled_down(router: LiveRouter) -> None:
    key = router.key()
    client = router.client(key)
    for _ in range(3):
        router.upstream.script(Fail(500), model="gpt-4.1")
        client.messages.create(**ASK)  # type: ignore[call-overload]
    before = len(router.upstream.requests_for(kind="openai"))
    client.messages.create(**ASK)  # type: ignore[call-overload]
    assert len(router.upstream.requests_for(kind="openai")) == before  # skipped while cooling down
