"""Upstream faults injected under the running service: the client gets a complete answer or a well-formed
Anthropic error (an `error` event once the stream began), never a hang or a silently truncated stream."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.fakes import BreakStream, Delay, ErrorIn200, NotJson, Reply
from tests.fakes.upstream import FakeUpstream
from tests.fixtures.app import LiveRouter
from tests.hardening.conftest import CHAIN_CONFIG, StartRouter
from tests.hardening.support import ASK, assert_error_body, closed_port, stream_raw

# Every call below must end well within this: a hang is a failure, not a slow test.
CLIENT_TIMEOUT = httpx.Timeout(15.0)


@pytest.fixture(scope="module")
def configured(module_router: LiveRouter) -> LiveRouter:
    module_router.apply(CHAIN_CONFIG.format(dead_port=closed_port()))
    return module_router


@pytest.fixture
def router(configured: LiveRouter, fake_upstream: FakeUpstream) -> LiveRouter:
    """The module's service, with the fake upstream reset for this test."""
    return configured


@pytest.fixture
def key(router: LiveRouter) -> str:
    return router.key("acme", "alice")


def _post(router: LiveRouter, key: str, body: dict[str, object]) -> httpx.Response:
    with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
        return http.post("/v1/messages", json=body, headers={"x-api-key": key})


# ---- connection refused --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_connection_refused_alone_is_a_clean_error_quickly(
    router: LiveRouter, key: str, stream: bool
) -> None:
    started = time.monotonic()
    if stream:
        with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
            response, sse = stream_raw(http, key, {**ASK, "model": "claude-dead-only"})
        # Nothing was committed yet: the failure is an HTTP error, not a stream.
        assert sse.frames == []
    else:
        response = _post(router, key, {**ASK, "model": "claude-dead-only"})
    error = assert_error_body(response)
    assert response.status_code >= 500
    assert error["type"] in ("api_error", "overloaded_error", "timeout_error")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("stream", [False, True])
def test_connection_refused_falls_back_to_the_next_target(router: LiveRouter, key: str, stream: bool) -> None:
    router.upstream.script(Reply(text="from the backup"), model="gpt-4o-mini")
    body = {**ASK, "model": "claude-from-dead"}
    if stream:
        with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
            response, sse = stream_raw(http, key, body)
        assert response.status_code == 200
        sse.assert_complete()
        assert sse.text() == "from the backup"
    else:
        response = _post(router, key, body)
        assert response.status_code == 200, response.text
        assert response.json()["content"][0]["text"] == "from the backup"


# ---- broken streams ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["reset", "eof"])
def test_stream_broken_after_first_byte_ends_with_one_error_event(
    router: LiveRouter, key: str, mode: str
) -> None:
    reply = Reply(text="a long answer that will be cut off in the middle of a sentence", chunk_size=5)
    router.upstream.script(BreakStream(after_chunks=4, mode=mode, reply=reply), model="gpt-4.1")  # type: ignore[arg-type]
    with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
        response, sse = stream_raw(http, key, ASK)
    assert response.status_code == 200
    assert sse.types[0] == "message_start"
    assert "content_block_delta" in sse.types  # the client did get the first part
    sse.assert_ends_with_error()
    # Committed to the first target once bytes went out: no second upstream call.
    assert [r.model for r in router.upstream.requests] == ["gpt-4.1"]


@pytest.mark.parametrize("mode", ["reset", "eof"])
def test_stream_broken_before_any_event_falls_back(router: LiveRouter, key: str, mode: str) -> None:
    router.upstream.script(BreakStream(after_chunks=0, mode=mode), model="gpt-4.1")  # type: ignore[arg-type]
    router.upstream.script(Reply(text="the backup answered"), model="gpt-4o-mini")
    with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
        response, sse = stream_raw(http, key, ASK)
    assert response.status_code == 200
    sse.assert_complete()
    assert sse.text() == "the backup answered"


