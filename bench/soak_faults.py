"""Soak with faults: the router on PostgreSQL under load while the upstream fails and the database restarts.

`python -m bench.soak_faults [--minutes 10] [--concurrency 64] [--fail-rate 0.05]` (see bench/README.md):

- a fresh database `router_soak_<random>` on the local PostgreSQL server, migrated and configured through the
  CLI: provider `fake` (kind openai) at the fake upstream, chain [fake/model-a, fake/model-b], a key;
- the fake upstream fails `--fail-rate` of its calls at random (HTTP 500 or 503, seeded), so a request
  fails only when both targets of its chain fail (about fail-rate squared of requests);
- `router serve` pinned to core 0, the upstream and this driver on core 1, as in bench/run.py;
- Claude Code-sized requests at `--concurrency`, streamed or not at random, for `--minutes`;
- half-way, the PostgreSQL server restarts (`pg_ctlcluster ... restart`); the router must go on answering
  and its usage recorder must catch up;
- then: answers by status (every 5xx checked against its usage record: acceptable only if both targets
  failed), usage rows against answered requests (by request-id), RSS every 10 s, latency percentiles.

The database is dropped at the end and the PostgreSQL server is left running, also when something fails.
Do not run other test suites against the local server meanwhile: the restart cuts their connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import signal
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench import requests
from bench.fake_upstream import loop_factory
from bench.load import TOKEN, Endpoint, percentiles
from bench.procs import pin_self, tree_rss_mb
from bench.run import RESULTS, machine
from bench.targets import HOST, start_router, start_upstream

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
TARGETS = ("fake/model-a", "fake/model-b")
METRICS_TOKEN = "soak-metrics-token"
CONFIG = """\
providers:
  - {{name: fake, kind: openai, api_base: "http://{host}:{port}/v1", api_key: "sk-upstream"}}
chains:
  - {{name: soak, targets: [{targets}]}}
rules:
  - {{match: "*", chain: soak}}
