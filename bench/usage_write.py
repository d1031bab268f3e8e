"""Usage writes per second, into a scratch PostgreSQL database and a scratch SQLite file.

Measures, per backend:
  insert_multi_values   store.usage_writes.insert_usage_batch(multi_values=True): one INSERT … VALUES (…),…
  insert_batch          insert_usage_batch as the writer calls it, --batch-size rows a transaction
                        (PostgreSQL: binary COPY and unnest upserts; SQLite: executemany; store/bulk_rows.py);
                        before 6 December's set-based writes, SQLAlchemy's executemany ("insert_executemany")
  recorder              end to end: UsageRecorder.record() for every event, then stop() (drain; the queue
                        holds them all, so the writer takes backlog batches of up to 10 x --batch-size);
                        also CPU µs a row: this process's (`_cpu_us`), PostgreSQL's backends'
                        (`_server_cpu_us`)
  paced                 (not by default) as the service runs: events recorded at --rate a second on the same
                        event loop as the writer, which takes what is queued; rows/s until the last is written
                        (the offered rate when the writer keeps up), the most ever waiting, CPU µs a row
each at every density of --groups (rows/s; `_50_groups`: events cycle over 50 keys, `_500_groups`: over
500, as 500 engineers' traffic and bench/usage_scale.py's write phase: an hourly and a daily upsert per row).
Every write path also upserts the batch's hourly and daily rollups (store/usage_rollups.py). With
--million, seeds 1,000,000 rows server-side (generate_series) into PostgreSQL, times `rebuild_rollups`
over them and the aggregates (which read the rollups). With --gc service, the collector is set as the
service sets it after start-up (router/gc_tuning.py); by default it keeps Python's settings, as every
figure before 6 December 14:00 UTC was taken: a backlog's queued events (three tracked objects each) are then
walked by frequent full collections, ~¼ of this process's CPU at 20,000 rows.

    .venv/bin/python bench/usage_write.py [--rows 20000] [--batch-size 500] [--backends postgres,sqlite]
        [--groups 50,500] [--only multi,batch,recorder,paced] [--rate 20000] [--gc python|service]
        [--pg-server postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--million] [--json]

The scratch database (router_bench_<random>) or file is dropped afterwards; nothing else is touched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from router.store.db import Database
from router.store.migrate import upgrade_to_head
from router.store.models import ApiKey, Tenant
from router.store.usage_reports import aggregate_usage
from router.store.usage_rollups import rebuild_rollups
from router.store.usage_writes import UsageEvent, insert_usage_batch
from router.usage.recorder import UsageRecorder

DEFAULT_PG_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TENANTS = 50


def make_events(n: int, groups: int = 50) -> list[UsageEvent]:
    """n events a millisecond apart, cycling over `groups` keys (key k: tenant k % 50 + 1, its own member),
    so a batch of 500 holds min(500, groups) rollup groups: 50 is the light density of the earlier figures,
    500 is 500 engineers' keys as bench/usage_scale.py writes them (one hourly and one daily upsert per row).
    """
    start = datetime.now(UTC) - timedelta(hours=1)
    return [
        UsageEvent(
            created_at=start + timedelta(milliseconds=i),
            request_id=f"bench_{i}",
            tenant_id=i % groups % TENANTS + 1,
            key_id=i % groups + 1,
            key_prefix=f"sk-rt-{i % groups:04d}",
            member=f"user{i % groups}@example.com",
            requested_model="claude-sonnet-4",
            target="openai/gpt-4.1",
            provider="openai",
            upstream_model="gpt-4.1",
            attempts=[{"target": "openai/gpt-4.1", "status": 200, "error_type": None, "latency_ms": 800}],
            stream=True,
            input_tokens=1200,
            output_tokens=300,
            cost_usd=0.0042,
            latency_ms=900,
            ttft_ms=150,
        )
        for i in range(n)
    ]


async def seed_keys(database: Database, keys: int) -> None:
    """The events' tenants and keys, as bench/usage_scale_seed.py makes them: every batch then also updates
    its keys' last_used_at (an UPDATE of up to `keys` rows), as in production."""
    now = datetime.now(UTC)
    async with database.transaction() as session:
        await session.execute(
            insert(Tenant),
            [{"id": t + 1, "name": f"team-{t + 1:02d}", "created_at": now, "updated_at": now}
             for t in range(TENANTS)],
        )  # fmt: skip
        await session.execute(
            insert(ApiKey),
            [{"id": k + 1, "tenant_id": k % TENANTS + 1, "member": f"user{k}@example.com",
              "key_hash": f"{k:064x}", "prefix": f"sk-rt-{k:04d}", "created_at": now}
             for k in range(keys)],
        )  # fmt: skip