@pytest.mark.parametrize("mode", ["reset", "eof"])
def test_non_stream_body_cut_in_half_falls_back(router: LiveRouter, key: str, mode: str) -> None:
    router.upstream.script(BreakStream(after_chunks=0, mode=mode), model="gpt-4.1")  # type: ignore[arg-type]
    router.upstream.script(Reply(text="whole answer"), model="gpt-4o-mini")
    response = _post(router, key, ASK)
    assert response.status_code == 200, response.text
    assert response.json()["content"][0]["text"] == "whole answer"


# ---- bodies that are not what they claim ---------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("status", [200, 502])
def test_body_that_is_not_json_falls_back(router: LiveRouter, key: str, stream: bool, status: int) -> None:
    router.upstream.script(NotJson(status=status), model="gpt-4.1")
    router.upstream.script(Reply(text="real json"), model="gpt-4o-mini")
    with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
        if stream:
            response, sse = stream_raw(http, key, ASK)
            assert response.status_code == 200
            sse.assert_complete()
            assert sse.text() == "real json"
        else:
            response = http.post("/v1/messages", json=ASK, headers={"x-api-key": key})
            assert response.status_code == 200, response.text
            assert response.json()["content"][0]["text"] == "real json"


@pytest.mark.parametrize("stream", [False, True])
def test_body_that_is_not_json_everywhere_is_a_clean_error(
    router: LiveRouter, key: str, stream: bool
) -> None:
    router.upstream.script(NotJson(), model="gpt-4.1")
    router.upstream.script(NotJson(), model="gpt-4o-mini")
    with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
        if stream:
            response, sse = stream_raw(http, key, ASK)
            if sse.frames:
                sse.assert_ends_with_error()
            else:
                assert_error_body(response)
                assert response.status_code >= 500
        else:
            response = http.post("/v1/messages", json=ASK, headers={"x-api-key": key})
            assert_error_body(response)
            assert response.status_code >= 500
        # At most a short, scrubbed snippet of the upstream's page reaches the client, never the page.
        assert len(response.text) < 1500


