"""Usage reports and writes at scale, against a database seeded by bench/usage_scale_seed.py.

    .venv/bin/python bench/usage_scale.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/usage_scale \
        [--repeat 3] [--write-rows 50000] [--skip-writes] [--page-and-exports] [--json]

Measures, each run `--repeat` times (the first run cold-ish, as the caches are after the seed):
  page 7d / 30d / 30d one tenant   every query of the admin usage page (admin/controllers/usage.py:
                                   usage_tables: total, series, four groupings, the latest 50 records, pages)
  dashboard                        the dashboard's today queries
  usage --since 30d --by X         store.usage_reports.aggregate_usage, and the CLI's wall time
                                   (`router usage --since 30d --by X --format csv`, a new process)
  budget refresh                   usage_reports.month_to_date_spend for every key and tenant (what the
                                   limiter's refresh reads), from the 1st of this month and from 30 days ago
  exports                          the usage page's downloads (grouped, from the rollups: 30 days by day and
                                   by tenant,member,model, 90 days by key; the latest requests, capped), and
                                   as processes `router usage export --month <last month>` (chargeback CSV),
                                   `router usage --since 30d --by day|tenant --format csv` and the baseline
                                   `router usage --since 1m` (start-up, imports, connection)
  request detail                   usage_records.find_usage_record by request id
  writes                           UsageRecorder end to end (rollups on) into the current month's partition;
                                   the rows are deleted and their rollups rebuilt afterwards
Prints a markdown table (and JSON with --json). Read-only apart from the write test's own rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, select, text

from router.admin.controllers.usage import usage_tables
from router.admin.usage_filters import parse_usage_query
from router.store.db import Database
from router.store.usage_chargeback import chargeback_csv, grouped_usage
from router.store.usage_models import UsageRecord
from router.store.usage_records import REQUESTS_CSV_LIMIT, UsageFilters, export_usage_csv, find_usage_record
from router.store.usage_reports import aggregate_usage, month_to_date_spend, usage_timeseries
from router.store.usage_rollups import rebuild_rollups
from router.store.usage_writes import UsageEvent
from router.usage.recorder import UsageRecorder

ROOT = Path(__file__).resolve().parent.parent
BY = ("tenant", "key", "model", "target", "day")


Results = list[dict[str, Any]]


async def _timed(label: str, repeat: int, run: Callable[[], Awaitable[Any]], out: Results) -> Any:
    times: list[float] = []
    result: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await run()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    out.append({"what": label, "first_s": times[0], "median_s": median, "max_s": max(times)})
    print(f"{label}: " + ", ".join(f"{t:.3f}" for t in times) + " s", flush=True)
    return result


def _cli(args: list[str], url: str) -> tuple[float, str]:
    env = {**os.environ, "ROUTER_DATABASE_URL": url, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = time.perf_counter()
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "router"), *args], env=env, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, done.stdout


async def _cli_timed(label: str, repeat: int, args: list[str], url: str, out: list[dict[str, Any]]) -> str:
    async def run() -> str:
        _elapsed, stdout = await asyncio.to_thread(_cli, args, url)
        return stdout

    return str(await _timed(label, repeat, run, out))


async def measure_page_and_exports(db: Database, url: str, repeat: int, now: datetime) -> Results:
    """The usage page's queries, its downloads (grouped, from the rollups; the capped latest requests) and
    the CLI's CSV exports (whole processes)."""
    out: Results = []
    for label, params in (
        ("usage page, last 7 days", {"range": "7d"}),
        ("usage page, last 30 days", {"range": "30d"}),
        ("usage page, last 30 days, one tenant", {"range": "30d", "tenant_id": "7"}),
        ("usage page, last 90 days", {"range": "90d"}),
    ):
        query = parse_usage_query(params, now=now)

        async def page(query: Any = query) -> Any:
            async with db.session() as session:
                # As the page runs them: the rollup reads at once, on connections of their own.
                return await usage_tables(session, query, sessions=db.session)

        data = await _timed(label, repeat, page, out)
        out[-1]["rows"] = data["total"].requests

    for label, params, by in (
        ("page CSV download, last 30 days, by day", {"range": "30d"}, ("day",)),
        ("page CSV download, last 30 days, by tenant,member,model", {"range": "30d"},
         ("tenant", "member", "model")),
        ("page CSV download, last 90 days, by key", {"range": "90d"}, ("key",)),
    ):  # fmt: skip
        query = parse_usage_query(params, now=now)

        async def download(query: Any = query, by: tuple[str, ...] = by) -> str:
            async with db.session() as session:
                rows = await grouped_usage(session, UsageFilters(**query.store_filters()), by)
            return chargeback_csv(rows, by)

        csv_text = await _timed(label, repeat, download, out)
        out[-1]["rows"] = csv_text.count("\n") - 1

    async def latest_requests() -> int:
        lines = 0
        async with db.session() as session:
            async for chunk in export_usage_csv(session, UsageFilters(since=now - timedelta(days=30))):
                lines += chunk.count("\n")
        return lines - 1

    await _timed(f"latest requests CSV (capped at {REQUESTS_CSV_LIMIT:,}), last 30 days", repeat,
                 latest_requests, out)  # fmt: skip
    await _cli_timed("`router usage --since 1m` (process, baseline)", repeat,
                     ["usage", "--since", "1m", "--format", "csv"], url, out)  # fmt: skip
    for group in ("day", "tenant"):
        await _cli_timed(f"`router usage --since 30d --by {group} --format csv` (process)", repeat,
                         ["usage", "--since", "30d", "--by", group, "--format", "csv"], url, out)  # fmt: skip
    last_month = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    await _cli_timed(f"`router usage export --month {last_month}` CSV (process)", repeat,
                     ["usage", "export", "--month", last_month], url, out)  # fmt: skip
    return out