async def _admin(server_url: str, statement: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def scratch_database(backend: str, pg_server: str) -> AsyncIterator[Database]:
    """A fresh schema in a database of its own, removed afterwards."""
    if backend == "postgres":
        name = f"router_bench_{uuid.uuid4().hex[:10]}"
        await _admin(pg_server, f'CREATE DATABASE "{name}"')
        url = make_url(pg_server).set(database=name).render_as_string(hide_password=False)
        cleanup = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    else:
        folder = tempfile.TemporaryDirectory()
        url = f"sqlite+aiosqlite:///{folder.name}/bench.db"
    database = Database(url)
    try:
        # The migrated schema, as the service runs it (on PostgreSQL: the monthly partitions).
        await upgrade_to_head(url)
        yield database
    finally:
        await database.dispose()
        if backend == "postgres":
            await _admin(pg_server, cleanup)
        else:
            folder.cleanup()


async def _truncate(database: Database) -> None:
    async with database.transaction() as session:
        await session.execute(text("DELETE FROM usage_records"))
        await session.execute(text("DELETE FROM usage_hourly"))
        await session.execute(text("DELETE FROM usage_daily"))


async def bench_inserts(database: Database, events: list[UsageEvent], batch_size: int, multi: bool) -> float:
    await _truncate(database)
    started = time.perf_counter()
    for i in range(0, len(events), batch_size):
        async with database.transaction() as session:
            await insert_usage_batch(session, events[i : i + batch_size], multi_values=multi)
    return len(events) / (time.perf_counter() - started)


async def bench_recorder(
    database: Database, events: list[UsageEvent], batch_size: int, rate: int | None = None
) -> dict[str, float]:
    """Without `rate`: record every event, then drain (the queue holds them all: backlog batches). With it,
    as the service runs: events recorded at `rate` a second (those due every millisecond, between the
    writer's steps on the same event loop), the writer taking whatever is queued; also the most ever waiting.
    Rows/s until the last is written, and CPU per row: this process's (record() and the writer;
    `time.process_time`) and, on PostgreSQL, the scratch database's backends' (/proc/PID/stat), which the
    machine's other load changes far less than the wall clock."""
    await _truncate(database)
    recorder = UsageRecorder(database, queue_size=len(events) + 1, batch_size=batch_size, flush_interval=0.05)
    await recorder.start()
    server = await _backend_ticks(database)
    cpu = time.process_time()
    started = time.perf_counter()
    recorded = most_pending = 0
    while recorded < len(events):
        due = (
            len(events) if rate is None else min(len(events), int((time.perf_counter() - started) * rate) + 1)
        )
        for event in events[recorded:due]:
            recorder.record(event, "bench")
        recorded = max(recorded, due)
        most_pending = max(most_pending, recorder.pending)
        if recorded < len(events):
            await asyncio.sleep(0.001)
    await recorder.stop(timeout=600)
    elapsed = time.perf_counter() - started
    if recorder.written != len(events):
        raise RuntimeError(f"recorder wrote {recorder.written} of {len(events)}")
    out = {"": len(events) / elapsed, **await _cpu_per_row(database, cpu, server, len(events))}
    if rate is not None:
        out["_most_pending"] = most_pending
    return out


async def _backend_ticks(database: Database) -> dict[int, int] | None:
    """CPU clock ticks so far of each PostgreSQL backend of this database (None: SQLite, or not readable)."""
    if database.is_sqlite:
        return None
    async with database.session() as session:
        pids = (await session.scalars(text(_BACKENDS))).all()
    return _ticks(pids)


def _ticks(pids: Sequence[int]) -> dict[int, int] | None:
    ticks: dict[int, int] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None  # the server is elsewhere, or its processes are not ours to read
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)
    return ticks


_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"


async def _cpu_per_row(
    database: Database, cpu: float, server: dict[int, int] | None, rows: int
) -> dict[str, float]:
    out = {"_cpu_us": (time.process_time() - cpu) / rows * 1e6}
    after = await _backend_ticks(database)
    if server is not None and after is not None:
        ticks = sum(t - server.get(pid, 0) for pid, t in after.items())
        out["_server_cpu_us"] = ticks / os.sysconf("SC_CLK_TCK") / rows * 1e6
    return out


