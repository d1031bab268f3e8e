"""Upstream failures become classified ProviderErrors: before the first event, or from the __anext__ that
meets them."""

from __future__ import annotations

from typing import Any

import pytest

from router.providers import ProviderError, ProviderHub, UpstreamCall
from router.providers.policy import client_error
from router.routing.model import Target
from tests.fakes.upstream import FakeUpstream
from tests.fakes.upstream_script import BreakStream, Delay, ErrorIn200, Fail, NotJson, Reply, Step
from tests.providers.support import KINDS, closed_port, credential_of, make_call, make_target

# Our own HTTP client (exact statuses); Gemini goes through LiteLLM, which reshapes some of them.
OWN_WIRE = ("openai", "azure", "anthropic")

_OPENAI_CONTEXT = (
    "This model's maximum context length is 128000 tokens. Your messages resulted in 130000 tokens."
)
CONTEXT_MESSAGES = {
    "openai": _OPENAI_CONTEXT,
    "azure": _OPENAI_CONTEXT,
    "gemini": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    "anthropic": "prompt is too long: 210000 tokens > 200000 maximum",
}
# What the client reads, in Anthropic's words, with the counts each provider gave.
CONTEXT_COUNTS = {
    "openai": (130000, 128000),
    "azure": (130000, 128000),
    "gemini": (1200000, 1048576),
    "anthropic": (210000, 200000),
}


async def _fail_of(hub: ProviderHub, call: UpstreamCall, stream: bool) -> ProviderError:
    """The ProviderError the call raises; for a stream, from its first __anext__ (before any event)."""
    with pytest.raises(ProviderError) as info:
        if stream:
            events = hub.stream(call)
            try:
                await events.__anext__()
            finally:
                await events.aclose()
        else:
            await hub.complete(call)
    return info.value


def _call(kind: str, fake: FakeUpstream, step: Step, stream: bool, **fields: Any) -> UpstreamCall:
    fake.script(step)
    return make_call(make_target(kind, fake.base_url), stream=stream, **fields)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_is_retryable_with_retry_after(
    hub: ProviderHub, fake: FakeUpstream, kind: str, stream: bool
) -> None:
    call = _call(kind, fake, Fail(429, "Rate limit reached", headers={"retry-after": "7"}), stream)

    error = await _fail_of(hub, call, stream)

    assert error.retryable and not error.context_window
    assert error.status == 429
    assert error.retry_after == 7.0


@pytest.mark.parametrize("kind", OWN_WIRE)
async def test_retry_after_ms_is_read_in_milliseconds(
    hub: ProviderHub, fake: FakeUpstream, kind: str
) -> None:
    call = _call(kind, fake, Fail(429, "slow down", headers={"retry-after-ms": "1500"}), False)

    assert (await _fail_of(hub, call, False)).retry_after == 1.5


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [500, 503, 529])
async def test_server_errors_are_retryable(
    hub: ProviderHub, fake: FakeUpstream, kind: str, status: int
) -> None:
    error = await _fail_of(hub, _call(kind, fake, Fail(status, "upstream exploded"), False), False)

    assert error.retryable
    assert error.status >= 500
    if kind in OWN_WIRE:
        assert error.status == status


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_bad_request_is_not_retryable(
    hub: ProviderHub, fake: FakeUpstream, kind: str, stream: bool
) -> None:
    error = await _fail_of(hub, _call(kind, fake, Fail(400, "tools.0: invalid schema"), stream), stream)

    assert not error.retryable and not error.context_window
    assert error.status == 400
    assert "invalid schema" in error.message


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [401, 403])
async def test_rejected_provider_credential_is_a_server_side_failure(
    hub: ProviderHub, fake: FakeUpstream, kind: str, status: int
) -> None:
    key = credential_of(kind)
    step = Fail(status, f"Incorrect API key provided: {key}. Find your key at https://x/?key={key}")

    error = await _fail_of(hub, _call(kind, fake, step, False), False)

    assert not error.retryable
    assert error.status == status and error.error_type == "api_error"
    assert "rejected the provider's credential" in error.message
    assert key not in error.message


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_prompt_too_long_is_flagged_as_context_window(
    hub: ProviderHub, fake: FakeUpstream, kind: str, stream: bool
) -> None:
    error = await _fail_of(hub, _call(kind, fake, Fail(400, CONTEXT_MESSAGES[kind]), stream), stream)

    assert error.context_window
    assert not error.retryable
    assert (error.prompt_tokens, error.window) == CONTEXT_COUNTS[kind]
    tokens, window = CONTEXT_COUNTS[kind]
    assert client_error(error).message == f"prompt is too long: {tokens} tokens > {window} maximum"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_body_that_is_not_json_is_retryable(
    hub: ProviderHub, fake: FakeUpstream, kind: str, stream: bool
) -> None:
    error = await _fail_of(hub, _call(kind, fake, NotJson(status=200), stream), stream)

    assert error.retryable


