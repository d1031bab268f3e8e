"""Size caps on LiteLLM's own HTTP traffic (Gemini, Vertex, Bedrock and every other `acompletion` provider).

LiteLLM builds its httpx clients itself (and caches them), so the caps cannot be handed over per call. Every
async client it makes, its own handler's and the OpenAI SDK's alike, gets its transport from one factory,
`AsyncHTTPHandler.create_async_transport`; `install` wraps what that factory returns in `CappedTransport`
(once, right after LiteLLM is imported, before any client exists). The wrapper reads nothing by itself: it
counts the bytes as LiteLLM reads them and raises as soon as a non-streamed body passes
`SIZE_LIMITS.body` (or announces more in Content-Length), or one line of an event stream passes
`SIZE_LIMITS.line`. So a hostile upstream costs at most about one cap of memory, never its whole answer.

LiteLLM wraps whatever a transport raises in its own exception types, so the reason travels beside it:
the call opens a `CapWatch` (a context variable the transport reads when the request is sent), the transport
marks it, and the caller turns a marked failure into the same `too_large` error our own paths raise.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from router.providers.cap_watch import CapWatch, watch, watching
from router.providers.transport import SIZE_LIMITS

__all__ = ["CapWatch", "CappedTransport", "install", "watch"]

log = logging.getLogger(__name__)


class AnswerTooLarge(httpx.ReadError):
    """Raised inside LiteLLM's read when a cap is passed (it reaches us wrapped; the CapWatch says why)."""


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, events: bool, watcher: CapWatch | None) -> None:
        self._inner = inner
        self._events = events
        self._watch = watcher

    def _refuse(self, what: str, limit: int) -> AnswerTooLarge:
        if self._watch is not None:
            self._watch.hit(what, limit)
        return AnswerTooLarge(f"the upstream's {what} is larger than the router accepts ({limit:,} bytes)")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body_limit, line_limit = SIZE_LIMITS.body, SIZE_LIMITS.line
        total = 0
        line = 0  # bytes of the event-stream line still open
        async for chunk in self._inner:
            if self._events:
                if line + len(chunk) > line_limit and _longest_line(chunk, line) > line_limit:
                    raise self._refuse("stream line", line_limit)
                end = chunk.rfind(b"\n")
                line = line + len(chunk) if end < 0 else len(chunk) - end - 1
            else:
                total += len(chunk)
                if total > body_limit:
                    raise self._refuse("answer", body_limit)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def _longest_line(chunk: bytes, open_line: int) -> int:
    """The longest line in `chunk`, the first one continuing a line `open_line` bytes long."""
    longest, start, carried = 0, 0, open_line
    while True:
        end = chunk.find(b"\n", start)
        if end < 0:
            return max(longest, carried + len(chunk) - start)
        longest = max(longest, carried + end - start)
        start, carried = end + 1, 0


class CappedTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose responses cannot be read past the size caps (see the module's doc)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        watcher = watching()
        response = await self.inner.handle_async_request(request)
        events = "text/event-stream" in response.headers.get("content-type", "")
        declared = response.headers.get("content-length", "")
        if not events and declared.isdigit() and int(declared) > SIZE_LIMITS.body:
            await response.aclose()  # refused unread
            if watcher is not None:
                watcher.hit("answer", SIZE_LIMITS.body)
            raise AnswerTooLarge(
                f"the upstream's answer is larger than the router accepts ({SIZE_LIMITS.body:,} bytes)"
            )
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _CappedStream(stream, events, watcher)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def install() -> None:
    """Wrap every async transport LiteLLM creates from now on in `CappedTransport` (idempotent).

    The factory returns None when LiteLLM's aiohttp transport is off and IPv4 is not forced (httpx then
    builds its default transport from the client's TLS settings): that path stays uncapped, logged once,
    rather than lose those settings. Proxy mounts are built from the transport underneath ours."""
    handler = importlib.import_module("litellm.llms.custom_httpx.http_handler").AsyncHTTPHandler
    original = handler.create_async_transport
    if getattr(original, "router_capped", False):
        return
    original_mounts = handler.create_httpx_proxy_mounts

    def create_async_transport(*args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport | None:
        inner = original(*args, **kwargs)
        if inner is None:
            if not _warned:
                _warned.append(True)
                log.warning(
                    "LiteLLM's aiohttp transport is off: upstream size caps do not apply to its calls"
                )
            return None
        return CappedTransport(inner)

    def create_httpx_proxy_mounts(transport: Any, *args: Any, **kwargs: Any) -> Any:
        inner = transport.inner if isinstance(transport, CappedTransport) else transport
        mounts = original_mounts(inner, *args, **kwargs)
        if not mounts:
            return mounts
        return {pattern: CappedTransport(t) if t is not None else None for pattern, t in mounts.items()}

    create_async_transport.router_capped = True  # type: ignore[attr-defined]
    handler.create_async_transport = staticmethod(create_async_transport)
    # The older private names are aliases some call sites still use.
    handler._create_async_transport = staticmethod(create_async_transport)
    handler.create_httpx_proxy_mounts = staticmethod(create_httpx_proxy_mounts)
    handler._create_httpx_proxy_mounts = staticmethod(create_httpx_proxy_mounts)


_warned: list[bool] = []
