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
import functools
import json
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from bench import requests
from bench.load import run_cell
from bench.targets import HOST, start_router, start_upstream

_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


async def _flood(
    port: int, attempts: int, concurrency: int, control: bool = False
) -> tuple[float, dict[int, int]]:
    """The flood itself, on raw keep-alive connections (cheap: the attacker's CPU must not be what slows the
    measurement down). Runs in its own process (`--flood-port`), not in the measuring one's event loop."""
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}") as http:
        page = await http.get("/admin/login")
    match = _CSRF.search(page.text)
    token = match.group(1) if match else ""
    cookie = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
    statuses: dict[int, int] = {}
    left = attempts
    started = time.perf_counter()

    def request() -> bytes:
        if control:
            return f"GET /admin/login HTTP/1.1\r\nhost: {HOST}:{port}\r\ncookie: {cookie}\r\n\r\n".encode()
        form = urlencode(
            {"username": f"user-{secrets.token_hex(4)}", "password": "wrong password", "_csrf": token}
        )
        return (
            f"POST /admin/login HTTP/1.1\r\nhost: {HOST}:{port}\r\ncookie: {cookie}\r\n"
            f"content-type: application/x-www-form-urlencoded\r\ncontent-length: {len(form)}\r\n\r\n{form}"
        ).encode()

    async def worker() -> None:
        nonlocal left
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while left > 0:
                left -= 1
                writer.write(request())
                answer = await reader.readuntil(b"\r\n\r\n")
                status = int(answer[9:12])
                lower = answer.lower()
                at = lower.find(b"content-length:")
                if at >= 0:
                    await reader.readexactly(int(lower[at + 15 : lower.find(b"\r\n", at)]))
                statuses[status] = statuses.get(status, 0) + 1
                if b"connection: close" in lower:
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, statuses


async def _flood_process(
    port: int, attempts: int, concurrency: int, control: bool
) -> tuple[float, dict[int, int]]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.signin_flood",
        "--flood-port",
        str(port),
        "--attempts",
        str(attempts),
        "--flood-concurrency",
        str(concurrency),
        *(["--control"] if control else []),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    answer = json.loads(out)
    return answer["seconds"], {int(k): v for k, v in answer["statuses"].items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=600)
    parser.add_argument("--flood-concurrency", type=int, default=30)
    parser.add_argument("--per-address", type=int, default=None)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument(
        "--control", action="store_true", help="flood GET /admin/login instead: what any page request costs"
    )
    parser.add_argument("--flood-port", type=int, help=argparse.SUPPRESS)  # the flooding child process
    args = parser.parse_args()
    if args.flood_port:
        seconds, statuses = await _flood(args.flood_port, args.attempts, args.flood_concurrency, args.control)
        print(json.dumps({"seconds": seconds, "statuses": statuses}))
        return
    work = Path(tempfile.mkdtemp(prefix="bench-signin-"))
    env = {}
    if args.per_address is not None:
        env["ROUTER_SIGN_IN_ATTEMPTS_PER_ADDRESS"] = str(args.per_address)
    upstream, upstream_port = start_upstream(work, None)
    router = await start_router(upstream_port, work, work, None, serve_env=env)
    try:
        endpoint = router.endpoint
        body = router.encode(requests.tiny(False))
        cell = functools.partial(
            run_cell, endpoint, body, shape="tiny", stream=False, concurrency=4, duration=args.duration
        )
        # Idle before and after the flood: on a shared machine the background load drifts, so the flood is
        # compared with both.
        idle = await cell(warmup=1.0)
        flood_task = asyncio.create_task(
            _flood_process(endpoint.port, args.attempts, args.flood_concurrency, args.control)
        )
        await asyncio.sleep(1.0)
        # Rate-limited sign-ins are held a second each, so the flood outlasts the measurement.
        during = await cell(warmup=0.0)
        running = not flood_task.done()
        flood_s, statuses = await flood_task
        after = await cell(warmup=1.0)
        print("| | /v1 p50 ms | /v1 p99 ms | /v1 req/s |")
        print("|---|---|---|---|")
        for name, result in (
            ("idle before", idle),
            ("during the sign-in flood", during),
            ("idle after", after),
        ):
            p50, p99 = result.latency_ms["p50"], result.latency_ms["p99"]
            print(f"| {name} | {p50:.2f} | {p99:.2f} | {result.rps} |")
        idle_p50 = (idle.latency_ms["p50"] + after.latency_ms["p50"]) / 2
        ratio = during.latency_ms["p50"] / idle_p50 if idle_p50 else float("nan")
        print(
            f"\n{args.attempts} {'sign-in page GETs' if args.control else 'bogus sign-ins'} "
            f"at c={args.flood_concurrency} "
            f"(per-address limit {args.per_address or 'default'}): answers {statuses}, {flood_s:.1f} s; "
            f"/v1 p50 during / idle x{ratio:.2f}"
            + ("" if running else " (the flood ended before the measurement did)")
        )
    finally:
        router.stop()
        upstream.stop()


if __name__ == "__main__":
    asyncio.run(main())
