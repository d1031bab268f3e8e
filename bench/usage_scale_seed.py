"""Seed a dedicated PostgreSQL database with N raw usage rows, server-side, for bench/usage_scale.py.

    createdb -h 127.0.0.1 -U postgres usage_scale
    nice .venv/bin/python bench/usage_scale_seed.py \
        --url postgresql+asyncpg://postgres@127.0.0.1:5432/usage_scale \
        --rows 100000000 --days 92 [--end 2026-12-06]

Shape of the data (an organisation of 500 engineers on Claude Code): 50 tenants of 10 members, one key each;
rows spread evenly over `--days` days ending at `--end` (00:00 UTC), every key active every hour (the worst
case for the rollups: an even spread gives the most groups per hour). Each key has a main model (opus for a
quarter of them, sonnet for the others) and sends 30 % of its requests to haiku; 1 % of requests fail.

Method: migrate to head (monthly partitions), create the months' partitions, drop the usage indexes, insert
one day per statement with generate_series (one transaction per day, synchronous_commit off, the backend
reniced to 10 and without parallel workers), then rebuild the indexes and ANALYZE. The rollups are then
built by the operator's command, `router usage rebuild-rollups` (timed by the caller). Progress and the
database size are printed after every day; a run stopped half-way can go on with --from-day.

`--synthetic-rollups` (the "usage_scale_dev" database of bench/README.md): instead of raw rows, write the
hourly rollups of that organisation directly, ~1,300 groups an hour (per key and hour: its main model, haiku,
and for three keys in five a failure group), over `--days` days ending with the current hour (2,870,400
hourly rows for 92 days), the daily ones derived by the rebuild's own code, plus raw rows at the full rate
(~45,000 an hour) for four hours around each report's start (now - 7, 30 and 90 days) and the last four
hours, where the reports read raw rows or the latest requests. A few minutes instead of hours: for the
reports' reads at realistic density (raw and rollups do not agree with each other; do not rebuild them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from router.store.migrate import upgrade_to_head
from router.store.models import ApiKey, Tenant
from router.store.partitions import add_months, create_partition, month_start
from router.store.usage_rollups import rebuild_daily_sync
from router.store.usage_writes import USAGE_TABLE

TENANTS = 50
KEYS = 500
# The usage table's indexes as usage_models.py declares them: dropped for the load, built again after it.
INDEXES: tuple[tuple[str, str], ...] = tuple(
    (str(index.name), ", ".join(column.name for column in index.columns))
    for index in sorted(USAGE_TABLE.indexes, key=lambda index: str(index.name))
)

# One day of rows: i runs over the day; k is the key (spread over the day by a multiplier prime to 500).
# The model and the failures follow i / 500, not i: i modulo 500 fixes k, so a choice by i % 10 would give
# every key one model all day (the 100 M run of 2026-12-06 was seeded so: one rollup group per key-hour).
DAY_SQL = f"""
INSERT INTO usage_records (created_at, request_id, tenant_id, key_id, key_prefix, member, requested_model,
    target, provider, upstream_model, attempts, stream, input_tokens, output_tokens, cache_read_tokens,
    cache_write_tokens, tokens_estimated, cost_usd, latency_ms, ttft_ms, status, error_type, outcome)
SELECT ts, 'req_' || :day || '_' || i, k % {TENANTS} + 1, k + 1, 'sk-rt-' || lpad(k::text, 4, '0'),
    'user' || k || '@example.com', model,
    CASE WHEN failed THEN NULL ELSE target END,
    CASE WHEN failed THEN NULL ELSE split_part(target, '/', 1) END,
    CASE WHEN failed THEN NULL ELSE split_part(target, '/', 2) END,
    CAST('[{{"target": "' || target || '", "status": ' || CASE WHEN failed THEN 502 ELSE 200 END
         || ', "error_type": null, "latency_ms": 900}}]' AS json),
    true, tin, tout, tcache, 0, false,
    CASE WHEN failed THEN 0 ELSE (tin * 3 + tout * 15 + tcache * 0.3) / 1000000.0 END,
    500 + i % 9000, 150 + i % 800, CASE WHEN failed THEN 502 ELSE 200 END,
    CASE WHEN failed THEN 'api_error' END, CASE WHEN failed THEN 'error' ELSE 'ok' END
