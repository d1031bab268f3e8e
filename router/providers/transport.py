"""Our own HTTP calls on the shared aiohttp session: deadlines, status classification, SSE framing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import msgspec

from router.providers.base import ProviderError, UpstreamCall
from router.providers.errors import classify_exception, classify_http, not_json, timeout_error
from router.providers.memory import release_soon
from router.providers.policy import Failure

__all__ = ["SIZE_LIMITS", "Deadlines", "SizeLimits", "open_post", "post_for_object", "read_json", "sse_data"]

_decode = msgspec.json.decode

# An upstream's error body is read this far at most: enough for any real error message.
ERROR_BODY_CAP = 64 * 1024


class SizeLimits:
    """How much of an upstream answer is buffered: a whole non-streamed body, and one SSE line. Past either,
    the call fails with a clear error and the connection is dropped, so an upstream cannot exhaust memory.
    Set once at start-up from Settings (upstream_max_body_bytes, upstream_max_line_bytes) by the hub."""

    __slots__ = ("body", "line")

    def __init__(self, body: int = 32 * 1024 * 1024, line: int = 4 * 1024 * 1024) -> None:
        self.body = body
        self.line = line

    def configure(self, body: int, line: int) -> None:
        self.body, self.line = body, line


SIZE_LIMITS = SizeLimits()


def too_large(what: str, limit: int, where: str) -> ProviderError:
    release_soon()  # the buffers this answer took go back to the OS once they are freed
    return ProviderError(
        502,
        f"{where}: the upstream's {what} is larger than the router accepts ({limit:,} bytes)",
        failure=Failure.ANSWER_TOO_LARGE,
    )


async def _read_capped(resp: aiohttp.ClientResponse, limit: int, where: str) -> bytes:
    """The body, refusing (ProviderError) as soon as it passes `limit` bytes: never buffered whole."""
    length = resp.content_length
    if length is not None and length > limit:
        resp.close()
        raise too_large("answer", limit, where)
    body = bytearray()
    async for piece in resp.content.iter_any():
        body += piece
        if len(body) > limit:
            # Let the buffer go now: the exception's traceback keeps this frame (and its locals) alive.
            del body[:]
            resp.close()
            raise too_large("answer", limit, where)
    return bytes(body)


class Deadlines:
    """Loop-clock deadlines for one call: the first byte, and the whole call."""

    __slots__ = ("first_byte", "first_byte_seconds", "total")

    def __init__(self, first_byte_timeout: float, total_timeout: float) -> None:
        now = asyncio.get_running_loop().time()
        self.first_byte_seconds = first_byte_timeout
        self.first_byte = now + min(first_byte_timeout, total_timeout)
        self.total = now + total_timeout

    def next_chunk(self) -> float:
        """When the next stream chunk is overdue: a stream silent for as long as a first byte may take has
        stalled (and the whole call's deadline still holds)."""
        return min(self.total, asyncio.get_running_loop().time() + self.first_byte_seconds)


async def open_post(
    session: aiohttp.ClientSession,
    url: str,
    *,
    headers: Mapping[str, str],
    data: bytes,
    deadlines: Deadlines,
    connect_timeout: float,
    credential: str | None,
    where: str,
) -> aiohttp.ClientResponse:
    """POST; a 2xx status line must come within the first-byte deadline, anything else is a ProviderError."""
    timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_connect=connect_timeout)
    try:
        async with asyncio.timeout_at(deadlines.first_byte):
            resp = await session.post(url, data=data, headers=headers, timeout=timeout, allow_redirects=False)
    except TimeoutError:
        raise timeout_error(where, f"no answer within {deadlines.first_byte_seconds:g}s") from None
    except ProviderError:
        raise
    except Exception as exc:  # boundary: transport failures become classified errors
        raise classify_exception(exc, credential, where) from None
    if resp.status < 300:
        return resp
    try:
        async with asyncio.timeout_at(deadlines.total):
            raw = await resp.content.read(ERROR_BODY_CAP)
    except Exception:  # the error body itself failed to arrive: classify by status alone
        raw = b""
    finally:
        resp.release()
    raise classify_http(resp.status, raw, resp.headers, credential, where)


async def read_json(
    resp: aiohttp.ClientResponse, *, deadlines: Deadlines, credential: str | None, where: str
) -> Any:
    """The whole body, decoded; a body that is not JSON (or is cut short) is a retryable failure."""
    try:
        async with asyncio.timeout_at(deadlines.total):
            raw = await _read_capped(resp, SIZE_LIMITS.body, where)
    except TimeoutError:
        raise timeout_error(where, "the upstream answer did not complete in time") from None
    except ProviderError:
        raise
    except Exception as exc:  # boundary: a cut body (ClientPayloadError) and friends
        raise classify_exception(exc, credential, where) from None
    finally:
        resp.release()
    try:
        return _decode(raw)
    except msgspec.DecodeError:
        raise not_json(resp.status, raw, credential, where) from None


async def post_for_object(
    session: aiohttp.ClientSession,
    call: UpstreamCall,
    url: str,
    headers: Mapping[str, str],
    data: bytes,
    connect_timeout: float,
) -> dict[str, Any]:
    """A non-streamed call: POST within the call's deadlines and read the whole answer, which must be a JSON
    object (anything else is a retryable failure)."""
    credential = call.target.provider.credential
    where = call.target.ref
    deadlines = Deadlines(call.first_byte_timeout, call.timeout)
    resp = await open_post(
        session,
        url,
        headers=headers,
        data=data,
        deadlines=deadlines,
        connect_timeout=connect_timeout,
        credential=credential,
        where=where,
    )
    obj = await read_json(resp, deadlines=deadlines, credential=credential, where=where)
    if not isinstance(obj, dict):
        raise not_json(resp.status, msgspec.json.encode(obj), credential, where)
    return obj


async def sse_data(content: aiohttp.StreamReader, where: str = "upstream") -> AsyncIterator[bytes]:
    """The `data:` payload of each server-sent event (multi-line data joined with newlines).

    Our own line splitting over `iter_any()`, with fewer awaits than readline. One line (a tool call's
    arguments can make long ones), and one event's data, may be up to SIZE_LIMITS.line bytes; past that
    the stream fails (ProviderError) rather than buffer without end.
    """
    buf = bytearray()
    data: list[bytes] = []
    limit = SIZE_LIMITS.line
    pending = 0
    async for piece in content.iter_any():
        buf += piece
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            line = bytes(buf[start:nl])
            start = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    yield data[0] if len(data) == 1 else b"\n".join(data)
                    data = []
                    pending = 0
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
                pending += len(value)
                if pending > limit:
                    del buf[:]
                    data.clear()
                    raise too_large("stream event", limit, where)
            # event:, id:, retry: and comments carry nothing we need (Anthropic repeats the type in data).
        if start:
            del buf[:start]
        if len(buf) > limit:  # what is left is one line still without its end
            del buf[:]
            raise too_large("stream line", limit, where)
    if buf.startswith(b"data:"):
        value = bytes(buf[5:]).strip()
        data.append(value)
    if data:
        yield b"\n".join(data)
