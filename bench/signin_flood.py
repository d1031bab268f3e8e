"""Bogus admin sign-ins against `router serve` while valid /v1 traffic flows: does argon2 take the CPU?

    .venv/bin/python -m bench.signin_flood [--attempts 600] [--flood-concurrency 30] [--per-address N]

Starts the fake upstream and a router (SQLite), measures a valid key (tiny non-streamed requests, c=4)
idle, then again while `--attempts` wrong-password sign-ins (random user names, as a password sprayer
would) arrive at /admin/login at `--flood-concurrency`. `--per-address` sets
ROUTER_SIGN_IN_ATTEMPTS_PER_ADDRESS (default: the shipped 20 per minute); a large value shows what the
per-process argon2 gate alone holds (all attempts come from one address here). `--control` floods the
sign-in page (GET) instead, for what the same number of ordinary admin page requests cost.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import tempfile
import time
from pathlib import Path

import httpx

from bench import requests
from bench.load import run_cell
from bench.targets import HOST, start_router, start_upstream

_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


async def _flood(
    port: int, attempts: int, concurrency: int, control: bool = False
) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=120, limits=limits) as http:
        page = await http.get("/admin/login")
        match = _CSRF.search(page.text)
        token = match.group(1) if match else ""
        left = attempts
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                if control:
                    response = await http.get("/admin/login")
                else:
                    response = await http.post(
                        "/admin/login",
                        data={
                            "username": f"user-{secrets.token_hex(4)}",
                            "password": "wrong password",
                            "_csrf": token,
                        },
                    )
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, statuses


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=600)
    parser.add_argument("--flood-concurrency", type=int, default=30)
    parser.add_argument("--per-address", type=int, default=None)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument(
        "--control", action="store_true", help="flood GET /admin/login instead: what any page request costs"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-signin-"))
    env = {}
    if args.per_address is not None:
        env["ROUTER_SIGN_IN_ATTEMPTS_PER_ADDRESS"] = str(args.per_address)
    upstream, upstream_port = start_upstream(work, None)
    router = await start_router(upstream_port, work, work, None, serve_env=env)
    try:
        endpoint = router.endpoint
        body = router.encode(requests.tiny(False))
        cell = dict(shape="tiny", stream=False, concurrency=4, duration=args.duration, warmup=1.0)
        idle = await run_cell(endpoint, body, **cell)  # type: ignore[arg-type]
        flood_task = asyncio.create_task(
            _flood(endpoint.port, args.attempts, args.flood_concurrency, args.control)
        )
        await asyncio.sleep(0.5)
        busy: dict[str, object] = {**cell, "warmup": 0.0, "duration": min(args.duration, 3.0)}
        during = await run_cell(endpoint, body, **busy)  # type: ignore[arg-type]
        flood_s, statuses = await flood_task
        print("| | /v1 p50 ms | /v1 p99 ms | /v1 req/s |")
        print("|---|---|---|---|")
        print(f"| idle | {idle.latency_ms['p50']:.2f} | {idle.latency_ms['p99']:.2f} | {idle.rps} |")
        p50, p99 = during.latency_ms["p50"], during.latency_ms["p99"]
        print(f"| during the sign-in flood | {p50:.2f} | {p99:.2f} | {during.rps} |")
        ratio = p50 / idle.latency_ms["p50"] if idle.latency_ms["p50"] else float("nan")
        print(
            f"\n{args.attempts} {'sign-in page GETs' if args.control else 'bogus sign-ins'} "
            f"at c={args.flood_concurrency} "
            f"(per-address limit {args.per_address or 'default'}): answers {statuses}, {flood_s:.1f} s; "
            f"/v1 p50 x{ratio:.2f}"
        )
    finally:
        router.stop()
        upstream.stop()


if __name__ == "__main__":
    asyncio.run(main())