FROM (
    SELECT i, k, ts, failed, tin, tout, tcache,
        CASE WHEN (i / 500) % 10 < 3 THEN 'claude-haiku-4-5' WHEN k % 4 = 0 THEN 'claude-opus-4-1'
             ELSE 'claude-sonnet-4-5' END AS model,
        CASE WHEN (i / 500) % 10 < 3 THEN 'openai/gpt-4.1-mini'
             WHEN k % 4 = 0 THEN 'anthropic/claude-opus-4-1' ELSE 'openai/gpt-4.1' END AS target
    FROM (
        SELECT i, (i * 7919 + :day * 13) % {KEYS} AS k,
            CAST(:start AS timestamptz) + (i * :step_us) * INTERVAL '1 microsecond' AS ts,
            (i / 500) % 100 = 7 AS failed, 2000 + (i * 37) % 30000 AS tin, 100 + (i * 11) % 2000 AS tout,
            (i * 13) % 50000 AS tcache
        FROM generate_series(CAST(0 AS bigint), CAST(:n AS bigint) - 1) AS i
    ) AS base
) AS rows
"""


# One UTC day of synthetic hourly rollups: hour h of the day, key k. Group A: the key's main model; B: haiku
# (30 % of its requests); C: one failure group (target NULL) for three keys in five each hour. `dims` is
# an md5 of the group's values: unique per group like the writer's sha1, though not equal to it.
ROLLUP_DAY_SQL = f"""
INSERT INTO usage_hourly (hour, dims, tenant_id, key_id, key_prefix, member, requested_model, target, outcome,
    requests, errors, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_nanousd,
    latency_ms_sum, ttft_ms_sum, ttft_count)
SELECT hour, md5(concat_ws('|', k % {TENANTS} + 1, k + 1, model, coalesce(target, '-'), outcome)),
    k % {TENANTS} + 1, k + 1, 'sk-rt-' || lpad(k::text, 4, '0'), 'user' || k || '@example.com', model, target,
    outcome, n, CASE WHEN outcome = 'error' THEN n ELSE 0 END, n * (2000 + (k * 37 + h) % 30000),
    n * (100 + (k * 11 + h) % 2000), n * ((k * 13 + h) % 50000), 0,
    CASE WHEN outcome = 'error' THEN 0 ELSE n * (30000 + (k * 7919 + h * 13) % 90000) END,
    n * (500 + (k + h) % 9000), n * (150 + (k + h) % 800), n