"""
# Judged flat when RSS grows by at most this much from the first minute to the end (MB).
FLAT_MB = 10.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.soak_faults",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--minutes", type=float, default=10.0, help="minutes of load (default 10)")
    p.add_argument("--concurrency", type=int, default=64, help="connections (default 64)")
    p.add_argument("--fail-rate", type=float, default=0.05, help="share of upstream calls failed (0.05)")
    p.add_argument("--stream-share", type=float, default=0.5, help="share of requests streamed (0.5)")
    p.add_argument("--seed", type=int, default=20261125, help="seed of the upstream's and driver's RNGs")
    p.add_argument("--restart-at", type=float, help="seconds into the load to restart PostgreSQL (half-way)")
    p.add_argument("--no-restart", action="store_true", help="leave PostgreSQL alone")
    p.add_argument("--drain-timeout", type=float, default=180.0, help="seconds to wait for the recorder")
    p.add_argument("--output", type=Path, help="results JSON (default bench/results/soak-faults-<ts>.json)")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------ PostgreSQL


def pg_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[0]


def pg_ctl(action: str) -> subprocess.CompletedProcess[str]:
    argv = ["pg_ctlcluster", "--skip-systemctl-redirect", pg_version(), "main", action]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


async def pg_connect(db: str = "postgres", limit_s: float = 2.0) -> asyncpg.Connection:
    return await asyncpg.connect(f"{PG_SERVER}/{db}", timeout=limit_s)


async def pg_wait_up(limit_s: float = 60.0) -> float:
    """Seconds until the server accepts a connection again (raises after limit_s)."""
    t0 = time.monotonic()
    while True:
        try:
            conn = await pg_connect(limit_s=1.0)
            await conn.close()
            return time.monotonic() - t0
        except (OSError, asyncpg.PostgresError, TimeoutError):
            if time.monotonic() - t0 > limit_s:
                raise
            await asyncio.sleep(0.1)


def ensure_pg_running() -> None:
    """The shared server must be left running, whatever happened to this run."""
    if pg_ctl("status").returncode != 0:
        print("PostgreSQL is down: starting it again", flush=True)
        done = pg_ctl("start")
        print(f"  pg_ctlcluster start exited {done.returncode} {done.stderr.strip()}", flush=True)


async def other_clients(ours: str) -> dict[str, int]:
    """Client connections to other databases: who the restart will cut off (recorded, for the write-up)."""
    conn = await pg_connect()
    try:
        rows = await conn.fetch(
            "SELECT datname, count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend'"
            " AND datname <> $1 AND pid <> pg_backend_pid() GROUP BY datname",
            ours,
        )
    finally:
        await conn.close()
    return {str(r["datname"]): int(r["n"]) for r in rows}


async def pg_restart() -> dict[str, Any]:
    t0 = time.monotonic()
    done = await asyncio.to_thread(pg_ctl, "restart")
    took = time.monotonic() - t0
    up_after = await pg_wait_up()
    return {
        "exit": done.returncode,
        "stderr": done.stderr.strip()[-300:],
        "restart_s": round(took, 2),
        "accepting_after_s": round(took + up_after, 2),
    }


async def create_database(name: str) -> None:
    conn = await pg_connect()
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(name: str) -> None:
    conn = await pg_connect(limit_s=10.0)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# ---------------------------------------------------------------------------------------------- driver


@dataclass(slots=True)
class Tally:
    """Everything the driver saw. Request ids of every answer are kept to match them with usage rows."""

    started: float = 0.0
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    latencies: dict[bool, list[float]] = field(default_factory=lambda: {False: [], True: []})
    answered_ids: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)  # every non-200 answer
    bad_200: list[str] = field(default_factory=list)  # 200s whose body is wrong (e.g. an error event)
    transport_errors: Counter[str] = field(default_factory=Counter)
    # Per 10 s of load: answers that were 200 and that were not (to see the restart's window).
    timeline: dict[int, Counter[str]] = field(default_factory=dict)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    """One HTTP/1.1 response: status, lower-cased headers, body (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0][9:12])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        return status, headers, await reader.readexactly(int(headers[b"content-length"]))
    parts: list[bytes] = []
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, headers, b"".join(parts)
            parts.append((await reader.readexactly(size + 2))[:-2])
    while chunk := await reader.read(65536):
        parts.append(chunk)
    return status, headers, b"".join(parts)


