"""Client faults: a client that hangs up mid-stream, one that reads slowly, one that sends too much."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from router.providers.base import EventStream
from router.wire.stream_events import StreamEvent
from tests.fakes import Reply
from tests.fixtures.app import LiveRouter
from tests.hardening.conftest import CHAIN_CONFIG, StartRouter
from tests.hardening.support import ASK, closed_port, parse_sse, wait_for_usage


@pytest.fixture
def router(live: LiveRouter) -> LiveRouter:
    live.apply(CHAIN_CONFIG.format(dead_port=closed_port()))
    return live


# ---- hanging up mid-stream -----------------------------------------------------------------------------


def test_client_hanging_up_mid_stream_cancels_the_upstream_call_and_records_what_was_delivered(
    router: LiveRouter,
) -> None:
    key = router.key("acme", "quitter")
    # 400 characters in 5-character chunks, 50 ms apart: a 4-second stream to walk away from.
    long_text = "".join(f"word{i:02d} " for i in range(57))[:400]
    router.upstream.script(
        Reply(text=long_text, chunk_size=5, chunk_delay=0.05, output_tokens=100), model="gpt-4.1"
    )
    received = b""
    with (
        httpx.Client(base_url=router.base_url, timeout=10) as http,
        http.stream(
            "POST", "/v1/messages", json={**ASK, "stream": True}, headers={"x-api-key": key}
        ) as response,
    ):
        assert response.status_code == 200
        for piece in response.iter_raw():
            received += piece
            if received.count(b"event: content_block_delta") >= 3:
                break
        # Leaving the `with` closes the connection with most of the stream unread.
    delivered = parse_sse(received[: received.rindex(b"\n\n") + 2]).text()
    assert 0 < len(delivered) < len(long_text)

    assert router.upstream.wait_until(lambda: router.upstream.cancelled_streams == 1, within=3)

    [record] = wait_for_usage(router.settings.database_url, 1)
    assert record.outcome == "client_cancelled"
    assert record.stream is True
    assert record.target == "oai/gpt-4.1"
    # What was delivered is counted (estimated), not the full answer the upstream would have given.
    assert record.tokens_estimated is True
    assert 1 <= record.output_tokens < 100
    assert record.input_tokens > 0


def test_service_keeps_serving_after_many_clients_hang_up(router: LiveRouter) -> None:
    key = router.key("acme", "flaky")
    router.upstream.set_default(Reply(text="x" * 200, chunk_size=2, chunk_delay=0.02))
    for _ in range(8):
        with (
            httpx.Client(base_url=router.base_url, timeout=10) as http,
            http.stream(
                "POST", "/v1/messages", json={**ASK, "stream": True}, headers={"x-api-key": key}
            ) as response,
        ):
            next(response.iter_raw())
    assert router.upstream.wait_until(lambda: router.upstream.cancelled_streams == 8, within=5)
    router.upstream.set_default(Reply(text="still here"))
    with router.http() as http:
        answer = http.post("/v1/messages", json=ASK, headers={"x-api-key": key})
    assert answer.json()["content"][0]["text"] == "still here"
    records = wait_for_usage(router.settings.database_url, 9)
    assert sorted(r.outcome for r in records) == ["client_cancelled"] * 8 + ["ok"]


# ---- reading slowly ------------------------------------------------------------------------------------


class PullCounter:
    """Counts the text the router pulls from upstream streams (EventStream iteration), as it happens."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.chars = 0
        original = EventStream.__aiter__
        counter = self

        async def counting(stream: EventStream) -> AsyncIterator[StreamEvent]:
            async for event in original(stream):
                if event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta":
                    counter.chars += len(event["delta"]["text"])
                yield event

        monkeypatch.setattr(EventStream, "__aiter__", counting)


