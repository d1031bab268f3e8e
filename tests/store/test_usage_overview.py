"""The usage page's one-read overview (store/usage_overview.py) equals the plain aggregates it replaces:
the total, the series and the four tables, row for row and to the nano-dollar, over raw partial hours,
hourly and daily rollups, with every filter, read serially or at once on connections of their own. And the
page's grouped downloads (store/usage_chargeback.py grouped_usage) add up to the same rollups exactly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from router.store.db import Database
from router.store.usage_chargeback import grouped_usage
from router.store.usage_overview import TABLE_GROUPS, usage_overview
from router.store.usage_records import UsageFilters
from router.store.usage_reports import Bucket, aggregate_usage, usage_timeseries
from router.store.usage_writes import write_usage_batch
from tests.usage.helpers import add_tenant_with_keys, event

START = datetime(2025, 3, 1, 22, 17, tzinfo=UTC)


@pytest.fixture
async def spread(usage_db: Database) -> tuple[Database, int]:
    """400 requests over 40 days: two tenants (one deleted since: no tenants row), keys, models, targets
    (none for refusals), errors and costs with nano-dollar digits."""
    tenant_id, _keys = await add_tenant_with_keys(usage_db, "alpha", ["rk-a", "rk-b"])
    rng = random.Random(17)
    events = [
        event(
            created_at=START + timedelta(minutes=rng.randrange(0, 40 * 24 * 60)),
            tenant_id=rng.choice([tenant_id, tenant_id + 50, None]),
            key_prefix=rng.choice(["rk-a", "rk-b", None]),
            requested_model=rng.choice(["claude-sonnet-4", "claude-haiku", "=cmd"]),
            target=rng.choice(["openai/gpt-4.1", "azure/gpt4o", None]),
            outcome=rng.choice(["ok", "ok", "error", "rejected", "client_cancelled"]),
            input_tokens=rng.randrange(0, 5000),
            output_tokens=rng.randrange(0, 900),
            cache_read_tokens=rng.randrange(0, 3),
            cache_write_tokens=rng.randrange(0, 3),
            cost_usd=rng.randrange(0, 10**7) / 10**9 * 7,
        )
        for _ in range(400)
    ]
    for i in range(0, len(events), 50):
        async with usage_db.transaction() as session:
            await write_usage_batch(session, events[i : i + 50])
    return usage_db, tenant_id


async def _plain(database: Database, bucket: Bucket, **filters: Any) -> tuple[Any, ...]:
    async with database.session() as session:
        total = (await aggregate_usage(session, **filters))[0]
        series = await usage_timeseries(session, bucket=bucket, **filters)
        groups = {name: await aggregate_usage(session, **filters, group_by=name) for name in TABLE_GROUPS}
    return total, series, groups


@pytest.mark.parametrize("at_once", [False, True])
async def test_the_overview_equals_the_plain_aggregates_for_every_bucket_and_filter(
    spread: tuple[Database, int], at_once: bool
) -> None:
    database, tenant_id = spread
    # Partial hours and partial days at both ends: raw rows, hours, days, hours, raw rows.
    since, until = (
        START + timedelta(days=1, hours=5, minutes=41),
        START + timedelta(days=37, hours=3, minutes=9),
    )
    cases: list[tuple[Bucket, dict[str, Any]]] = [
        ("day", {}),
        ("month", {}),
        ("day", {"tenant_id": tenant_id}),
        ("day", {"tenant_id": tenant_id + 50, "model": "claude-haiku"}),
        ("day", {"key_prefix": "rk-b", "target": "azure/gpt4o"}),
        ("month", {"target": "openai/gpt-4.1"}),
        ("day", {"model": "no-such-model"}),
    ]
    for bucket, filters in cases:
        window = {"since": since, "until": until, **filters}
        expected = await _plain(database, bucket, **window)
        async with database.session() as session:
            got = await usage_overview(
                session, bucket=bucket, sessions=database.session if at_once else None, **window
            )
        assert (got.total, got.series, got.groups) == expected, (bucket, filters)
    assert expected[0].requests == 0  # the last case matches nothing: zeros, not an error
    # An hourly series (a short range): the hours from the hourly rollups, the tables as for days.
    window = {"since": since, "until": since + timedelta(hours=30)}
    async with database.session() as session:
        got = await usage_overview(
            session, bucket="hour", sessions=database.session if at_once else None, **window
        )
    assert (got.total, got.series, got.groups) == await _plain(database, "hour", **window)
    assert len(got.series) == 31 and got.total.requests > 0


async def test_an_open_range_ends_now_and_names_a_deleted_tenant_by_its_id(
    spread: tuple[Database, int],
) -> None:
    database, tenant_id = spread
    since = START + timedelta(days=3, minutes=30)
    async with database.session() as session:
        got = await usage_overview(session, since=since, bucket="month", sessions=database.session)
    total, series, groups = await _plain(database, "month", since=since)
    assert (got.total, got.groups) == (total, groups)
    # The series runs to this month (its buckets up to now); the months with rows carry the same figures.
    assert [r for r in got.series if r.requests] == [r for r in series if r.requests]
    names = {r.name for r in got.groups["tenant"]}
    assert names == {"alpha", str(tenant_id + 50), None}
    assert sum(r.cost_nanousd for r in got.groups["key"]) == got.total.cost_nanousd


async def test_grouped_exports_add_up_to_the_rollups_to_the_nano_dollar(spread: tuple[Database, int]) -> None:
    database, tenant_id = spread
    since, until = (
        START + timedelta(days=1, hours=5, minutes=41),
        START + timedelta(days=37, hours=3, minutes=9),
    )
    window = UsageFilters(since, until)
    async with database.session() as session:
        (total,) = await aggregate_usage(session, since=since, until=until)
        by_model = {
            r.name: r for r in await aggregate_usage(session, since=since, until=until, group_by="model")
        }
        wide = await grouped_usage(session, window, ("tenant", "member", "model", "target", "key"))
        per_day = await grouped_usage(session, window, ("day", "model"))
        per_hour = await grouped_usage(session, UsageFilters(since, since + timedelta(hours=30)), ("hour",))
        scoped = await grouped_usage(session, window, ("model",), tenant_ids=[tenant_id])
        (alpha,) = await aggregate_usage(session, since=since, until=until, tenant_id=tenant_id)
    for rows in (wide, per_day):
        assert sum(r.cost_nanousd for r in rows) == total.cost_nanousd
        assert [sum(r.counts[i] for r in rows) for i in range(6)] == [
            total.requests, total.errors, total.input_tokens, total.output_tokens,
            total.cache_read_tokens, total.cache_write_tokens,
        ]  # fmt: skip
    # One grouping alone is the aggregate's rows, cost as exact text.
    by_model_export = await _one(database, window, "model")
    assert {r.groups[0]: (r.counts[0], r.cost_nanousd) for r in by_model_export} == {
        name: (r.requests, r.cost_nanousd) for name, r in by_model.items()
    }
    assert all(r.cost_usd == f"{r.cost_nanousd // 10**9}.{r.cost_nanousd % 10**9:09d}" for r in wide)
    # Time groups come oldest first; hours from the hourly rollups and the raw edge.
    assert [r.groups[0] for r in per_day] == sorted(r.groups[0] or "" for r in per_day)
    async with database.session() as session:
        hours = await aggregate_usage(
            session, since=since, until=since + timedelta(hours=30), group_by="hour"
        )
    assert [(r.groups[0], r.counts[0], r.cost_nanousd) for r in per_hour] == [
        (r.name, r.requests, r.cost_nanousd) for r in hours
    ]
    assert (sum(r.counts[0] for r in scoped), sum(r.cost_nanousd for r in scoped)) == (
        alpha.requests,
        alpha.cost_nanousd,
    )


async def _one(database: Database, window: UsageFilters, name: str) -> list[Any]:
    async with database.session() as session:
        return await grouped_usage(session, window, (name,))
