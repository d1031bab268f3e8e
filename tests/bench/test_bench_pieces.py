"""The benchmark's pieces, each proven in isolation: fake upstream, load driver, requests, report maths."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from bench import report, requests
from bench.fake_upstream import STREAM_CHUNKS, start
from bench.load import Endpoint, one_request, run_cell
from bench.procs import free_port


@pytest.fixture
async def upstream_port() -> AsyncIterator[int]:
    server, port = await start()
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


def _floor(port: int) -> Endpoint:
    return Endpoint(
        "floor", "127.0.0.1", port, "/v1/chat/completions", {"authorization": "Bearer x"}, b"[DONE]"
    )


async def _raw(port: int, data: bytes, until: bytes, count: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got = b""
    try:
        writer.write(data)
        while got.count(until) < count:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            got += chunk
    finally:
        writer.close()
    return got


async def test_fake_upstream_streams_only_when_the_body_asks(upstream_port: int) -> None:
    ep = _floor(upstream_port)
    plain = json.loads(await one_request(ep, requests.encode({"model": "m", "stream": False})))
    assert plain["object"] == "chat.completion"
    assert plain["usage"]["completion_tokens"] == STREAM_CHUNKS
    stream = await one_request(ep, b'{"model": "m", "stream": true}')
    events = [line for line in stream.split(b"\n\n") if line]
    # role chunk + content chunks + finish chunk + usage chunk + [DONE]
    assert len(events) == STREAM_CHUNKS + 4
    assert events[-1] == b"data: [DONE]"
    assert b'"usage"' in events[-2]


async def test_fake_upstream_answers_pipelined_and_chunked_requests_in_order(upstream_port: int) -> None:
    body = b'{"stream":true}'
    chunked = b"POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n" + (
        f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    )
    plain = b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}"
    got = await _raw(upstream_port, chunked + plain, b"HTTP/1.1 200", 2)
    first, second = got.split(b"HTTP/1.1 200")[1:3]
    assert b"text/event-stream" in first
    assert b"application/json" in second


async def test_driver_counts_answered_requests_and_their_latency(upstream_port: int) -> None:
    ep = _floor(upstream_port)
    body = requests.encode(requests.openai_equivalent(requests.claude_code(True), "bench-model"))
    result = await run_cell(
        ep, body, shape="claude_code", stream=True, concurrency=4, duration=0.3, warmup=0.05
    )
    assert result.errors == 0
    assert result.requests > 20
    assert result.rps == pytest.approx(result.requests / 0.3, rel=0.01)
    assert 0 < result.latency_ms["p50"] <= result.latency_ms["p99"]
    assert 0 < result.ttft_ms["p50"] <= result.latency_ms["p99"]


async def test_driver_reports_errors_from_a_target_that_is_down() -> None:
    ep = Endpoint("down", "127.0.0.1", free_port(), "/v1/messages", {}, b"message_stop")
    result = await run_cell(ep, b"{}", shape="tiny", stream=False, concurrency=2, duration=0.1, warmup=0.0)
    assert result.requests == 0
    assert result.errors > 0
    assert "ConnectionRefusedError" in result.error_samples[0] or "OSError" in result.error_samples[0]


def test_claude_code_request_is_claude_code_sized_with_tools_and_tool_turns() -> None:
    body = requests.claude_code(False)
    size = len(requests.encode(body))
    assert 40_000 <= size <= 60_000
    assert len(body["tools"]) == 20
    assert all("cache_control" in block for block in body["system"])
    kinds = {block["type"] for msg in body["messages"] for block in msg["content"]}
    assert {"tool_use", "tool_result", "text"} <= kinds


def test_openai_equivalent_carries_tools_calls_and_results() -> None:
    body = requests.openai_equivalent(requests.claude_code(True), "bench-model")
    assert body["model"] == "bench-model"
    assert body["stream_options"] == {"include_usage": True}
    assert len(body["tools"]) == 20
    calls = [c["id"] for m in body["messages"] if m["role"] == "assistant" for c in m.get("tool_calls", [])]
    results = [m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"]
    assert calls == results == ["toolu_01A", "toolu_01B", "toolu_01C"]


def _cell(target: str, stream: bool, c: int, p50: float, rps: float) -> dict[str, object]:
    return {
        "target": target,
        "shape": "tiny",
        "stream": stream,
        "concurrency": c,
        "rps": rps,
        "latency_ms": {"p50": p50},
    }


def test_comparisons_subtract_the_floor_and_judge_the_targets() -> None:
    cells = [
        _cell("floor", False, 1, 0.5, 9000),
        _cell("floor", False, 64, 5.0, 12000),
        _cell("router", False, 1, 2.5, 500),
        _cell("router", False, 64, 60.0, 1000),
        _cell("litellm", False, 1, 10.5, 80),
        _cell("litellm", False, 64, 900.0, 400),
    ]
    (row,) = report.comparisons(cells, [1, 64])
    assert row["router_added_ms"] == 2.0
    assert row["litellm_added_ms"] == 10.0
    assert row["added_latency_ratio"] == 0.2
    assert row["latency_target_met"] is True
    assert row["throughput_ratio"] == 2.5
    assert row["throughput_target_met"] is True
    cells[3] = _cell("router", False, 64, 60.0, 700)
    (row,) = report.comparisons(cells, [1, 64])
    assert row["throughput_target_met"] is False
