"""A flood of distinct unknown keys against `router serve`: how many database queries it costs, and what it
does to a valid key's latency.

    .venv/bin/python -m bench.unknown_keys [--keys 5000] [--flood-concurrency 64]

Starts the fake upstream and a router (SQLite), measures a valid key (tiny non-streamed requests, c=4) idle
for a few seconds, then again while `--keys` distinct, well-formed, unknown keys hit /v1/messages at
`--flood-concurrency`; reads the key-lookup query counter from /metrics before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import requests
from bench.load import run_cell
from bench.targets import HOST, start_router, start_upstream

METRICS_TOKEN = "bench-metrics-token"


async def _queries(port: int) -> float:
    async with httpx.AsyncClient() as http:
        text = (
            await http.get(
                f"http://{HOST}:{port}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"}
            )
        ).text
    for line in text.splitlines():
        if line.startswith("router_key_lookup_queries_total "):
            return float(line.split()[1])
    return 0.0


async def _flood(
    port: int, keys: int, concurrency: int, prefix: str = "sk-rt-"
) -> tuple[float, dict[int, int]]:
    """The flood itself, on raw keep-alive connections (cheap: the attacker's CPU must not be what slows the
    measurement down). Runs in its own process (`--flood-port`), not in the measuring one's event loop."""
    body = json.dumps(requests.tiny(False)).encode()
    statuses: dict[int, int] = {}
    queue = [f"{prefix}{secrets.token_urlsafe(30)}" for _ in range(keys)]
    head = f"POST /v1/messages HTTP/1.1\r\nhost: {HOST}:{port}\r\ncontent-type: application/json\r\n"
    started = time.perf_counter()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while queue:
                key = queue.pop()
                writer.write(f"{head}x-api-key: {key}\r\ncontent-length: {len(body)}\r\n\r\n".encode() + body)
                answer = await reader.readuntil(b"\r\n\r\n")
                status = int(answer[9:12])
                lower = answer.lower()
                at = lower.find(b"content-length:")
                await reader.readexactly(int(lower[at + 15 : lower.find(b"\r\n", at)]))
                statuses[status] = statuses.get(status, 0) + 1
                if b"connection: close" in lower:
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, statuses


async def _flood_process(port: int, keys: int, concurrency: int, prefix: str) -> tuple[float, dict[int, int]]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.unknown_keys",
        "--flood-port",
        str(port),
        "--keys",
        str(keys),
        "--flood-concurrency",
        str(concurrency),
        "--prefix",
        prefix,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    answer = json.loads(out)
    return answer["seconds"], {int(k): v for k, v in answer["statuses"].items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=5_000)
    parser.add_argument("--flood-concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--prefix", default="sk-rt-", help="key prefix (not sk-rt-: refused unread)")
    parser.add_argument("--flood-port", type=int, help=argparse.SUPPRESS)  # the flooding child process
    args = parser.parse_args()
    if args.flood_port:
        seconds, statuses = await _flood(args.flood_port, args.keys, args.flood_concurrency, args.prefix)
        print(json.dumps({"seconds": seconds, "statuses": statuses}))
        return
    work = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    upstream, upstream_port = start_upstream(work, None)
    router = await start_router(
        upstream_port, work, work, None, serve_env={"ROUTER_METRICS_TOKEN": METRICS_TOKEN}
    )
    try:
        endpoint = router.endpoint
        body = router.encode(requests.tiny(False))
        cell = functools.partial(
            run_cell, endpoint, body, shape="tiny", stream=False, concurrency=4, duration=args.duration
        )
        # Idle before and after the flood: on a shared machine the background load drifts, so the flood is
        # compared with both.
        idle = await cell(warmup=1.0)
        before = await _queries(endpoint.port)
        flood = _flood_process(endpoint.port, args.keys, args.flood_concurrency, args.prefix)
        flood_task = asyncio.create_task(flood)
        await asyncio.sleep(1.0)
        during = await cell(warmup=0.0)
        running = not flood_task.done()
        flood_s, statuses = await flood_task
        queries = await _queries(endpoint.port) - before
        after = await cell(warmup=1.0)
        print("| | valid key p50 ms | valid key p99 ms | valid key req/s |")
        print("|---|---|---|---|")
        for name, result in (("idle before", idle), ("during the flood", during), ("idle after", after)):
            p50, p99 = result.latency_ms["p50"], result.latency_ms["p99"]
            print(f"| {name} | {p50:.2f} | {p99:.2f} | {result.rps} |")
        idle_p99 = (idle.latency_ms["p99"] + after.latency_ms["p99"]) / 2
        print(
            f"\n{args.keys} distinct unknown keys at c={args.flood_concurrency}: answers {statuses}, "
            f"{flood_s:.1f} s, {queries:.0f} key-lookup queries; p99 during / idle "
            f"{during.latency_ms['p99'] / idle_p99:.2f}"
            + ("" if running else " (the flood ended before the measurement did: use more keys)")
        )
    finally:
        router.stop()
        upstream.stop()


if __name__ == "__main__":
    asyncio.run(main())
