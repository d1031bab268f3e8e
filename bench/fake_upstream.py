"""A fake OpenAI chat-completions upstream that costs next to no CPU.

A raw asyncio Protocol speaking just enough HTTP/1.1 (keep-alive, Content-Length or chunked request bodies)
to answer every POST with one of two pre-encoded responses: a chat completion, or, when the body contains
`"stream": true` (a bytes search, no JSON parse), a fixed SSE stream of content chunks, a usage chunk and
`[DONE]`. Every byte of both answers is built once at start-up, so what a benchmark measures behind it is the
proxy in front, not this server.

Fault injection (bench/soak_faults.py): with `--fail-rate F`, each POST is answered, with probability F, by an
OpenAI-style error instead, HTTP 500 or 503 (`--fail-statuses`), both drawn from a RNG seeded by
`--fail-seed`, so a run's failures are random per call yet reproducible. `GET /stats` answers the counts of
POSTs answered by status so far.

Run alone: `python -m bench.fake_upstream --port 9100` (prints `READY <port>` when listening).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

MODEL = "bench-model"
CHUNK_TEXT = "lorem "  # each stream chunk carries one short word, like a real token
STREAM_CHUNKS = 20
PROMPT_TOKENS = 1200
COMPLETION_TOKENS = STREAM_CHUNKS

# `"stream": true` / `"stream":true`: json.dumps and msgspec/orjson spell it one of these two ways.
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')


def _usage() -> dict[str, Any]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def completion_body() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": CHUNK_TEXT * STREAM_CHUNKS, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(),
        },
        separators=(",", ":"),
    ).encode()


def stream_body() -> bytes:
    base = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
        "system_fingerprint": "fp_bench",
    }

    def event(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        obj = {**base, "choices": choices}
        if usage is not None:
            obj["usage"] = usage
        return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"

    parts = [event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
    parts += [
        event([{"index": 0, "delta": {"content": CHUNK_TEXT}, "finish_reason": None}])
        for _ in range(STREAM_CHUNKS)
    ]
    parts.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    parts.append(event([], _usage()))
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def _response(status: bytes, content_type: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"content-type: " + content_type + b"\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"x-request-id: bench\r\n"
        b"\r\n" + body
    )


def error_body(status: int) -> bytes:
    """OpenAI's error shape; the message names the injection so a client can tell it from a real fault."""
    return json.dumps(
        {
            "error": {
                "message": f"fake upstream: injected failure (HTTP {status})",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        },
        separators=(",", ":"),
    ).encode()


_REASONS = {
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    529: b"Overloaded",
}


class Faults:
    """Which POSTs fail, and how: a seeded RNG draws per call; counts what was answered, by status."""

    def __init__(self, rate: float, statuses: tuple[int, ...] = (500, 503), seed: int = 0) -> None:
        self.rate = rate
        self._rng = random.Random(seed)
        self._answers = {
            st: _response(f"{st} ".encode() + _REASONS.get(st, b"Error"), b"application/json", error_body(st))
            for st in statuses
        }
        self._statuses = list(statuses)
        self.counts: Counter[int] = Counter()

    def draw(self) -> bytes | None:
        """The error response for this call, or None to answer it normally."""
        if self.rate <= 0 or self._rng.random() >= self.rate:
            self.counts[200] += 1
            return None
        status = self._rng.choice(self._statuses)
        self.counts[status] += 1
        return self._answers[status]

    def stats(self) -> bytes:
        body = json.dumps({str(k): v for k, v in sorted(self.counts.items())}).encode()
        return _response(b"200 OK", b"application/json", body)


class Answers:
    """The three pre-encoded responses."""

    def __init__(self) -> None:
        self.completion = _response(b"200 OK", b"application/json", completion_body())
        # One write, with a Content-Length: the client still parses the stream event by event; we only
        # avoid paying for chunked framing here.
        self.stream = _response(b"200 OK", b"text/event-stream", stream_body())
        self.models = _response(
            b"200 OK", b"application/json", json.dumps({"object": "list", "data": [{"id": MODEL}]}).encode()
        )


class UpstreamProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive, pipelining-safe: parse requests off a buffer, answer each in turn."""

    __slots__ = ("_answers", "_buf", "_faults", "_transport")

    def __init__(self, answers: Answers, faults: Faults | None = None) -> None:
        self._answers = answers
        self._faults = faults
        self._buf = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same surface.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buf = self._buf + data if self._buf else data
        while self._buf:
            if not self._one():
                return

    def _one(self) -> bool:
        """Answer one complete request at the head of the buffer; False when more bytes are needed."""
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = buf[:end].lower()
        start = end + 4
        close = b"connection: close" in head
        cl = head.find(b"content-length:")
        if cl >= 0:
            eol = head.find(b"\r\n", cl)
            length = int(head[cl + 15 : eol if eol >= 0 else len(head)])
            if len(buf) < start + length:
                return False
            body = buf[start : start + length]
            self._buf = buf[start + length :]
        elif b"transfer-encoding: chunked" in head:
            parsed = _dechunk(buf, start)
            if parsed is None:
                return False
            body, consumed = parsed
            self._buf = buf[consumed:]
        else:
            body = b""
            self._buf = buf[start:]
        transport = self._transport
        assert transport is not None
        faults = self._faults
        failed = None
        if head.startswith(b"get"):
            if faults is not None and head.startswith(b"get /stats"):
                transport.write(faults.stats())
            else:
                transport.write(self._answers.models)
        elif faults is not None and (failed := faults.draw()) is not None:
            transport.write(failed)
        elif _STREAM_RE.search(body):
            transport.write(self._answers.stream)
        else:
            transport.write(self._answers.completion)
        if close:
            transport.close()
            self._buf = b""
            return False
        return True


def _dechunk(buf: bytes, pos: int) -> tuple[bytes, int] | None:
    parts: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(buf[pos:eol].split(b";", 1)[0], 16)
        pos = eol + 2
        if len(buf) < pos + size + 2:
            return None
        if size == 0:
            # No trailers are ever sent by the clients we face; the final CRLF ends the body.
            return b"".join(parts), pos + 2
        parts.append(buf[pos : pos + size])
        pos += size + 2


async def start(
    host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None
) -> tuple[asyncio.Server, int]:
    """Start the server on the running loop; returns it and the port it listens on."""
    answers = Answers()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: UpstreamProtocol(answers, faults), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    return server, int(bound)


async def _serve(host: str, port: int, faults: Faults | None = None) -> None:
    server, bound = await start(host, port, faults)
    print(f"READY {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of POSTs answered with an error")
    parser.add_argument("--fail-statuses", default="500,503", help="comma-separated statuses to fail with")
    parser.add_argument("--fail-seed", type=int, default=0, help="seed of the RNG that picks failures")
    args = parser.parse_args()
    faults = None
    if args.fail_rate > 0:
        statuses = tuple(int(s) for s in args.fail_statuses.split(",") if s.strip())
        faults = Faults(args.fail_rate, statuses, args.fail_seed)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(_serve(args.host, args.port, faults))


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (cheaper per byte), else the default loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
