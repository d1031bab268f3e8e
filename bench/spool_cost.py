"""The cost of crash durability: the router with the usage spool (the default) and without it, same load.

    .venv/bin/python -m bench.spool_cost [--duration 8] [--concurrency 16,64]

Each record is fsynced (group commit) before its response completes; this measures what that adds to p50
and takes from req/s, non-streamed and streamed, on a fresh SQLite router each.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from bench import requests
from bench.load import run_cell
from bench.targets import start_router, start_upstream


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--concurrency", default="16,64")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-spool-"))
    upstream, port = start_upstream(work, None)
    rows = []
    try:
        for label, env in (("spool on", {}), ("spool off", {"ROUTER_USAGE_SPOOL_DIR": ""})):
            here = work / label.replace(" ", "-")
            here.mkdir()
            router = await start_router(port, here, here, None, serve_env=env)
            try:
                for stream in (False, True):
                    body = router.encode(requests.tiny(stream))
                    for c in levels:
                        cell = await run_cell(
                            router.endpoint,
                            body,
                            shape="tiny",
                            stream=stream,
                            concurrency=c,
                            duration=args.duration,
                            warmup=1.0,
                        )
                        rows.append((label, stream, c, cell.latency_ms["p50"], cell.rps, cell.errors))
            finally:
                router.stop()
    finally:
        upstream.stop()
    print("| | stream | c | p50 ms | req/s | errors |")
    print("|---|---|---|---|---|---|")
    for label, stream, c, p50, rps, errors in rows:
        print(f"| {label} | {'yes' if stream else 'no'} | {c} | {p50:.2f} | {rps} | {errors} |")


if __name__ == "__main__":
    asyncio.run(main())
