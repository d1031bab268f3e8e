"""The benchmark, one command: `python -m bench.run` (or `make bench`). See bench/README.md.

Starts a fake OpenAI upstream, then for each target in turn (the upstream alone = the floor, the router,
LiteLLM's proxy) drives every cell (request kind x stream x concurrency) for a fixed time, then measures route
resolution
and usage writes; writes bench/results/<timestamp>.json and prints the markdown tables.

Pinning (when the machine has 2+ cores and taskset exists): the proxy under test on core 0, the fake upstream
and this driver on core 1, so the proxy has a core to itself and never competes with the load it is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, requests
from bench.fake_upstream import loop_factory
from bench.load import run_cell
from bench.procs import (
    Child,
    cpu_seconds,
    cpus,
    descendants,
    machine_busy_seconds,
    pin_self,
    tree_cpu_seconds,
    tree_rss_mb,
)
from bench.targets import MAIN_VENV, ROOT, Running, floor, start_litellm, start_router, start_upstream

RESULTS = ROOT / "bench" / "results"
SHAPES = {"claude_code": requests.claude_code, "tiny": requests.tiny}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="2 s per cell instead of 10")
    p.add_argument("--tiny", action="store_true", help="a few seconds in all (the smoke test's mode)")
    p.add_argument("--duration", type=float, help="seconds measured per cell (default 10; --quick 2)")
    p.add_argument("--warmup", type=float, help="seconds of unmeasured load before each cell")
    p.add_argument("--concurrency", default=None, help="comma-separated (default 1,16,64)")
    p.add_argument("--targets", default=None, help="comma-separated of floor,router,litellm (default all)")
    p.add_argument("--shapes", default="claude_code,tiny", help="comma-separated of claude_code,tiny")
    p.add_argument("--streams", default="no,yes", help="comma-separated of no,yes")
    p.add_argument("--workers", type=int, default=1, help="router worker processes (default 1)")
    p.add_argument(
        "--soak",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="instead of the matrix: run the router at the highest concurrency this long, "
        "sampling its RSS every 10 s",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="record the router with py-spy during its highest-concurrency cells",
    )
    p.add_argument(
        "--gc-stats",
        action="store_true",
        help="time the servers' garbage collections (bench/gcprobe): GC ms per request, longest pause",
    )
    p.add_argument("--skip", default="", help="comma-separated of resolver,usage")
    p.add_argument("--output", type=Path, help="results JSON path (default bench/results/<timestamp>.json)")
    args = p.parse_args(argv)
    if args.tiny:
        args.duration = args.duration or 0.25
        args.warmup = 0.1 if args.warmup is None else args.warmup
        args.concurrency = args.concurrency or "1,4"
        args.targets = args.targets or "floor,router"
    elif args.quick:
        args.duration = args.duration or 2.0
        args.warmup = 0.5 if args.warmup is None else args.warmup
    args.duration = args.duration or 10.0
    args.warmup = 1.0 if args.warmup is None else args.warmup
    args.concurrency = [int(c) for c in (args.concurrency or "1,16,64").split(",")]
    args.targets = [t.strip() for t in (args.targets or "floor,router,litellm").split(",") if t.strip()]
    args.shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    args.streams = [s.strip() in ("yes", "true", "1") for s in args.streams.split(",") if s.strip()]
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    return args


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return "?"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else ""),
        "nproc": cpus(),
        "cpu": cpu,
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
    }


# Leaf frames of a waiting event loop (uvloop's loop runs in C, so py-spy shows its caller, Runner.run).
_IDLE_LEAVES = ("select (", "poll (", "run_once (", "_run_once (", "Runner.run (")


class GcProbe:
    """Reads the GC totals that bench/gcprobe/sitecustomize.py keeps inside a server (see --gc-stats)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        probe = str(ROOT / "bench" / "gcprobe")
        path = os.environ.get("PYTHONPATH")
        return {"PYTHONPATH": f"{probe}:{path}" if path else probe, "BENCH_GC_STATS_DIR": str(self.folder)}

    async def read(self, pid: int) -> dict[str, float]:
        """Ask every process of the server for its totals (SIGUSR1) and sum them."""
        asked = time.time()
        pids = descendants(pid)
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGUSR1)
        files = [self.folder / f"{p}.json" for p in pids]
        for _ in range(100):
            if all(f.exists() and f.stat().st_mtime >= asked - 0.01 for f in files):
                break
            await asyncio.sleep(0.02)
        seconds = count = pause = 0.0
        for f in files:
            if f.exists():
                data = json.loads(f.read_text())
                seconds += sum(data["seconds"])
                count += sum(data["count"])
                pause = max(pause, *data["max_pause"])
        return {"seconds": seconds, "count": count, "max_pause": pause}


