"""The load-balancer soak's client side (bench/lb_soak.py): keep-alive connections sending requests back
to back through the balancer, and bursts on a connection each; every answer kept with its request-id."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass

from bench.soak_faults import read_response

HOST = "127.0.0.1"
# What a request meets when its connection fails, is cut, or its answer is not HTTP.
TRANSPORT_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError)


@dataclass(slots=True)
class Answer:
    """One request as the client saw it."""

    kind: str  # load | rpm | budget
    stream: bool
    start: float
    end: float
    status: int  # 0: no HTTP answer at all
    request_id: str | None
    complete: bool  # a whole answer: 200 with the message / a stream ending in message_stop, or an error body
    error: str | None = None
    server: str | None = None  # the replica that answered (HAProxy's x-served-by)


def _request(key: str, stream: bool, max_tokens: int = 32) -> bytes:
    body = json.dumps(
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": max_tokens,
            "stream": stream,
            "messages": [{"role": "user", "content": "hi"}],
        }
    ).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nx-api-key: {key}\r\nanthropic-version: 2023-06-01\r\n\r\n"
    )
    return head.encode() + body


async def _read(reader: asyncio.StreamReader) -> tuple[int, str | None, str | None, bytes, bool]:
    """One HTTP/1.1 response: status, request-id, the replica that answered, body, keep-alive."""
    status, headers, body = await read_response(reader)
    request_id, server = headers.get(b"request-id"), headers.get(b"x-served-by")
    keep_alive = headers.get(b"connection", b"").lower() != b"close"
    return (
        status,
        request_id.decode() if request_id else None,
        server.decode() if server else None,
        body,
        keep_alive,
    )


def _complete(status: int, stream: bool, body: bytes) -> bool:
    if status != 200:
        return b'"type":"error"' in body  # the router's refusal, in Anthropic's shape
    if stream:
        return b"event: message_stop" in body and b"event: error" not in body
    return b'"type":"message"' in body


class Driver:
    """`concurrency` keep-alive connections to the balancer, each sending requests back to back."""

    def __init__(self, port: int, key: str, concurrency: int) -> None:
        self.port = port
        self.payloads = {s: _request(key, s) for s in (False, True)}
        self.concurrency = concurrency
        self.answers: list[Answer] = []
        self.stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(i)) for i in range(self.concurrency)]

    async def stop(self) -> None:
        self.stopping = True
        await asyncio.gather(*self._tasks)

    async def _worker(self, index: int) -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        for stream in itertools.cycle((index % 2 == 0, index % 2 == 1)):
            if self.stopping:
                break
            start = time.monotonic()
            try:
                if writer is None or reader is None:
                    reader, writer = await asyncio.open_connection(HOST, self.port, limit=1 << 22)
                writer.write(self.payloads[stream])
                status, request_id, server, body, keep_alive = await asyncio.wait_for(_read(reader), 120)
            except TRANSPORT_ERRORS as e:
                self.answers.append(
                    Answer(
                        "load",
                        stream,
                        start,
                        time.monotonic(),
                        0,
                        None,
                        False,
                        f"{type(e).__name__}: {e}"[:200],
                    )
                )
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.05)
                continue
            complete = _complete(status, stream, body)
            error = None if complete and status == 200 else f"HTTP {status}: {body[-200:]!r}"
            self.answers.append(
                Answer("load", stream, start, time.monotonic(), status, request_id, complete, error, server)
            )
            if not keep_alive:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()


async def burst(port: int, kind: str, key: str, n: int, max_tokens: int) -> list[Answer]:
    """`n` requests at once, each on its own connection to the balancer."""
    payload = _request(key, False, max_tokens)

    async def one() -> Answer:
        start = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 22)
            try:
                writer.write(payload)
                status, request_id, server, body, _ = await asyncio.wait_for(_read(reader), 120)
            finally:
                writer.close()
        except TRANSPORT_ERRORS as e:
            return Answer(
                kind, False, start, time.monotonic(), 0, None, False, f"{type(e).__name__}: {e}"[:200]
            )
        complete = _complete(status, False, body)
        error = None if complete else f"HTTP {status}: {body[-200:]!r}"
        return Answer(kind, False, start, time.monotonic(), status, request_id, complete, error, server)

    return list(await asyncio.gather(*(one() for _ in range(n))))