async def measure_reads(db: Database, url: str, repeat: int, now: datetime) -> Results:
    out = await measure_page_and_exports(db, url, repeat, now)
    since30 = now - timedelta(days=30)

    async def dashboard() -> Any:
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        async with db.session() as session:
            await aggregate_usage(session, since=midnight)
            await aggregate_usage(session, since=midnight, group_by="tenant")
            await aggregate_usage(session, since=midnight, group_by="model")
            return await usage_timeseries(session, since=now - timedelta(hours=24), bucket="hour")

    await _timed("dashboard (today, last 24 h by hour)", repeat, dashboard, out)

    for by in BY:

        async def grouped(by: Any = by) -> Any:
            async with db.session() as session:
                return await aggregate_usage(session, since=since30, group_by=by)

        rows = await _timed(f"usage --since 30d --by {by} (query)", repeat, grouped, out)
        out[-1]["rows"] = sum(r.requests for r in rows)
    for by in BY:
        await _cli_timed(f"`router usage --since 30d --by {by}` (process)", repeat,
                         ["usage", "--since", "30d", "--by", by, "--format", "csv"], url, out)  # fmt: skip

    async with db.session() as session:
        key_ids = list((await session.scalars(text("SELECT id FROM api_keys"))).all())
        tenant_ids = list((await session.scalars(text("SELECT id FROM tenants"))).all())
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = (("budget refresh, month to date", month_start), ("budget refresh, 30 days", since30))
    for label, start in starts:

        async def refresh(start: datetime = start) -> Any:
            async with db.session() as session:
                return await month_to_date_spend(session, start, key_ids=key_ids, tenant_ids=tenant_ids)

        await _timed(f"{label} ({len(key_ids)} keys, {len(tenant_ids)} tenants)", repeat, refresh, out)

    async with db.session() as session:
        some = await session.scalar(
            select(UsageRecord.request_id).where(UsageRecord.created_at >= now - timedelta(days=45)).limit(1)
        )

    async def detail() -> Any:
        async with db.session() as session:
            return await find_usage_record(session, str(some))

    await _timed("request detail by request id", repeat, detail, out)
    return out


def _events(n: int, now: datetime) -> list[UsageEvent]:
    return [
        UsageEvent(
            created_at=now - timedelta(milliseconds=n - i),
            request_id=f"scalebench-{i}",
            tenant_id=i % 50 + 1,
            key_id=i % 500 + 1,
            key_prefix=f"sk-rt-{i % 500:04d}",
            member=f"user{i % 500}@example.com",
            requested_model="claude-sonnet-4-5",
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


async def measure_writes(db: Database, rows: int, now: datetime) -> dict[str, Any]:
    events = _events(rows, now)
    recorder = UsageRecorder(db, queue_size=rows + 1, batch_size=500, flush_interval=0.05)
    await recorder.start()
    started = time.perf_counter()
    for event in events:
        recorder.record(event, "bench")
    await recorder.stop(timeout=600)
    elapsed = time.perf_counter() - started
    if recorder.written != rows:
        raise RuntimeError(f"recorder wrote {recorder.written} of {rows}")
    # Leave the seeded data as it was: the bench rows go, their hours' rollups are recomputed.
    async with db.transaction() as session:
        # Bounded by time: the partitions and the time index find them (request_id LIKE alone scans all).
        await session.execute(
            delete(UsageRecord)
            .where(UsageRecord.created_at >= events[0].created_at - timedelta(seconds=1))
            .where(UsageRecord.request_id.like("scalebench-%")),
            execution_options={"synchronize_session": False},
        )
        await rebuild_rollups(session, since=events[0].created_at)
    print(f"writes: {rows / elapsed:,.0f} rows/s", flush=True)
    return {"what": "writes, recorder end to end, rollups on", "rows": rows, "rows_per_s": rows / elapsed}


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write-rows", type=int, default=50_000)
    parser.add_argument("--skip-writes", action="store_true")
    parser.add_argument("--only-writes", action="store_true")
    parser.add_argument(
        "--page-and-exports",
        action="store_true",
        help="only the usage page, its downloads and the CLI exports",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    db = Database(args.url)
    now = datetime.now(UTC)
    try:
        async with db.session() as session:
            size = await session.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
            raw = await session.scalar(
                text("SELECT sum(reltuples)::bigint FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid "
                     "WHERE i.inhparent = 'usage_records'::regclass")
            )  # fmt: skip
            hourly = await session.scalar(select(func.count()).select_from(text("usage_hourly")))
            daily = await session.scalar(select(func.count()).select_from(text("usage_daily")))
        print(f"database {size}: ~{raw:,} raw rows, {hourly:,} hourly, {daily:,} daily rollups", flush=True)
        if args.page_and_exports:
            results = await measure_page_and_exports(db, args.url, args.repeat, now)
        else:
            results = [] if args.only_writes else await measure_reads(db, args.url, args.repeat, now)
        if not (args.skip_writes or args.page_and_exports):
            results.append(await measure_writes(db, args.write_rows, now))
    finally:
        await db.dispose()
    print("\n| measurement | first | median | max |\n|---|---|---|---|")
    for r in results:
        if "rows_per_s" in r:
            print(f"| {r['what']} ({r['rows']:,} rows) | {r['rows_per_s']:,.0f} rows/s | | |")
        else:
            print(f"| {r['what']} | {r['first_s']:.3f} s | {r['median_s']:.3f} s | {r['max_s']:.3f} s |")
    if args.json:
        summary = {"size": size, "raw_rows": raw, "hourly": hourly, "daily": daily}
        print(json.dumps({**summary, "results": results}))


if __name__ == "__main__":
    asyncio.run(main())
