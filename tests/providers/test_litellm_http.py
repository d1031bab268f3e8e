"""The transport LiteLLM's clients get (providers/litellm_http.py): it counts what LiteLLM reads and stops at
the caps, whatever the framing, and marks the call's watch so that the caller can say why."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator

import httpx
import pytest

from router.providers import runtime
from router.providers.litellm_http import AnswerTooLarge, CappedTransport, watch
from router.providers.policy import Failure
from router.providers.transport import SIZE_LIMITS


class Pieces(httpx.AsyncByteStream):
    """An answer in pieces, counting how many were taken (a hostile upstream would go on for ever)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces, self.taken = pieces, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.taken += 1
            yield piece


class Upstream(httpx.AsyncBaseTransport):
    def __init__(self, stream: Pieces, headers: dict[str, str]) -> None:
        self.stream, self.headers = stream, headers

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=self.headers, stream=self.stream)


@pytest.fixture(autouse=True)
def small_caps() -> object:
    body, line = SIZE_LIMITS.body, SIZE_LIMITS.line
    SIZE_LIMITS.configure(1000, 100)
    yield
    SIZE_LIMITS.configure(body, line)


async def _get(stream: Pieces, headers: dict[str, str], *, lines: bool = False) -> list[str]:
    async with httpx.AsyncClient(transport=CappedTransport(Upstream(stream, headers))) as client:
        if not lines:
            return [(await client.get("http://upstream/x")).text]
        async with client.stream("GET", "http://upstream/x") as response:
            return [line async for line in response.aiter_lines()]


async def test_a_chunked_body_past_the_cap_stops_the_read_and_marks_the_watch() -> None:
    capped = watch()
    upstream = Pieces([b"x" * 300] * 100)
    with pytest.raises(AnswerTooLarge):
        await _get(upstream, {"content-type": "application/json"})
    assert upstream.taken == 4  # 1,200 bytes read of 30,000 offered
    error = capped.error("gem/gemini-2.5-pro")
    assert error is not None and error.failure is Failure.ANSWER_TOO_LARGE
    assert "answer is larger than the router accepts (1,000 bytes)" in error.message


async def test_a_declared_length_past_the_cap_is_refused_unread() -> None:
    capped = watch()
    upstream = Pieces([b"x" * 300] * 100)
    with pytest.raises(AnswerTooLarge):
        await _get(upstream, {"content-type": "application/json", "content-length": "30000"})
    assert upstream.taken == 0 and capped.what == "answer"


async def test_one_event_stream_line_past_the_line_cap_fails_even_split_over_chunks() -> None:
    capped = watch()
    upstream = Pieces([b"data: ok\n\n", b"data: " + b"y" * 60, b"y" * 60, b"y" * 5000])
    with pytest.raises(AnswerTooLarge):
        await _get(upstream, {"content-type": "text/event-stream"}, lines=True)
    assert upstream.taken == 3 and capped.what == "stream line"


async def test_a_long_line_inside_one_chunk_fails_and_many_short_lines_do_not() -> None:
    within = Pieces([b"data: a\n\n" * 500])  # 4,500 bytes in all, well past the body cap: a stream has none
    assert len(await _get(within, {"content-type": "text/event-stream"}, lines=True)) == 1000
    capped = watch()
    inside = Pieces([b"data: a\n" + b"z" * 150 + b"\ndata: b\n"])
    with pytest.raises(AnswerTooLarge):
        await _get(inside, {"content-type": "text/event-stream"}, lines=True)
    assert capped.what == "stream line"


async def test_an_answer_within_the_caps_arrives_whole_and_leaves_the_watch_clear() -> None:
    capped = watch()
    assert await _get(Pieces([b'{"a": 1}'] * 10), {"content-type": "application/json"}) == ['{"a": 1}' * 10]
    assert capped.error("t") is None


def test_litellm_builds_its_clients_on_the_capped_transport_and_keeps_proxy_mounts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lm = runtime.litellm()  # installs the wrapper right after the import
    handler = importlib.import_module("litellm.llms.custom_httpx.http_handler").AsyncHTTPHandler
    assert isinstance(handler.create_async_transport(), CappedTransport)
    # Without aiohttp and with IPv4 forced LiteLLM uses httpx's transport, and mounts HTTP(S)_PROXY beside
    # it: still capped, proxies kept.
    monkeypatch.setattr(lm, "disable_aiohttp_transport", True)
    monkeypatch.setattr(lm, "force_ipv4", True)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    transport = handler.create_async_transport()
    assert isinstance(transport, CappedTransport)
    assert isinstance(transport.inner, httpx.AsyncHTTPTransport)
    mounts = handler.create_httpx_proxy_mounts(transport, verify=True, cert=None)
    assert mounts and all(isinstance(t, CappedTransport) for t in mounts.values() if t is not None)