async def bench_million(database: Database) -> dict[str, float]:
    await _truncate(database)
    n = 1_000_000
    started = time.perf_counter()
    async with database.transaction() as session:
        await session.execute(
            text(
                """
                INSERT INTO usage_records (created_at, request_id, tenant_id, key_id, requested_model, target,
                    attempts, stream, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                    tokens_estimated, cost_usd, latency_ms, status, outcome)
                SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + (i * INTERVAL '2 seconds'), 'req_' || i, i % 5,
                    i % 50, 'model-' || (i % 3), 'openai/gpt-4.1', '[]', false, i % 1000, i % 7, 0, 0,
                    false, (i % 100) / 1000.0, 100, 200, CASE WHEN i % 10 = 0 THEN 'error' ELSE 'ok' END
                FROM generate_series(1, :n) AS i
                """
            ),
            {"n": n},
        )
        await session.execute(text("ANALYZE usage_records"))
    seeded = time.perf_counter() - started
    # Rows loaded behind the writer's back: the rollups come from the operator's rebuild, timed here.
    started = time.perf_counter()
    async with database.transaction() as session:
        await rebuild_rollups(session)
        await session.execute(text("ANALYZE usage_hourly"))
    rebuild_s = time.perf_counter() - started
    since = datetime(2025, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    async with database.session() as session:
        (total,) = await aggregate_usage(session, since=since)
    total_s = time.perf_counter() - started
    started = time.perf_counter()
    async with database.session() as session:
        days = await aggregate_usage(session, since=since, tenant_id=3, group_by="day")
    by_day_s = time.perf_counter() - started
    if total.requests != n or sum(r.requests for r in days) != n // 5:
        raise RuntimeError("million-row aggregate returned wrong totals")
    return {
        "seed_1m_s": seeded,
        "rebuild_rollups_1m_s": rebuild_s,
        "aggregate_total_s": total_s,
        "aggregate_tenant_by_day_s": by_day_s,
    }


async def run(
    rows: int,
    batch_size: int,
    backends: list[str],
    pg_server: str,
    million: bool,
    densities: list[int],
    only: set[str],
    rate: int = 20_000,
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for backend in backends:
        async with scratch_database(backend, pg_server) as database:
            await seed_keys(database, max(densities))
            result: dict[str, float] = {}
            for groups in densities:
                events = make_events(rows, groups)
                at = f"_{groups}_groups"
                if "multi" in only:
                    result["insert_multi_values" + at] = await bench_inserts(
                        database, events, batch_size, True
                    )
                if "batch" in only:
                    result["insert_batch" + at] = await bench_inserts(database, events, batch_size, False)
                if "recorder" in only:
                    for name, value in (await bench_recorder(database, events, batch_size)).items():
                        result["recorder" + at + name] = value
                if "paced" in only:
                    paced = await bench_recorder(database, events, batch_size, rate)
                    for name, value in paced.items():
                        result[f"paced_{rate}" + at + name] = value
            if million and backend == "postgres":
                result.update(await bench_million(database))
            results[backend] = result
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--pg-server", default=DEFAULT_PG_SERVER)
    parser.add_argument(
        "--groups",
        default="50,500",
        help="rollup groups per batch (keys the events cycle over), comma-separated: 50,500",
    )
    parser.add_argument(
        "--only",
        default="multi,batch,recorder",
        help="which write paths to time: multi,batch,recorder,paced",
    )
    parser.add_argument("--rate", type=int, default=20_000, help="paced: events recorded per second")
    parser.add_argument(
        "--gc",
        choices=("python", "service"),
        default="python",
        help="the collector's settings: Python's defaults (every figure before 2026-12-06 14:00 UTC), or the "
        "service's (router/gc_tuning.py: start-up objects frozen, generation 0 collected every 20,000 "
        "allocations)",
    )
    parser.add_argument("--million", action="store_true", help="also seed and aggregate 1,000,000 rows")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    densities = [int(g) for g in args.groups.split(",") if g.strip()]
    only = {o.strip() for o in args.only.split(",") if o.strip()}
    if args.gc == "service":
        from router.gc_tuning import tune_gc

        tune_gc()
    results = asyncio.run(
        run(args.rows, args.batch_size, backends, args.pg_server, args.million, densities, only, args.rate)
    )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for backend, result in results.items():
        for name, value in result.items():
            if name.endswith("_groups"):
                shown: Any = f"{value:,.0f} rows/s"
            elif name.endswith("_cpu_us"):
                shown = f"{value:.1f} µs CPU a row"
            elif name.endswith("_most_pending"):
                shown = f"{value:,.0f} waiting at most"
            else:
                shown = f"{value:.2f} s"
            print(f"{backend:9} {name:45} {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