class Profiler:
    """py-spy record on the router while chosen cells run; merged into top functions at the end."""

    def __init__(self, work: Path) -> None:
        self.binary = MAIN_VENV / "bin" / "py-spy"
        self.work = work
        self.files: list[Path] = []
        self.error: str | None = None if self.binary.exists() else "py-spy not installed in .venv"

    def start(self, pid: int, seconds: float, label: str) -> subprocess.Popen[bytes] | None:
        if self.error:
            return None
        out = self.work / f"profile-{label}.txt"
        self.files.append(out)
        return subprocess.Popen(
            [
                str(self.binary),
                "record",
                "--pid",
                str(pid),
                "--rate",
                "250",
                "--duration",
                str(max(1, int(seconds))),
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
                "--subprocesses",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def summary(self) -> dict[str, Any]:
        if self.error:
            return {"error": self.error}
        own: Counter[str] = Counter()
        cumulative: Counter[str] = Counter()
        total = 0
        for f in self.files:
            if not f.exists():
                continue
            for line in f.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                if not stack or not count.isdigit():
                    continue
                n = int(count)
                frames = stack.split(";")
                # Idle samples (the event loop waiting in epoll/select) are not time spent on requests.
                if frames and frames[0].startswith("process "):
                    frames = frames[1:]  # --subprocesses puts the process as the root frame
                if not frames or frames[-1].startswith(_IDLE_LEAVES):
                    continue
                total += n
                own[frames[-1]] += n
                for frame in set(frames):
                    cumulative[frame] += n
        if not total:
            return {"error": "no samples"}
        return {
            "samples": total,
            "top_self": [(fn, round(n * 100 / total, 2)) for fn, n in own.most_common(40)],
            "top_cumulative": [(fn, round(n * 100 / total, 2)) for fn, n in cumulative.most_common(120)],
            "raw_files": [str(f) for f in self.files],
        }


async def drive(
    target: Running,
    upstream: Child,
    args: argparse.Namespace,
    profiler: Profiler | None,
    gc_probe: GcProbe | None,
) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = []
    server_pid = target.server.pid if target.server else upstream.pid
    for shape in args.shapes:
        for stream in args.streams:
            body = target.encode(SHAPES[shape](stream))
            for c in args.concurrency:
                spy = None
                if profiler is not None and c == max(args.concurrency):
                    spy = profiler.start(server_pid, args.duration, f"{shape}-{'s' if stream else 'n'}-{c}")
                gc0 = await gc_probe.read(server_pid) if gc_probe and target.server else None
                cpu0 = tree_cpu_seconds(server_pid)
                others0 = cpu_seconds(os.getpid()) + (cpu_seconds(upstream.pid) if target.server else 0.0)
                busy0 = machine_busy_seconds()
                t0 = time.monotonic()
                result = await run_cell(
                    target.endpoint,
                    body,
                    shape=shape,
                    stream=stream,
                    concurrency=c,
                    duration=args.duration,
                    warmup=args.warmup,
                )
                wall = time.monotonic() - t0
                server_cpu = tree_cpu_seconds(server_pid) - cpu0
                ours = (
                    server_cpu
                    + cpu_seconds(os.getpid())
                    + (cpu_seconds(upstream.pid) if target.server else 0.0)
                    - others0
                )
                foreign = max(0.0, machine_busy_seconds() - busy0 - ours)
                cell = result.as_dict()
                # Over the whole cell (warm-up included): CPU the proxy spent per request it answered.
                answered = result.requests * (wall / args.duration) if result.requests else 0
                cell["server_cpu_ms_per_req"] = round(server_cpu * 1000 / answered, 3) if answered else None
                cell["foreign_cpu_pct"] = round(foreign * 100 / (wall * cpus()), 1)
                if gc0 is not None and gc_probe is not None:
                    gc1 = await gc_probe.read(server_pid)
                    cell["gc_ms_per_req"] = (
                        round((gc1["seconds"] - gc0["seconds"]) * 1000 / answered, 3) if answered else None
                    )
                    cell["gc_collections"] = int(gc1["count"] - gc0["count"])
                    cell["gc_max_pause_ms"] = round(gc1["max_pause"] * 1000, 1)
                if spy is not None:
                    spy.wait(timeout=args.duration + 30)
                cells.append(cell)
                lat = result.latency_ms
                print(
                    f"  {target.name:8} {shape:11} stream={'yes' if stream else 'no ':3} c={c:<3} "
                    f"{result.rps:>9,.1f} req/s  p50 {lat.get('p50', 0):8.2f} ms  "
                    f"p99 {lat.get('p99', 0):8.2f} ms  CPU {cell['server_cpu_ms_per_req']} ms/req"
                    f"  errors {result.errors}  other load {cell['foreign_cpu_pct']}%",
                    flush=True,
                )
                if result.error_samples:
                    print(f"    e.g. {result.error_samples[0][:200]}", flush=True)
    return cells


async def soak(target: Running, args: argparse.Namespace) -> dict[str, Any]:
    assert target.server is not None
    c = max(args.concurrency)
    samples: list[tuple[float, float]] = []

    async def sample() -> None:
        start = time.monotonic()
        while True:
            samples.append((round(time.monotonic() - start, 1), tree_rss_mb(target.server.pid)))  # type: ignore[union-attr]
            await asyncio.sleep(10)

    sampler = asyncio.create_task(sample())
    body = target.encode(requests.claude_code(True))
    result = await run_cell(
        target.endpoint, body, shape="claude_code", stream=True, concurrency=c, duration=args.soak, warmup=0.0
    )
    sampler.cancel()
    samples.append((round(args.soak, 1), tree_rss_mb(target.server.pid)))
    after_minute = [rss for t, rss in samples if t >= 60] or [samples[-1][1]]
    return {
        "seconds": args.soak,
        "concurrency": c,
        "shape": "claude_code",
        "rps": result.rps,
        "errors": result.errors,
        "latency_ms": result.latency_ms,
        "rss_samples_mb": [rss for _, rss in samples],
        "rss_first_minute_mb": after_minute[0],
        "rss_end_mb": samples[-1][1],
        "growth_mb": round(samples[-1][1] - after_minute[0], 1),
    }


async def start_target(
    name: str, upstream_port: int, work: Path, args: argparse.Namespace, gc_probe: GcProbe | None
) -> Running:
    serve_env = gc_probe.env() if gc_probe else None
    if name == "floor":
        return floor(upstream_port)
    if name == "router":
        cores = "0" if args.workers <= 1 else ",".join(str(i % cpus()) for i in range(args.workers))
        return await start_router(upstream_port, work / "router", work, cores, args.workers, serve_env)
    if name == "litellm":
        return await start_litellm(upstream_port, work / "litellm", work, "0", serve_env)
    raise SystemExit(f"unknown target {name!r}")


def usage_writes(tiny: bool) -> dict[str, Any]:
    script = ROOT / "bench" / "usage_write.py"
    if not script.exists():
        return {"error": "bench/usage_write.py not present"}
    argv = [sys.executable, str(script), "--json"]
    argv += ["--rows", "300", "--backends", "sqlite"] if tiny else ["--rows", "20000"]
    done = subprocess.run(
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    if done.returncode != 0:
        return {"error": f"usage_write.py exited {done.returncode}: {(done.stderr or done.stdout)[-500:]}"}
    try:
        parsed: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        return {"error": f"usage_write.py printed no JSON: {done.stdout[-300:]}"}
    return parsed


def resolver(tiny: bool) -> dict[str, Any]:
    try:
        from bench.resolve_bench import measure
    except ImportError as e:
        return {"error": f"router.routing not importable: {e}"}
    if tiny:
        return measure(rules=200, tenants=20, seconds=0.1)
    return measure()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    pinned = pin_self(1)
    meta = machine()
    meta.update(
        {
            "mode": "tiny" if args.tiny else "quick" if args.quick else "soak" if args.soak else "full",
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "concurrency": args.concurrency,
            "router_workers": args.workers,
            "pinning": "proxy on core 0, upstream + driver on core 1" if pinned else "none (one core)",
            "request_bytes": {s: len(requests.encode(f(False))) for s, f in SHAPES.items()},
        }
    )
    results: dict[str, Any] = {"meta": meta, "cells": [], "servers": {}}
    with tempfile.TemporaryDirectory(prefix="router-bench-") as tmp:
        work = Path(tmp)
        for sub in ("router", "litellm"):
            (work / sub).mkdir()
        upstream, port = start_upstream(work, "1" if pinned else None)
        profiler = Profiler(work) if args.profile else None
        gc_probe = GcProbe(work / "gc") if args.gc_stats else None
        try:
            targets = ["router"] if args.soak else args.targets
            for name in targets:
                print(f"{name}: starting", flush=True)
                target = await start_target(name, port, work, args, gc_probe)
                try:
                    server = target.server
                    info: dict[str, Any] = {
                        "startup_s": round(target.startup_s, 2) if target.startup_s else None,
                        **target.info,
                    }
                    if server is not None:
                        info["rss_idle_mb"] = tree_rss_mb(server.pid)
                        print(
                            f"{name}: answered after {info['startup_s']} s, RSS {info['rss_idle_mb']} MB",
                            flush=True,
                        )
                    if args.soak:
                        results["soak"] = await soak(target, args)
                    else:
                        results["cells"] += await drive(
                            target, upstream, args, profiler if name == "router" else None, gc_probe
                        )
                    if server is not None:
                        info["rss_after_mb"] = tree_rss_mb(server.pid)
                        results["servers"][name] = info
                finally:
                    target.stop()
            if profiler is not None:
                results["profile"] = profiler.summary()
        finally:
            upstream.stop()
    if not args.soak:
        if "resolver" not in args.skip:
            print("route resolution...", flush=True)
            results["resolver"] = resolver(args.tiny)
        if "usage" not in args.skip:
            print("usage writes...", flush=True)
            results["usage_writes"] = usage_writes(args.tiny)
    results["comparisons"] = (
        report.comparisons(results["cells"], args.concurrency) if results["cells"] else []
    )
    meta["loadavg_end"] = os.getloadavg()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        results = runner.run(main_async(args))
    out = args.output or RESULTS / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print()
    print(report.markdown(results))
    print(f"\nresults: {out}")
    # A cell with errors or no answered request means a broken target: say so by the exit status.
    broken = [c for c in results["cells"] if c["errors"] or not c["requests"]]
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
