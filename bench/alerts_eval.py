"""What alerts cost: one evaluation round of a budget alert over many budgets and a month of rollups (the
evaluator's database read, off the request path), and the attempt tally's cost per upstream attempt (the one
piece on the request path).

    .venv/bin/python -m bench.alerts_eval --url postgresql+asyncpg://postgres@127.0.0.1:5432/alerts_bench \\
        --tenants 50 --keys 2000 --days 30

The database must exist and be empty (the script migrates it and fills it).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from router.alerts.evaluator import AlertEvaluator
from router.config.drafts import AlertDraft
from router.gateway.cooldown import AttemptTally
from router.store.alerts import create_alert
from router.store.crypto import CredentialCipher
from router.store.db import Database
from router.store.migrate import upgrade_to_head
from router.store.models import ApiKey, Tenant
from router.store.usage_models import UsageHourly
from router.store.usage_rollups import dims_hash


def month_start() -> datetime:
    return datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def seed(db: Database, tenants: int, keys: int, days: int) -> int:
    """`days` of hourly rollups from the start of this month (later days lie ahead: the evaluator's clock
    is set to their end, the worst case of a month's last day)."""
    start = month_start()
    now = start + timedelta(days=days)
    async with db.transaction() as session:
        await session.execute(
            insert(Tenant),
            [{"id": i + 1, "name": f"t{i}", "enabled": True, "budget_usd": 1000.0} for i in range(tenants)],
        )
        await session.execute(
            insert(ApiKey),
            [
                {"id": k + 1, "tenant_id": k % tenants + 1, "member": f"m{k}", "key_hash": f"{k:064d}",
                 "prefix": f"sk-rt-{k:06d}", "budget_usd": 50.0}
                for k in range(keys)
            ],
        )  # fmt: skip
    rows = 0
    hour = start
    batch = []
    while hour < now:
        for k in range(keys):
            if (k + hour.hour) % 3:  # two keys in three busy each hour
                continue
            dims = (k % tenants + 1, k + 1, f"sk-rt-{k:06d}", f"m{k}", "claude-sonnet-4", "oai/gpt-4.1", "ok")
            batch.append(
                {"hour": hour, "dims": dims_hash(dims), "tenant_id": dims[0], "key_id": dims[1],
                 "key_prefix": dims[2], "member": dims[3], "requested_model": dims[4], "target": dims[5],
                 "outcome": "ok", "requests": 10, "errors": 0, "input_tokens": 10_000, "output_tokens": 1_000,
                 "cache_read_tokens": 0, "cache_write_tokens": 0, "cost_nanousd": 30_000_000,
                 "latency_ms_sum": 5000, "ttft_ms_sum": 0, "ttft_count": 0}
            )  # fmt: skip
        if len(batch) >= 20_000:
            async with db.transaction() as session:
                await session.execute(insert(UsageHourly), batch)
            rows += len(batch)
            batch = []
        hour += timedelta(hours=1)
    if batch:
        async with db.transaction() as session:
            await session.execute(insert(UsageHourly), batch)
        rows += len(batch)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    await upgrade_to_head(args.url)
    db = Database(args.url)
    try:
        began = time.perf_counter()
        rows = await seed(db, args.tenants, args.keys, args.days)
        print(f"seeded {args.tenants} tenant and {args.keys} key budgets, {rows} rollup rows "
              f"in {time.perf_counter() - began:.1f} s")  # fmt: skip
        async with db.transaction() as session:
            draft = AlertDraft("spend", "budget", "http://127.0.0.1:9/hook", (50.0, 80.0, 100.0))
            await create_alert(session, draft, cipher=CredentialCipher("bench"), actor="bench")
        evaluator = AlertEvaluator(db, clock=lambda: month_start() + timedelta(days=args.days))
        times = []
        claimed = 0
        for _ in range(args.rounds):
            began = time.perf_counter()
            claimed += len(await evaluator.evaluate())
            times.append(time.perf_counter() - began)
        median = statistics.median(times[1:]) * 1000
        print(f"budget evaluation round: first {times[0] * 1000:.0f} ms (claims {claimed} firings), "
              f"then median {median:.0f} ms over {args.rounds - 1} rounds")  # fmt: skip
    finally:
        await db.dispose()

    tally = AttemptTally()
    refs = [f"oai/model-{i}" for i in range(20)]
    n = 1_000_000
    began = time.perf_counter()
    for i in range(n):
        tally.add(refs[i % 20], i % 7 == 0)
    per = (time.perf_counter() - began) / n
    began = time.perf_counter()
    tally.counts(300)
    print(f"attempt tally: {per * 1e9:.0f} ns per attempt recorded; counts() over 20 targets "
          f"{(time.perf_counter() - began) * 1e6:.0f} us")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