@pytest.mark.parametrize("kind", KINDS)
async def test_an_html_error_page_is_retryable(hub: ProviderHub, fake: FakeUpstream, kind: str) -> None:
    error = await _fail_of(hub, _call(kind, fake, NotJson(status=502), False), False)

    assert error.retryable
    assert error.status >= 500


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_an_error_inside_a_200_is_retryable(
    hub: ProviderHub, fake: FakeUpstream, kind: str, stream: bool
) -> None:
    error = await _fail_of(hub, _call(kind, fake, ErrorIn200("Overloaded, try later"), stream), stream)

    assert error.retryable


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_no_first_byte_in_time_is_a_retryable_504(
    hub: ProviderHub, fake: FakeUpstream, kind: str, stream: bool
) -> None:
    call = _call(kind, fake, Delay(1.0, Reply(text="too late")), stream, first_byte_timeout=0.3)

    error = await _fail_of(hub, call, stream)

    assert error.status == 504
    assert error.retryable
    if stream:
        # We hung up: when the fake wakes up to answer, it finds the connection gone.
        assert await fake.wait_until_async(lambda: fake.cancelled_streams == 1, within=3.0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [False, True])
async def test_connection_refused_is_retryable(hub: ProviderHub, kind: str, stream: bool) -> None:
    target: Target = make_target(kind, f"http://127.0.0.1:{closed_port()}")

    error = await _fail_of(hub, make_call(target, stream=stream), stream)

    assert error.retryable
    # The client is told only that the upstream is unreachable; host and port stay in our own record.
    assert client_error(error).message == "upstream unreachable"
    assert "127.0.0.1" in error.message


_GEMINI_EOF = pytest.param(
    "gemini",
    "eof",
    marks=pytest.mark.xfail(
        strict=True,
        reason="LiteLLM marks every Gemini chunk without finishReason as 'stop', so a stream closed cleanly "
        "mid-answer looks finished (a reset connection is still caught)",
    ),
)
_BREAKS = [(k, m) for k in KINDS for m in ("reset", "eof") if (k, m) != ("gemini", "eof")] + [_GEMINI_EOF]


@pytest.mark.parametrize(("kind", "mode"), _BREAKS)
async def test_a_stream_broken_midway_raises_from_anext_after_some_events(
    hub: ProviderHub, fake: FakeUpstream, kind: str, mode: str
) -> None:
    reply = Reply(text="A long answer that will be cut off somewhere in the middle.", chunk_size=4)
    fake.script(BreakStream(after_chunks=5, mode=mode, reply=reply))  # type: ignore[arg-type]
    stream = hub.stream(make_call(make_target(kind, fake.base_url), stream=True))

    events = []
    with pytest.raises(ProviderError) as info:
        async for event in stream:
            events.append(event)
    await stream.aclose()

    assert events and events[0]["type"] == "message_start"
    assert any(e["type"] == "content_block_delta" for e in events)
    assert all(e["type"] != "message_stop" for e in events)
    assert info.value.retryable


@pytest.mark.parametrize("kind", OWN_WIRE)
async def test_a_non_stream_body_cut_in_half_is_retryable(
    hub: ProviderHub, fake: FakeUpstream, kind: str
) -> None:
    error = await _fail_of(hub, _call(kind, fake, BreakStream(after_chunks=0, mode="eof"), False), False)

    assert error.retryable


@pytest.mark.parametrize("kind", KINDS)
async def test_closing_the_stream_early_cancels_the_upstream(
    hub: ProviderHub, fake: FakeUpstream, kind: str
) -> None:
    fake.script(Reply(text="word " * 200, chunk_size=5, chunk_delay=0.02))
    stream = hub.stream(make_call(make_target(kind, fake.base_url), stream=True))

    seen = [await stream.__anext__() for _ in range(4)]
    await stream.aclose()

    assert seen[0]["type"] == "message_start"
    assert await fake.wait_until_async(lambda: fake.cancelled_streams == 1, within=3.0)
