"""The cost of crash durability: the router with the usage spool (the default), with an fsync before each
response, and without a spool, same load.

    .venv/bin/python -m bench.spool_cost [--duration 5] [--repeats 3] [--concurrency 16,64]

By default each record is written to the spool file before its response completes and the file is fsynced
every 0.2 s; `ROUTER_USAGE_SPOOL_SYNC_INTERVAL=0` fsyncs before each response (group commit). This measures
what each adds to p50 and takes from req/s against no spool, non-streamed and streamed. Three routers run
side by side on SQLite (spools on the machine's disk), and every cell is measured `--repeats` times,
rotating which goes first, so that a shared machine's drifting load falls on all alike; the table gives
each one's median and its cost against no spool. "CPU ms/req" is the server
process's own CPU time per answered request, the steadier figure when the machine is busy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bench import requests
from bench.load import CellResult, run_cell
from bench.procs import tree_cpu_seconds
from bench.targets import Running, start_router, start_upstream
from router.store.usage_writes import UsageEvent
from router.usage.spool import UsageSpool

# The default (written before the response, fsynced every 0.2 s), fsync before each response (group
# commit), and no spool.
MODES = {
    "spool on": {},
    "fsync each": {"ROUTER_USAGE_SPOOL_SYNC_INTERVAL": "0"},
    "spool off": {"ROUTER_USAGE_SPOOL_DIR": ""},
}
LABELS = tuple(MODES)


async def _cell(router: Running, stream: bool, concurrency: int, duration: float) -> tuple[CellResult, float]:
    assert router.server is not None
    body = router.encode(requests.tiny(stream))
    before = tree_cpu_seconds(router.server.pid)
    cell = await run_cell(
        router.endpoint,
        body,
        shape="tiny",
        stream=stream,
        concurrency=concurrency,
        duration=duration,
        warmup=1.0,
    )
    cpu = tree_cpu_seconds(router.server.pid) - before
    # CPU over warm-up and window, per request answered in the window (the same bias for both routers).
    return cell, cpu * 1000 / max(1, cell.requests * (duration + 1.0) / duration)


def _event(number: int) -> UsageEvent:
    return UsageEvent(
        created_at=datetime.now(UTC),
        request_id=f"req_{number:024d}",
        tenant_id=1,
        key_id=1,
        key_prefix="sk-rt-abcdef",
        member="bench",
        requested_model="claude-sonnet-4-5",
        target="fake/gpt-4.1",
        provider="fake",
        upstream_model="gpt-4.1",
        attempts=[{"target": "fake/gpt-4.1", "status": 200, "error_type": None, "latency_ms": 3}],
        input_tokens=12,
        output_tokens=40,
        cost_usd=0.0001,
        latency_ms=3,
    )


async def _requests(spool: UsageSpool | None, numbers: Iterator[int], waits: list[float]) -> None:
    """One client's requests, back to back: each hands its record to the spool and waits as a response
    would, then yields to the loop as any request does."""
    for number in numbers:
        event = _event(number)
        started = time.perf_counter()
        if spool is not None:
            durable = spool.append(event)
            if durable is not None:
                await asyncio.shield(durable)
        waits.append(time.perf_counter() - started)
        await asyncio.sleep(0)


async def _micro(records: int, concurrency: int) -> None:
    """The spool alone, in this process: the CPU each record costs the request path (process time, so the
    machine's other load does not count), and how long a request waits for its record."""
    print(f"The spool alone: {records:,} records from {concurrency} concurrent requests.\n")
    print("| mode | CPU µs per record | request waits per record (p50 / p99 ms) | records per fsync |")
    print("|---|---|---|---|")
    for label, interval in (("spool on (0.2 s)", 0.2), ("fsync each", 0.0), ("spool off", None)):
        directory = Path(tempfile.mkdtemp(prefix="bench-spool-micro-"))
        spool = UsageSpool(directory, sync_interval=interval or 0.0) if interval is not None else None
        if spool is not None:
            await spool.start()
        numbers = iter(range(records))
        waits: list[float] = []
        cpu = time.process_time()
        await asyncio.gather(*(_requests(spool, numbers, waits) for _ in range(concurrency)))
        cpu = time.process_time() - cpu
        if spool is not None:
            await spool.stop()
        waits.sort()
        syncs = f"{spool.synced / max(1, spool.syncs):.0f}" if spool is not None else "-"
        print(
            f"| {label} | {cpu / records * 1e6:.1f} | {waits[len(waits) // 2] * 1000:.3f} / "
            f"{waits[int(len(waits) * 0.99)] * 1000:.3f} | {syncs} |"
        )
    print("\n(CPU includes making each event, the same in every mode: the spool's cost is the difference.)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--micro", action="store_true", help="the spool alone, in this process")
    args = parser.parse_args()
    if args.micro:
        await _micro(20_000, 64)
        return
    levels = [int(c) for c in args.concurrency.split(",")]
    # The spool lives in the router's working directory under TMPDIR: it must be a disk (fsync is real
    # there), not tmpfs; point TMPDIR elsewhere if /tmp is one.
    work = Path(tempfile.mkdtemp(prefix="bench-spool-"))
    upstream, port = start_upstream(work, None)
    routers: dict[str, Running] = {}
    results: dict[tuple[str, bool, int], list[tuple[CellResult, float]]] = {}
    try:
        for label, env in MODES.items():
            here = work / label.replace(" ", "-")
            here.mkdir()
            routers[label] = await start_router(port, here, here, None, serve_env=env)
        turn = 0
        for stream in (False, True):
            for c in levels:
                for _ in range(args.repeats):
                    order = LABELS[turn % 3 :] + LABELS[: turn % 3]
                    turn += 1
                    for label in order:
                        measured = await _cell(routers[label], stream, c, args.duration)
                        results.setdefault((label, stream, c), []).append(measured)
    finally:
        for router in routers.values():
            router.stop()
        upstream.stop()
    print(f"Medians of {args.repeats} rotating runs of {args.duration:g} s each.\n")
    print("| mode | stream | c | p50 ms | added p50 | req/s | req/s change | CPU ms/req | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for stream in (False, True):
        for c in levels:
            base = results[("spool off", stream, c)]
            base_p50 = statistics.median(r.latency_ms["p50"] for r, _ in base)
            base_rps = statistics.median(r.rps for r, _ in base)
            for label in LABELS:
                runs = results[(label, stream, c)]
                p50 = statistics.median(r.latency_ms["p50"] for r, _ in runs)
                rps = statistics.median(r.rps for r, _ in runs)
                cpu = statistics.median(ms for _, ms in runs)
                errors = sum(r.errors for r, _ in runs)
                added = f"{p50 - base_p50:+.2f} ms ({(p50 / base_p50 - 1) * 100:+.1f} %)"
                print(
                    f"| {label} | {'yes' if stream else 'no'} | {c} | {p50:.2f} | {added} | {rps:.0f} "
                    f"| {(rps / base_rps - 1) * 100:+.1f} % | {cpu:.3f} | {errors} |"
                )


if __name__ == "__main__":
    asyncio.run(main())