def test_slow_reader_gets_the_whole_stream_and_the_router_reads_upstream_only_as_fast_as_it(
    router: LiveRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = router.key("acme", "slowpoke")
    size = 24 * 1024 * 1024
    text = "abcdefghijklmnopqrstuvwxyz012345" * (size // 32)
    router.upstream.script(Reply(text=text, chunk_size=32 * 1024, output_tokens=6_000_000), model="gpt-4.1")
    pulled = PullCounter(monkeypatch)
    chunks: list[bytes] = []
    with (
        httpx.Client(base_url=router.base_url, timeout=30) as http,
        http.stream(
            "POST", "/v1/messages", json={**ASK, "stream": True}, headers={"x-api-key": key}
        ) as response,
    ):
        assert response.status_code == 200
        pieces = response.iter_raw(64 * 1024)
        chunks.append(next(pieces))
        time.sleep(1.5)  # the client stops reading
        ahead = pulled.chars
        for index, piece in enumerate(pieces):
            chunks.append(piece)
            if index % 50 == 0:
                time.sleep(0.01)
    sse = parse_sse(b"".join(chunks))
    sse.assert_complete()
    assert sse.text() == text
    # Back-pressure: while the client read nothing, the router pulled from the upstream no more than socket
    # buffers hold, never the whole 24 MiB answer into memory.
    assert ahead < 8 * 1024 * 1024, f"pulled {ahead / 2**20:.1f} MiB ahead of a stalled client"


# ---- bodies over the limit -----------------------------------------------------------------------------

LIMIT = 64 * 1024


@pytest.fixture
def small_limit(start_sqlite_router: StartRouter) -> LiveRouter:
    router = start_sqlite_router(max_request_bytes=LIMIT)
    router.apply(CHAIN_CONFIG.format(dead_port=closed_port()))
    return router


def _raw_exchange(router: LiveRouter, head: bytes, body_parts: list[bytes], wait: float = 5.0) -> bytes:
    """Send a request head and some body bytes, never finishing the body; return what the server answered."""
    with socket.create_connection(("127.0.0.1", router.server.port), timeout=wait) as sock:
        sock.sendall(head)
        for part in body_parts:
            try:
                sock.sendall(part)
            except OSError:  # the server answered and closed: what it said is what we check
                break
        answer = b""
        deadline = time.monotonic() + wait
        while b"\r\n\r\n" not in answer or not _body_complete(answer):
            if time.monotonic() > deadline:
                break
            try:
                piece = sock.recv(65536)
            except (TimeoutError, OSError):
                break
            if not piece:
                break
            answer += piece
        return answer


def _body_complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def _parse_answer(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return status, headers, json.loads(body)


def _head(router: LiveRouter, key: str, extra: str) -> bytes:
    return (
        f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{router.server.port}\r\n"
        f"x-api-key: {key}\r\ncontent-type: application/json\r\n{extra}\r\n"
    ).encode()


def test_announced_body_over_the_limit_is_refused_before_it_is_sent(small_limit: LiveRouter) -> None:
    key = small_limit.key()
    started = time.monotonic()
    answer = _raw_exchange(
        small_limit, _head(small_limit, key, "content-length: 104857600\r\n"), [b"{" * 1024]
    )
    elapsed = time.monotonic() - started
    status, headers, body = _parse_answer(answer)
    assert status == 413
    assert body["type"] == "error" and body["error"]["type"] == "request_too_large"
    assert headers["request-id"].startswith("req_")
    assert elapsed < 2  # answered at once: it did not wait for 100 MB that never came
    assert small_limit.upstream.requests == []


def test_chunked_body_over_the_limit_is_refused_once_it_passes_the_limit(small_limit: LiveRouter) -> None:
    key = small_limit.key()
    chunk = b"x" * 16384
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    started = time.monotonic()
    # Twice the limit, and the terminating zero-size chunk never sent.
    answer = _raw_exchange(
        small_limit,
        _head(small_limit, key, "transfer-encoding: chunked\r\n"),
        [framed] * (2 * LIMIT // len(chunk)),
    )
    status, _, body = _parse_answer(answer)
    assert status == 413
    assert body["error"]["type"] == "request_too_large"
    assert time.monotonic() - started < 2
    assert small_limit.upstream.requests == []


def test_body_just_under_the_limit_is_served(small_limit: LiveRouter) -> None:
    key = small_limit.key()
    padding = "y" * (LIMIT - 1024)
    body = {**ASK, "messages": [{"role": "user", "content": padding}]}
    with small_limit.http() as http:
        response = http.post("/v1/messages", json=body, headers={"x-api-key": key})
    assert response.status_code == 200, response.text


def test_count_tokens_body_over_the_limit_is_413(small_limit: LiveRouter) -> None:
    key = small_limit.key()
    with small_limit.http() as http:
        response = http.post(
            "/v1/messages/count_tokens",
            content=b"z" * (LIMIT + 1),
            headers={"x-api-key": key, "content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
@pytest.mark.parametrize("auth", ["x-api-key: sk-rt-not-a-key\r\n", ""])
def test_a_request_without_a_valid_key_is_refused_before_its_body_is_read(
    router: LiveRouter, path: str, auth: str
) -> None:
    # Announces 30 MB (under the limit) and sends 1 KB: waiting for the rest would let anyone without a
    # key hold a connection and make the server buffer up to the limit.
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
        "content-type: application/json\r\ncontent-length: 30000000\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = _raw_exchange(router, head, [b"{" * 1024])
    assert answer, "no answer: the server is waiting for a body nobody will send"
    status, _, body = _parse_answer(answer)
    assert (status, body["error"]["type"]) == (401, "authentication_error")
    assert time.monotonic() - started < 2