async def http_get(ep: Endpoint, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(ep.host, ep.port), 10)
    try:
        head = [
            f"GET {path} HTTP/1.1",
            f"host: {ep.host}:{ep.port}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        status, _, body = await asyncio.wait_for(read_response(reader), 10)
        return status, body
    finally:
        writer.close()


def _judge(
    tally: Tally, stream: bool, status: int, headers: dict[bytes, bytes], body: bytes, t0: float
) -> None:
    end = time.perf_counter()
    rid = headers.get(b"request-id", b"").decode()
    if rid:
        tally.answered_ids.append(rid)
    tally.statuses[status] += 1
    bucket = tally.timeline.setdefault(int((end - tally.started) // 10) * 10, Counter())
    if status == 200:
        ok = (b"message_stop" in body[-400:] and b"event: error" not in body) if stream else TOKEN in body
        if not ok:
            tally.bad_200.append(f"{rid} {body[-300:]!r}")
        bucket["ok" if ok else "bad_200"] += 1
        tally.latencies[stream].append(end - t0)
    else:
        tally.failures.append(
            {
                "request_id": rid,
                "status": status,
                "stream": stream,
                "body": body[:400].decode(errors="replace"),
            }
        )
        bucket[f"{status // 100}xx"] += 1
    tally.by_kind["stream" if stream else "plain"] += 1


async def _worker(
    ep: Endpoint, payloads: dict[bool, bytes], share: float, rng: random.Random, stop_at: float, tally: Tally
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < stop_at:
        stream = rng.random() < share
        try:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(ep.host, ep.port, limit=1 << 20)
            t0 = time.perf_counter()
            tally.sent += 1
            writer.write(payloads[stream])
            status, headers, body = await asyncio.wait_for(read_response(reader), 120)
            _judge(tally, stream, status, headers, body, t0)
            if headers.get(b"connection", b"").lower() == b"close":
                writer.close()
                reader = writer = None
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            ValueError,
        ) as e:
            tally.transport_errors[f"{type(e).__name__}: {e}"[:200]] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


# ------------------------------------------------------------------------------------------- sampling


async def scrape(ep: Endpoint) -> dict[str, float]:
    """The recorder's counters from the router's /metrics."""
    status, body = await http_get(ep, "/metrics", {"authorization": f"Bearer {METRICS_TOKEN}"})
    out: dict[str, float] = {}
    if status != 200:
        return out
    for line in body.decode().splitlines():
        for name in ("pending", "written", "dropped", "write_failures"):
            prefix = f"router_usage_queue_{name}" if name == "pending" else f"router_usage_{name}_total"
            if line.startswith(prefix + " "):
                out[name] = float(line.split()[-1])
    return out


async def sample_every_10s(ep: Endpoint, pid: int, t0: float, into: list[dict[str, Any]]) -> None:
    while True:
        row: dict[str, Any] = {"t": round(time.monotonic() - t0, 1), "rss_mb": tree_rss_mb(pid)}
        with contextlib.suppress(OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            row.update(await scrape(ep))
        into.append(row)
        await asyncio.sleep(10 - (time.monotonic() - t0) % 10)


async def wait_drained(ep: Endpoint, limit_s: float, quiet_s: float = 3.0) -> dict[str, Any]:
    """Until the recorder reports nothing pending and its written count has not moved for `quiet_s`.

    The quiet period matters: `UsageRecorder.pending` does not count the batch the writer is still filling
    (up to usage_batch_size events for up to usage_flush_interval), so pending == 0 alone can be seen while
    rows are on their way (see bench/README.md, "Soak and faults")."""
    t0 = time.monotonic()
    last: dict[str, float] = {}
    moved = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        with contextlib.suppress(OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            now = await scrape(ep)
            if now.get("written") != last.get("written"):
                moved = time.monotonic()
            last = now
            if last.get("pending", 1) == 0 and time.monotonic() - moved >= quiet_s:
                break
        await asyncio.sleep(0.25)
    return {"waited_s": round(time.monotonic() - t0, 1), **last}


# ------------------------------------------------------------------------------------------ the check


async def usage_rows(db: str) -> dict[str, Any]:
    conn = await pg_connect(db, limit_s=10.0)
    try:
        rows = await conn.fetch("SELECT request_id, status FROM usage_records")
        failed = await conn.fetch(
            "SELECT request_id, status, attempts::text AS attempts FROM usage_records WHERE status >= 500"
        )
        upstream_calls = await conn.fetchval(
            "SELECT COALESCE(SUM(json_array_length(attempts::json)), 0) FROM usage_records"
        )
        fallbacks = await conn.fetchval(
            "SELECT COUNT(*) FROM usage_records WHERE json_array_length(attempts::json) > 1"
        )
    finally:
        await conn.close()
    return {
        "ids": [r["request_id"] for r in rows],
        "statuses": Counter(r["status"] for r in rows),
        "failed": {r["request_id"]: json.loads(r["attempts"]) for r in failed},
        "upstream_calls": int(upstream_calls),
        "fallbacks": int(fallbacks),
    }


def both_targets_failed(attempts: list[dict[str, Any]]) -> bool:
    tried = {a.get("target") for a in attempts if int(a.get("status") or 0) >= 500}
    return (
        len(attempts) >= len(TARGETS)
        and all(int(a.get("status") or 0) >= 500 for a in attempts)
        and tried == set(TARGETS)
    )


def analyse(tally: Tally, db: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    answered = set(tally.answered_ids)
    in_db = Counter(db["ids"])
    lost = sorted(answered - in_db.keys())
    extra = sorted(in_db.keys() - answered)
    duplicates = sum(n - 1 for n in in_db.values() if n > 1)
    five = [f for f in tally.failures if f["status"] >= 500]
    expected: list[str] = []
    ours: list[dict[str, Any]] = []
    for f in five:
        attempts = db["failed"].get(f["request_id"])
        if attempts is not None and both_targets_failed(attempts) and "injected failure" in f["body"]:
            expected.append(f["request_id"])
        else:
            ours.append({**f, "attempts": attempts})
    sent = sum(tally.statuses.values())
    return {
        "requests_sent": tally.sent,
        "requests_answered": sent,
        "by_status": {str(k): v for k, v in sorted(tally.statuses.items())},
        "by_kind": dict(tally.by_kind),
        "transport_errors": dict(tally.transport_errors),
        "answers_without_request_id": sent - len(tally.answered_ids),
        "bad_200": len(tally.bad_200),
        "bad_200_samples": tally.bad_200[:3],
        "5xx_both_targets_failed": len(expected),
        "5xx_both_targets_failed_pct": round(len(expected) * 100 / sent, 3) if sent else 0.0,
        "5xx_expected_pct": round(args.fail_rate**2 * 100, 3),
        "5xx_ours": len(ours),
        "5xx_ours_samples": ours[:5],
        "non_5xx_failures": [f for f in tally.failures if f["status"] < 500][:5],
        "usage_rows": len(db["ids"]),
        "usage_rows_by_status": {str(k): v for k, v in sorted(db["statuses"].items())},
        "usage_lost": len(lost),
        "usage_lost_samples": lost[:5],
        "usage_duplicates": duplicates,
        "usage_rows_not_from_load": len(extra),
        "upstream_calls_in_attempts": db["upstream_calls"],
        "requests_that_fell_back": db["fallbacks"],
    }


def verdicts(summary: dict[str, Any], rss: dict[str, Any]) -> dict[str, bool]:
    return {
        "zero_5xx_caused_by_us": summary["5xx_ours"] == 0
        and summary["bad_200"] == 0
        and not summary["transport_errors"],
        "zero_usage_records_lost": summary["usage_lost"] == 0 and summary["usage_duplicates"] == 0,
        "memory_flat": rss["growth_mb"] <= FLAT_MB,
    }


def rss_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    after = [s for s in samples if s["t"] >= 60] or samples[-1:]
    return {
        "rss_first_minute_mb": after[0]["rss_mb"],
        "rss_end_mb": samples[-1]["rss_mb"],
        "rss_max_mb": max(s["rss_mb"] for s in samples),
        "growth_mb": round(samples[-1]["rss_mb"] - after[0]["rss_mb"], 1),
    }


# ------------------------------------------------------------------------------------------------ run


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    # SIGTERM cancels like Ctrl-C, so the finally blocks restore PostgreSQL and drop the database.
    this = asyncio.current_task()
    assert this is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, this.cancel)
    pinned = pin_self(1)
    meta = machine()
    duration = args.minutes * 60.0
    restart_at = (
        None if args.no_restart else (args.restart_at if args.restart_at is not None else duration / 2)
    )
    meta.update(
        {
            "mode": "soak_faults",
            "minutes": args.minutes,
            "concurrency": args.concurrency,
            "fail_rate": args.fail_rate,
            "stream_share": args.stream_share,
            "seed": args.seed,
            "restart_at_s": restart_at,
            "pinned": pinned,
        }
    )
    db_name = f"router_soak_{secrets.token_hex(4)}"
    results: dict[str, Any] = {"meta": meta, "database": db_name}
    await create_database(db_name)
    try:
        with tempfile.TemporaryDirectory(prefix="router-soak-") as tmp:
            work = Path(tmp)
            fault_args = ["--fail-rate", str(args.fail_rate), "--fail-seed", str(args.seed)]
            upstream, port = start_upstream(work, "1" if pinned else None, fault_args)
            try:
                config = CONFIG.format(host=HOST, port=port, targets=", ".join(TARGETS))
                target = await start_router(
                    port,
                    work,
                    work,
                    "0" if pinned else None,
                    1,
                    {"ROUTER_METRICS_TOKEN": METRICS_TOKEN},
                    database_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db_name}",
                    config_text=config,
                )
                server = target.server
                assert server is not None
                try:
                    results["startup_s"] = round(target.startup_s or 0.0, 2)
                    results["rss_idle_mb"] = tree_rss_mb(server.pid)
                    print(f"router on {db_name}: up after {results['startup_s']} s,", end=" ", flush=True)
                    print(f"RSS {results['rss_idle_mb']} MB", flush=True)
                    results.update(
                        await load(target.endpoint, server.pid, args, duration, restart_at, db_name)
                    )
                finally:
                    server.stop(grace=30)
                    # The admin set-up token is in the log: keep it out of the results file.
                    results["router_log_tail"] = re.sub(r"token=\w+", "token=…", server.log_tail(40))
            finally:
                with contextlib.suppress(Exception):
                    st, body = await http_get(Endpoint("up", HOST, port, "/", {}, b""), "/stats", {})
                    results["upstream_stats"] = json.loads(body) if st == 200 else None
                upstream.stop()
        rows_after_stop = await usage_rows(db_name)
        results["usage_rows_after_router_stop"] = len(rows_after_stop["ids"])
    finally:
        await asyncio.to_thread(ensure_pg_running)
        with contextlib.suppress(Exception):
            await pg_wait_up(30)
        await drop_database(db_name)
        results["database_dropped"] = True
    meta["loadavg_end"] = os.getloadavg()
    return results


async def load(
    ep: Endpoint, pid: int, args: argparse.Namespace, duration: float, restart_at: float | None, db_name: str
) -> dict[str, Any]:
    payloads = {s: ep.request(requests.encode(requests.claude_code(s))) for s in (False, True)}
    tally = Tally(started=time.perf_counter())
    samples: list[dict[str, Any]] = []
    sampler = asyncio.create_task(sample_every_10s(ep, pid, time.monotonic(), samples))
    restart: asyncio.Task[dict[str, Any]] | None = None

    restarting = asyncio.Event()

    async def restart_later(at: float) -> dict[str, Any]:
        await asyncio.sleep(at)
        restarting.set()
        others = await other_clients(db_name)
        print(f"  {at:.0f} s: restarting PostgreSQL (other clients: {others or 'none'})", flush=True)
        info = await pg_restart()
        print(f"  PostgreSQL back: {info}", flush=True)
        return {"at_s": at, "other_clients": others, **info}

    async def progress() -> None:
        while True:
            await asyncio.sleep(60)
            last = samples[-1] if samples else {}
            print(
                f"  {time.perf_counter() - tally.started:5.0f} s: {dict(tally.statuses)} answered,"
                f" RSS {last.get('rss_mb')} MB, usage pending {last.get('pending')}",
                flush=True,
            )

    if restart_at is not None:
        restart = asyncio.create_task(restart_later(restart_at))
    reporter = asyncio.create_task(progress())
    stop_at = tally.started + duration
    rngs = [random.Random(args.seed * 1000 + i) for i in range(args.concurrency)]
    try:
        await asyncio.gather(*(_worker(ep, payloads, args.stream_share, rng, stop_at, tally) for rng in rngs))
    finally:
        reporter.cancel()
        if restart is not None and not restarting.is_set():
            restart.cancel()  # the load ended early; a restart under way is awaited below (or by finally)
    wall = time.perf_counter() - tally.started
    restart_info = await restart if restart is not None else None
    sampler.cancel()
    samples.append({"t": round(wall, 1), "rss_mb": tree_rss_mb(pid)})
    drained = await wait_drained(ep, args.drain_timeout)
    print(f"  load done after {wall:.0f} s; recorder: {drained}", flush=True)
    db = await usage_rows(db_name)
    summary = analyse(tally, db, args)
    rss = rss_summary(samples)
    lat_all = tally.latencies[False] + tally.latencies[True]
    return {
        "wall_s": round(wall, 1),
        "rps": round(summary["requests_answered"] / wall, 1),
        "summary": summary,
        "latency_ms": {
            "all": percentiles(lat_all),
            "plain": percentiles(tally.latencies[False]),
            "stream": percentiles(tally.latencies[True]),
        },
        "rss": rss,
        "samples": samples,
        "timeline": {str(k): dict(v) for k, v in sorted(tally.timeline.items())},
        "restart": restart_info,
        "recorder_after_load": drained,
        "verdicts": verdicts(summary, rss),
    }


def markdown(r: dict[str, Any]) -> str:
    m, s, v, rss = r["meta"], r["summary"], r["verdicts"], r["rss"]
    rec = r["recorder_after_load"]
    ok = {True: "pass ✅", False: "FAIL ❌"}

    def lat(kind: str) -> str:
        return f"{r['latency_ms'][kind].get('p50')} / {r['latency_ms'][kind].get('p99')}"

    restart = r.get("restart")
    restarted = (
        f"PostgreSQL restarted at {restart['at_s']:.0f} s (accepting after {restart['accepting_after_s']} s)"
        if restart
        else "no database restart"
    )
    up = r.get("upstream_stats") or {}
    calls = sum(up.values())
    failed = calls - up.get("200", 0)
    upstream = ", ".join(f"{k}: {n:,}" for k, n in up.items()) + (
        f" ({failed * 100 / calls:.2f} % failed)" if calls else ""
    )
    kinds = f"{s['by_kind'].get('plain', 0):,} plain, {s['by_kind'].get('stream', 0):,} streamed"
    rows = [
        ("requests sent / answered", f"{s['requests_sent']:,} / {s['requests_answered']:,} ({kinds})"),
        ("throughput", f"{r['rps']:,} req/s"),
        ("answers by status", ", ".join(f"{k}: {n:,}" for k, n in s["by_status"].items())),
        ("upstream calls by status (its own count)", upstream),
        (
            "5xx with both chain targets failed",
            f"{s['5xx_both_targets_failed']:,} ({s['5xx_both_targets_failed_pct']} %;"
            f" expected ~{s['5xx_expected_pct']} % at the nominal rate,"
            f" ~{(failed / calls) ** 2 * 100 if calls else 0:.3f} % at the upstream's actual rate)",
        ),
        (
            "5xx caused by the router / bad 200s / transport errors",
            f"{s['5xx_ours']} / {s['bad_200']} / {sum(s['transport_errors'].values())}",
        ),
        (
            "requests that fell back / upstream calls",
            f"{s['requests_that_fell_back']:,} / {s['upstream_calls_in_attempts']:,}",
        ),
        (
            "usage rows / lost / duplicated / not from the load",
            f"{s['usage_rows']:,} / {s['usage_lost']} / {s['usage_duplicates']}"
            f" / {s['usage_rows_not_from_load']}",
        ),
        (
            "recorder after the load",
            f"pending 0 after {rec.get('waited_s')} s; written {rec.get('written', 0):,.0f},"
            f" dropped {rec.get('dropped', 0):,.0f}, failed batch writes {rec.get('write_failures', 0):,.0f}",
        ),
        ("latency p50 / p99 ms: all; plain; streamed", f"{lat('all')}; {lat('plain')}; {lat('stream')}"),
        (
            "RSS MB idle / at 1 min / end / max",
            f"{r['rss_idle_mb']} / {rss['rss_first_minute_mb']} / {rss['rss_end_mb']} / {rss['rss_max_mb']}"
            f" (growth after the first minute {rss['growth_mb']:+} MB)",
        ),
        ("zero 5xx caused by us", ok[v["zero_5xx_caused_by_us"]]),
        ("zero usage records lost", ok[v["zero_usage_records_lost"]]),
        (f"memory flat (growth <= {FLAT_MB:g} MB after the first minute)", ok[v["memory_flat"]]),
    ]
    head = (
        f"**{m['date']}** · commit `{m['commit']}` · {m['minutes']:g} min at c={m['concurrency']} ·"
        f" upstream fail rate {m['fail_rate']:g} · {m['stream_share']:.0%} streamed · {restarted}"
    )
    return "\n".join([head, "", "| measure | value |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            results = runner.run(main_async(args))
    finally:
        ensure_pg_running()
    out = args.output or RESULTS / f"soak-faults-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print()
    print(markdown(results))
    print(f"\nresults: {out}")
    return 0 if all(results["verdicts"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