FROM (
    SELECT CAST(:start AS timestamptz) + h * INTERVAL '1 hour' AS hour, h, k, g.outcome, g.n,
        CASE WHEN g.haiku THEN 'claude-haiku-4-5' WHEN k % 4 = 0 THEN 'claude-opus-4-1'
             ELSE 'claude-sonnet-4-5' END AS model,
        CASE WHEN g.outcome = 'error' THEN NULL WHEN g.haiku THEN 'openai/gpt-4.1-mini'
             WHEN k % 4 = 0 THEN 'anthropic/claude-opus-4-1' ELSE 'openai/gpt-4.1' END AS target
    FROM generate_series(0, :hours - 1) AS h, generate_series(0, {KEYS} - 1) AS k,
    LATERAL (VALUES ('ok', false, 55 + (k + h) % 15), ('ok', true, 25 + (k + h) % 7),
                    ('error', false, 1)) AS g(outcome, haiku, n)
    WHERE g.outcome = 'ok' OR (k + h + :day) % 5 < 3
) AS groups
"""
RAW_PER_HOUR = 45_000


async def synthetic(url: str, days: int, now: datetime) -> None:
    """The rollups at ~1,300 groups an hour and raw rows at the report's edges (see the module's doc)."""
    await upgrade_to_head(url)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    first = (end - timedelta(days=days)).replace(hour=0)
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            _renice_backend(int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar() or 0))
            await conn.execute(text("SET synchronous_commit = off"))
            await _tenants_and_keys(conn)
            month = month_start(first)
            while month < end:
                await conn.run_sync(create_partition, month)
                month = add_months(month, 1)
            started = time.perf_counter()
            day = first
            while day < end:
                hours = min(24, int((end - day).total_seconds() // 3600))
                params = {"start": day, "hours": hours, "day": (day - first).days}
                await conn.execute(text(ROLLUP_DAY_SQL), params)
                day += timedelta(days=1)
            print(f"hourly rollups in {time.perf_counter() - started:.0f} s", flush=True)
            t0 = time.perf_counter()
            # The rebuild locks the table: it needs a transaction, which this AUTOCOMMIT connection is not.
            daily_engine = create_async_engine(url)
            try:
                async with daily_engine.begin() as transaction:
                    await transaction.run_sync(rebuild_daily_sync)
            finally:
                await daily_engine.dispose()
            print(f"daily rollups in {time.perf_counter() - t0:.0f} s", flush=True)
            # Raw rows where the reports read them: around each range's start, and the latest hours.
            edges = [now - timedelta(days=n) for n in (7, 30, 90)] + [now - timedelta(hours=3)]
            t0 = time.perf_counter()
            for i, edge in enumerate(edges):
                start = edge.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
                await conn.execute(
                    text(DAY_SQL),
                    {"day": 1000 + i, "start": start, "step_us": 3_600_000_000 // RAW_PER_HOUR,
                     "n": RAW_PER_HOUR * 4},
                )  # fmt: skip
            print(f"raw rows at the edges in {time.perf_counter() - t0:.0f} s", flush=True)
            for table in ("usage_hourly", "usage_daily", "usage_records"):
                await conn.execute(text(f"VACUUM ANALYZE {table}"))
            counts = [
                (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
                for table in ("usage_hourly", "usage_daily", "usage_records")
            ]
            print(f"{counts[0]:,} hourly, {counts[1]:,} daily rollups, {counts[2]:,} raw rows; "
                  f"db {await _size(conn)}", flush=True)  # fmt: skip
    finally:
        await engine.dispose()


def _renice_backend(pid: int) -> None:
    # The server backend does the work, not this client: nice it as the brief asks (root may renice it).
    subprocess.run(["renice", "-n", "10", "-p", str(pid)], check=False, capture_output=True)


async def _size(conn: AsyncConnection) -> str:
    return str(
        (await conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))).scalar()
    )


async def seed(url: str, rows: int, days: int, end: datetime, from_day: int) -> None:
    if from_day == 0:
        await upgrade_to_head(url)
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    first_day = end - timedelta(days=days)
    per_day = rows // days
    try:
        async with engine.connect() as conn:
            _renice_backend(int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar() or 0))
            for statement in (
                "SET synchronous_commit = off",
                "SET max_parallel_workers_per_gather = 0",
                "SET max_parallel_maintenance_workers = 0",
                "SET maintenance_work_mem = '512MB'",
                "SET work_mem = '64MB'",
            ):
                await conn.execute(text(statement))
            if from_day == 0:
                await _tenants_and_keys(conn)
                month = month_start(first_day)
                while month < end:
                    await conn.run_sync(create_partition, month)
                    month = add_months(month, 1)
                await conn.execute(text("ALTER TABLE usage_records DROP CONSTRAINT pk_usage_records"))
                for name, _columns in INDEXES:
                    await conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
            started = time.perf_counter()
            step_us = 86_400_000_000 // per_day
            for day in range(from_day, days):
                t0 = time.perf_counter()
                await conn.execute(
                    text(DAY_SQL),
                    {"day": day, "start": first_day + timedelta(days=day), "step_us": step_us, "n": per_day},
                )
                done = (day + 1 - from_day) * per_day
                print(
                    f"day {day + 1}/{days}: {per_day:,} rows in {time.perf_counter() - t0:.1f} s "
                    f"({done / (time.perf_counter() - started):,.0f} rows/s overall), db {await _size(conn)}",
                    flush=True,
                )
            print(f"rows inserted in {time.perf_counter() - started:.0f} s", flush=True)
            t0 = time.perf_counter()
            await conn.execute(
                text("ALTER TABLE usage_records ADD CONSTRAINT pk_usage_records PRIMARY KEY (id, created_at)")
            )
            print(
                f"primary key built in {time.perf_counter() - t0:.0f} s, db {await _size(conn)}", flush=True
            )
            for name, columns in INDEXES:
                t0 = time.perf_counter()
                await conn.execute(text(f"CREATE INDEX {name} ON usage_records ({columns})"))
                print(f"{name} built in {time.perf_counter() - t0:.0f} s, db {await _size(conn)}", flush=True)
            t0 = time.perf_counter()
            await conn.execute(text("ANALYZE usage_records"))
            print(f"ANALYZE in {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        await engine.dispose()


async def _tenants_and_keys(conn: AsyncConnection) -> None:
    now = datetime.now(UTC)
    await conn.execute(
        insert(Tenant),
        [
            {"id": t + 1, "name": f"team-{t + 1:02d}", "created_at": now, "updated_at": now}
            for t in range(TENANTS)
        ],
    )
    await conn.execute(
        insert(ApiKey),
        [
            {
                "id": k + 1,
                "tenant_id": k % TENANTS + 1,
                "member": f"user{k}@example.com",
                "key_hash": f"{k:064x}",
                "prefix": f"sk-rt-{k:04d}",
                "created_at": now,
            }
            for k in range(KEYS)
        ],
    )
    for table in ("tenants", "api_keys"):
        await conn.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=92)
    parser.add_argument("--end", default=None, help="YYYY-MM-DD (UTC midnight); default: today")
    parser.add_argument("--from-day", type=int, default=0, help="go on with an interrupted seed")
    parser.add_argument(
        "--synthetic-rollups", action="store_true", help="rollups at ~1,300 groups an hour, raw rows at edges"
    )
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    if args.synthetic_rollups:
        asyncio.run(synthetic(args.url, args.days, datetime.now(UTC)))
        return
    end = (
        datetime.strptime(args.end, "%Y-%m-%d").replace(tzinfo=UTC)
        if args.end
        else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    asyncio.run(seed(args.url, args.rows, args.days, end, args.from_day))


if __name__ == "__main__":
    main()
