"""A cheap load driver: N keep-alive connections, each a worker sending requests back to back.

Raw asyncio streams (uvloop when installed), one pre-encoded request per cell, a minimal HTTP/1.1 response
reader (Content-Length, chunked, or read-to-close). For each request it records when it was sent, when the
response head arrived (TTFB), when the first generated text arrived (TTFT, a bytes search for the fake
upstream's token) and when the last byte arrived. Requests that finish inside the measured window count
(throughput = those / window, so a slow target at high concurrency still gets samples in a short window);
a warm-up before the window lets connections open and caches fill.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from bench.fake_upstream import CHUNK_TEXT

TOKEN = CHUNK_TEXT.strip().encode()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to send: one target's path and headers."""

    name: str
    host: str
    port: int
    path: str
    headers: dict[str, str]
    # Bytes that end a good stream: b"message_stop" for Anthropic SSE, b"[DONE]" for OpenAI SSE.
    stream_end: bytes

    def request(self, body: bytes) -> bytes:
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"host: {self.host}:{self.port}",
            "content-type: application/json",
            f"content-length: {len(body)}",
        ]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(slots=True)
class Sample:
    start: float
    end: float
    ttfb: float
    ttft: float


@dataclass(slots=True)
class CellResult:
    target: str
    shape: str
    stream: bool
    concurrency: int
    duration: float
    requests: int
    errors: int
    rps: float
    latency_ms: dict[str, float]
    ttfb_ms: dict[str, float]
    ttft_ms: dict[str, float]
    error_samples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "shape": self.shape,
            "stream": self.stream,
            "concurrency": self.concurrency,
            "duration": self.duration,
            "requests": self.requests,
            "errors": self.errors,
            "rps": self.rps,
            "latency_ms": self.latency_ms,
            "ttfb_ms": self.ttfb_ms,
            "ttft_ms": self.ttft_ms,
            "error_samples": self.error_samples,
        }


class ResponseError(Exception):
    pass


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    s = sorted(values)
    n = len(s)

    def at(q: float) -> float:
        return round(s[min(n - 1, int(q * n))] * 1000.0, 3)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "mean": round(sum(s) / n * 1000.0, 3)}


async def _read_response(reader: asyncio.StreamReader) -> tuple[float, float, bytes, bool]:
    """Read one response; returns (ttfb, ttft, body, keep_alive). Times are absolute perf_counter values."""
    head = await reader.readuntil(b"\r\n\r\n")
    ttfb = time.perf_counter()
    status = head[9:12]
    lower = head.lower()
    keep_alive = b"connection: close" not in lower
    ttft = 0.0
    parts: list[bytes] = []
    cl = lower.find(b"content-length:")
    if cl >= 0:
        eol = lower.find(b"\r\n", cl)
        body = await reader.readexactly(int(lower[cl + 15 : eol]))
        if TOKEN in body:
            ttft = time.perf_counter()
        parts.append(body)
    elif b"transfer-encoding: chunked" in lower:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            data = await reader.readexactly(size + 2)
            if not ttft and TOKEN in data:
                ttft = time.perf_counter()
            parts.append(data[:-2])
    else:
        keep_alive = False
        while chunk := await reader.read(65536):
            if not ttft and TOKEN in chunk:
                ttft = time.perf_counter()
            parts.append(chunk)
    body = b"".join(parts)
    if status != b"200":
        raise ResponseError(f"HTTP {status.decode(errors='replace')}: {body[:300]!r}")
    if not ttft:
        raise ResponseError(f"no generated text in the response: {body[:300]!r}")
    return ttfb, ttft, body, keep_alive


# How long a cell may run past its window for its first answer (a short window on a loaded machine).
FIRST_ANSWER_GRACE_S = 30.0


async def _worker(
    ep: Endpoint,
    payload: bytes,
    stream: bool,
    window: tuple[float, float],
    samples: list[Sample],
    errors: list[str],
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    start, stop_at = window
    while (now := time.perf_counter()) < stop_at or (
        # A window too short for one answer is kept open until one lands in it, so no cell measures nothing.
        now < stop_at + FIRST_ANSWER_GRACE_S and not any(s.end >= start for s in samples[-64:])
    ):
        try:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(ep.host, ep.port, limit=1 << 20)
            t0 = time.perf_counter()
            writer.write(payload)
            ttfb, ttft, body, keep_alive = await _read_response(reader)
            end = time.perf_counter()
            if stream and ep.stream_end not in body[-400:]:
                raise ResponseError(f"stream did not end with {ep.stream_end!r}: {body[-300:]!r}")
            samples.append(Sample(t0, end, ttfb, ttft))
            if not keep_alive:
                writer.close()
                reader = writer = None
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ResponseError,
            ValueError,
        ) as e:
            errors.append(f"{type(e).__name__}: {e}"[:400])
            if writer is not None:
                writer.close()
            reader = writer = None
            # A refusing or failing target must not turn this loop into a busy spin.
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def run_cell(
    ep: Endpoint, body: bytes, *, shape: str, stream: bool, concurrency: int, duration: float, warmup: float
) -> CellResult:
    """Drive `ep` with `concurrency` workers for warmup + duration seconds; measure the last `duration`."""
    payload = ep.request(body)
    samples: list[Sample] = []
    errors: list[str] = []
    begin = time.perf_counter()
    window_start = begin + warmup
    window_end = window_start + duration
    await asyncio.gather(
        *(
            _worker(ep, payload, stream, (window_start, window_end), samples, errors)
            for _ in range(concurrency)
        )
    )
    late = [s.end for s in samples if s.end > window_start]
    if late and min(late) > window_end:  # the window was kept open for its first answer
        window_end = min(late)
        duration = window_end - window_start
    counted = [s for s in samples if window_start <= s.end <= window_end]
    lat = [s.end - s.start for s in counted]
    return CellResult(
        target=ep.name,
        shape=shape,
        stream=stream,
        concurrency=concurrency,
        duration=duration,
        requests=len(counted),
        errors=len(errors),
        rps=round(len(counted) / duration, 1),
        latency_ms=percentiles(lat),
        ttfb_ms=percentiles([s.ttfb - s.start for s in counted]) if stream else {},
        ttft_ms=percentiles([s.ttft - s.start for s in counted]) if stream else {},
        error_samples=sorted(set(errors))[:3],
    )


async def one_request(ep: Endpoint, body: bytes, limit_s: float = 30.0) -> bytes:
    """Send one request on a fresh connection; the body, or ResponseError/OSError."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(ep.host, ep.port, limit=1 << 20), limit_s)
    try:
        writer.write(ep.request(body))
        _, _, data, _ = await asyncio.wait_for(_read_response(reader), limit_s)
        return data
    finally:
        writer.close()