@pytest.mark.parametrize("stream", [False, True])
def test_error_payload_in_a_200_is_an_error_not_a_message(router: LiveRouter, key: str, stream: bool) -> None:
    router.upstream.script(ErrorIn200("the model is on fire"), model="gpt-4.1")
    router.upstream.script(ErrorIn200("the backup is on fire too"), model="gpt-4o-mini")
    with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
        if stream:
            response, sse = stream_raw(http, key, ASK)
            if sse.frames:
                sse.assert_ends_with_error()
                assert "content_block_delta" not in sse.types
            else:
                assert_error_body(response)
        else:
            response = http.post("/v1/messages", json=ASK, headers={"x-api-key": key})
            error = assert_error_body(response)
            assert response.status_code >= 500
            assert "fire" in error["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_error_payload_in_a_200_falls_back(router: LiveRouter, key: str, stream: bool) -> None:
    router.upstream.script(ErrorIn200("transient"), model="gpt-4.1")
    router.upstream.script(Reply(text="fine here"), model="gpt-4o-mini")
    with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
        if stream:
            response, sse = stream_raw(http, key, ASK)
            sse.assert_complete()
            assert sse.text() == "fine here"
        else:
            response = http.post("/v1/messages", json=ASK, headers={"x-api-key": key})
            assert response.status_code == 200, response.text
            assert response.json()["content"][0]["text"] == "fine here"


# ---- slow first byte -----------------------------------------------------------------------------------


def test_slow_first_byte_of_a_stream_gives_up_at_the_timeout_and_uses_the_next_target(
    router: LiveRouter, key: str
) -> None:
    first_byte = router.settings.upstream_first_byte_timeout
    router.upstream.script(Delay(30, Reply(text="far too late")), model="gpt-4.1")
    router.upstream.script(Reply(text="on time"), model="gpt-4o-mini")
    started = time.monotonic()
    with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
        _, sse = stream_raw(http, key, ASK)
    elapsed = time.monotonic() - started
    sse.assert_complete()
    assert sse.text() == "on time"
    assert first_byte <= elapsed < first_byte + 3


def test_slow_non_stream_answer_gives_up_at_the_call_timeout_and_uses_the_next_target(
    start_sqlite_router: StartRouter,
) -> None:
    # A non-streamed answer's first byte is the whole answer: the whole-call timeout is what bounds it.
    router = start_sqlite_router(upstream_timeout=2.0)
    router.apply(CHAIN_CONFIG.format(dead_port=closed_port()))
    router.upstream.script(Delay(30, Reply(text="far too late")), model="gpt-4.1")
    router.upstream.script(Reply(text="on time"), model="gpt-4o-mini")
    started = time.monotonic()
    response = _post(router, router.key(), ASK)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["content"][0]["text"] == "on time"
    assert 2.0 <= elapsed < 5


@pytest.mark.parametrize("stream", [False, True])
def test_slow_first_byte_everywhere_is_a_timeout_error(
    start_sqlite_router: StartRouter, stream: bool
) -> None:
    router = start_sqlite_router(upstream_timeout=2.0, upstream_first_byte_timeout=1.0)
    router.apply(CHAIN_CONFIG.format(dead_port=closed_port()))
    key = router.key()
    router.upstream.script(Delay(30, Reply(text="late")), model="gpt-4.1")
    router.upstream.script(Delay(30, Reply(text="late")), model="gpt-4o-mini")
    started = time.monotonic()
    if stream:
        with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
            response, sse = stream_raw(http, key, ASK)
        assert sse.frames == []  # nothing was committed: an HTTP error, not a stream
    else:
        response = _post(router, key, ASK)
    error = assert_error_body(response)
    assert (response.status_code, error["type"]) == (504, "timeout_error")
    assert time.monotonic() - started < 2 * 2.0 + 3


def test_stream_that_stalls_after_its_first_byte_ends_with_an_error_event_at_the_stall_timeout(
    start_sqlite_router: StartRouter,
) -> None:
    # Silence between chunks is bounded like the first byte is, well before the whole call's timeout.
    router = start_sqlite_router(upstream_first_byte_timeout=1.5, upstream_timeout=30.0)
    router.apply(CHAIN_CONFIG.format(dead_port=closed_port()))
    # The first chunks come at once, then the upstream goes quiet for far longer than the call may take.
    router.upstream.script(
        Reply(text="first words then silence", chunk_size=8, chunk_delay=30), model="gpt-4.1"
    )
    started = time.monotonic()
    with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
        response, sse = stream_raw(http, router.key(), ASK)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert sse.types[0] == "message_start"
    error = sse.assert_ends_with_error()
    assert error["type"] == "timeout_error"
    assert 1.5 <= elapsed < 6


# ---- huge answers --------------------------------------------------------------------------------------

HUGE = "0123456789abcdef" * (5 * 1024 * 1024 // 16)  # 5 MiB of text


def test_huge_answer_arrives_whole(router: LiveRouter, key: str) -> None:
    router.upstream.script(Reply(text=HUGE, output_tokens=1_300_000), model="gpt-4.1")
    response = _post(router, key, ASK)
    assert response.status_code == 200
    assert response.json()["content"][0]["text"] == HUGE


def test_huge_streamed_answer_arrives_whole(router: LiveRouter, key: str) -> None:
    router.upstream.script(Reply(text=HUGE, output_tokens=1_300_000, chunk_size=64 * 1024), model="gpt-4.1")
    with httpx.Client(base_url=router.base_url, timeout=CLIENT_TIMEOUT) as http:
        response, sse = stream_raw(http, key, ASK)
    assert response.status_code == 200
    sse.assert_complete()
    assert sse.text() == HUGE
