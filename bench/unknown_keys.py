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
import json
import secrets
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
    body = json.dumps(requests.tiny(False)).encode()
    statuses: dict[int, int] = {}
    queue = [f"{prefix}{secrets.token_urlsafe(30)}" for _ in range(keys)]
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=60, limits=limits) as http:

        async def worker() -> None:
            while queue:
                key = queue.pop()
                response = await http.post(
                    "/v1/messages",
                    content=body,
                    headers={"x-api-key": key, "content-type": "application/json"},
                )
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, statuses


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=5_000)
    parser.add_argument("--flood-concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--prefix", default="sk-rt-", help="key prefix (not sk-rt-: refused unread)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-keys-"))
    upstream, upstream_port = start_upstream(work, None)
    router = await start_router(
        upstream_port, work, work, None, serve_env={"ROUTER_METRICS_TOKEN": METRICS_TOKEN}
    )
    try:
        endpoint = router.endpoint
        body = router.encode(requests.tiny(False))
        cell = dict(shape="tiny", stream=False, concurrency=4, duration=args.duration, warmup=1.0)
        idle = await run_cell(endpoint, body, **cell)  # type: ignore[arg-type]
        before = await _queries(endpoint.port)
        flood = _flood(endpoint.port, args.keys, args.flood_concurrency, args.prefix)
        flood_task = asyncio.create_task(flood)
        await asyncio.sleep(0.5)
        busy: dict[str, object] = {**cell, "warmup": 0.0, "duration": min(args.duration, 3.0)}
        during = await run_cell(endpoint, body, **busy)  # type: ignore[arg-type]
        flood_s, statuses = await flood_task
        queries = await _queries(endpoint.port) - before
        print("| | valid key p50 ms | valid key p99 ms | valid key req/s |")
        print("|---|---|---|---|")
        print(f"| idle | {idle.latency_ms['p50']:.2f} | {idle.latency_ms['p99']:.2f} | {idle.rps} |")
        p50, p99 = during.latency_ms["p50"], during.latency_ms["p99"]
        print(f"| during the flood | {p50:.2f} | {p99:.2f} | {during.rps} |")
        print(
            f"\n{args.keys} distinct unknown keys at c={args.flood_concurrency}: answers {statuses}, "
            f"{flood_s:.1f} s, {queries:.0f} key-lookup queries"
        )
    finally:
        router.stop()
        upstream.stop()


if __name__ == "__main__":
    asyncio.run(main())
