"""store/usage_writes.py and store/usage_reports.py on SQLite and PostgreSQL: batched writes, month-to-date spend, aggregates, exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, text

from router.store.db import Database
from router.store.models import ApiKey
from router.store.usage_models import UsageRecord
from router.store.usage_records import UsageFilters, count_usage_records, export_usage_csv, list_usage_records
from router.store.usage_reports import aggregate_usage, month_to_date_spend, usage_timeseries
from router.store.usage_rollups import rebuild_rollups
from router.store.usage_writes import insert_usage_batch, write_usage_batch
from tests.usage.helpers import add_tenant_with_keys, event

T0 = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)


def _count_inserts(database: Database) -> list[str]:
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO USAGE_RECORDS"):
            seen.append(statement)

    sa_event.listen(database.engine.sync_engine, "before_cursor_execute", before)
    return seen


async def _rows(database: Database) -> list[UsageRecord]:
    async with database.session() as session:
        return list((await session.scalars(select(UsageRecord).order_by(UsageRecord.id))).all())


@pytest.mark.parametrize("multi_values", [True, False])
async def test_a_batch_is_written_in_one_insert_with_every_field(
    usage_db: Database, multi_values: bool
) -> None:
    statements = _count_inserts(usage_db)
    attempts = [
        {"target": "openai/gpt-4.1", "status": 429, "error_type": "rate_limit_error", "latency_ms": 12}
    ]
    events = [
        event(
            created_at=T0 + timedelta(seconds=i),
            tenant_id=7,
            key_id=3,
            key_prefix="rk-abc",
            member="ann",
            requested_model="claude-sonnet-4",
            target="azure/gpt4o",
            provider="azure",
            upstream_model="gpt4o-eu",
            attempts=attempts,
            stream=True,
            input_tokens=100 + i,
            output_tokens=5,
            cache_read_tokens=2,
            cache_write_tokens=1,
            tokens_estimated=True,
            cost_usd=0.25,
            latency_ms=900,
            ttft_ms=120,
            status=200,
            outcome="ok",
        )
        for i in range(50)
    ]
    async with usage_db.transaction() as session:
        await insert_usage_batch(session, events, multi_values=multi_values)
    rows = await _rows(usage_db)
    assert len(rows) == 50
    if multi_values:
        assert len(statements) == 1
    first = rows[0]
    assert first.request_id == events[0].request_id
    assert first.attempts == attempts
    assert first.created_at.replace(tzinfo=UTC) == T0
    assert (first.stream, first.tokens_estimated, first.ttft_ms, first.upstream_model) == (
        True,
        True,
        120,
        "gpt4o-eu",
    )
    assert sum(r.input_tokens for r in rows) == sum(100 + i for i in range(50))


async def test_a_batch_larger_than_the_parameter_limit_is_split_not_refused(usage_db: Database) -> None:
    events = [event(created_at=T0, input_tokens=1) for _ in range(3000)]
    async with usage_db.transaction() as session:
        await insert_usage_batch(session, events)
    async with usage_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(UsageRecord)) == 3000


async def test_an_attempt_with_nan_or_infinity_is_stored_not_refused(usage_db: Database) -> None:
    # PostgreSQL's json type refuses NaN and Infinity: unbounded, the whole batch would go to the dead letters.
    hostile = [
        {"target": "openai/gpt-4.1", "status": 502, "latency_ms": float("nan"), "ttft": float("inf")},
        {"target": "azure/gpt4o", "status": 200, "latency_ms": 12, "extra": [float("-inf")], "share": 0.25},
    ]
    events = [event(created_at=T0, attempts=hostile).bounded(), event(created_at=T0, input_tokens=1)]
    async with usage_db.transaction() as session:
        await insert_usage_batch(session, events)
    stored = (await _rows(usage_db))[0].attempts
    assert stored == [
        {"target": "openai/gpt-4.1", "status": 502, "latency_ms": None, "ttft": None},
        {"target": "azure/gpt4o", "status": 200, "latency_ms": 12, "extra": "[-inf]", "share": 0.25},
    ]


async def test_last_used_at_becomes_the_latest_request_time_per_key(usage_db: Database) -> None:
    _, (k1, k2, k3) = await add_tenant_with_keys(usage_db, "team", ["rk-1", "rk-2", "rk-3"])
    events = [
        event(created_at=T0, key_id=k1),
        event(created_at=T0 + timedelta(minutes=5), key_id=k1),
        event(created_at=T0 + timedelta(minutes=2), key_id=k1),
        event(created_at=T0 + timedelta(hours=1), key_id=k2),
    ]
    async with usage_db.transaction() as session:
        await write_usage_batch(session, events)
    async with usage_db.session() as session:
        used = dict((await session.execute(select(ApiKey.id, ApiKey.last_used_at))).all())
    first, second = used[k1], used[k2]
    assert first is not None and first.replace(tzinfo=UTC) == T0 + timedelta(minutes=5)
    assert second is not None and second.replace(tzinfo=UTC) == T0 + timedelta(hours=1)
    assert used[k3] is None


async def test_month_to_date_spend_counts_this_month_only_per_key_and_tenant(usage_db: Database) -> None:
    month = datetime(2025, 3, 1, tzinfo=UTC)
    events = [
        event(created_at=month - timedelta(seconds=1), tenant_id=1, key_id=10, cost_usd=100.0),
        event(created_at=month, tenant_id=1, key_id=10, cost_usd=1.5),
        event(created_at=month + timedelta(days=3), tenant_id=1, key_id=11, cost_usd=2.0),
        event(created_at=month + timedelta(days=4), tenant_id=2, key_id=20, cost_usd=0.25),
    ]
    async with usage_db.transaction() as session:
        await insert_usage_batch(session, events)
    async with usage_db.session() as session:
        by_key, by_tenant = await month_to_date_spend(session, month)
        only_key, no_tenants = await month_to_date_spend(session, month, key_ids=[11], tenant_ids=[])
    assert by_key == {10: 1.5, 11: 2.0, 20: 0.25}
    assert by_tenant == {1: 3.5, 2: 0.25}
    assert (only_key, no_tenants) == ({11: 2.0}, {})


def _sample_events(tenant_id: int, key_ids: list[int]) -> list[Any]:
    specs = [
        # (offset hours, key index, model, target, outcome, input, output, cost)
        (0, 0, "claude-sonnet-4", "openai/gpt-4.1", "ok", 100, 10, 0.5),
        (1, 0, "claude-sonnet-4", "openai/gpt-4.1", "error", 50, 0, 0.0),
        (25, 1, "claude-haiku", "azure/gpt4o", "ok", 30, 3, 0.1),
        (26, 1, "claude-sonnet-4", None, "rejected", 0, 0, 0.0),
        (24 * 40, 0, "claude-haiku", "azure/gpt4o", "client_cancelled", 7, 1, 0.05),
    ]
    return [
        event(
            created_at=T0 + timedelta(hours=h),
            tenant_id=tenant_id,
            key_id=key_ids[k],
            key_prefix=["rk-a", "rk-b"][k],
            requested_model=model,
            target=target,
            outcome=outcome,
            input_tokens=inp,
            output_tokens=out,
            cache_read_tokens=1,
            cost_usd=cost,
        )
        for h, k, model, target, outcome, inp, out, cost in specs
    ]


@pytest.fixture
async def seeded(usage_db: Database) -> tuple[Database, int]:
    tenant_id, keys = await add_tenant_with_keys(usage_db, "alpha", ["rk-a", "rk-b"])
    async with usage_db.transaction() as session:
        await insert_usage_batch(session, _sample_events(tenant_id, keys))
        # Another tenant's traffic, which no filtered query may count.
        await insert_usage_batch(session, [event(created_at=T0, tenant_id=tenant_id + 100, cost_usd=9.0)])
    return usage_db, tenant_id


async def test_aggregate_without_grouping_is_one_total_row(seeded: tuple[Database, int]) -> None:
    database, tenant_id = seeded
    async with database.session() as session:
        (total,) = await aggregate_usage(
            session, since=T0 - timedelta(days=1), until=None, tenant_id=tenant_id
        )
    assert total.name == "total"
    assert (total.requests, total.errors) == (5, 2)  # "error" and "rejected"; a client hang-up is not ours
    assert (total.input_tokens, total.output_tokens, total.cache_read_tokens) == (187, 14, 5)
    assert total.cost_usd == pytest.approx(0.65)


async def test_aggregate_groups_by_model_key_target_and_tenant(seeded: tuple[Database, int]) -> None:
    database, tenant_id = seeded
    since = T0 - timedelta(days=1)
    async with database.session() as session:
        by_model = await aggregate_usage(session, since=since, tenant_id=tenant_id, group_by="model")
        by_key = await aggregate_usage(session, since=since, tenant_id=tenant_id, group_by="key")
        by_target = await aggregate_usage(session, since=since, tenant_id=tenant_id, group_by="target")
        by_tenant = await aggregate_usage(session, since=since, group_by="tenant")
    assert {r.name: r.requests for r in by_model} == {"claude-sonnet-4": 3, "claude-haiku": 2}
    assert {r.name: r.input_tokens for r in by_key} == {"rk-a": 157, "rk-b": 30}
    assert {r.name: r.requests for r in by_target} == {"openai/gpt-4.1": 2, "azure/gpt4o": 2, None: 1}
    # The tenant that still exists is named; the other shows its id.
    assert {r.name: r.cost_usd for r in by_tenant} == {
        "alpha": pytest.approx(0.65),
        str(tenant_id + 100): 9.0,
    }
    assert by_tenant[0].name == str(tenant_id + 100)  # most expensive first


async def test_time_buckets_are_the_same_text_on_every_backend(seeded: tuple[Database, int]) -> None:
    database, tenant_id = seeded
    since = T0 - timedelta(days=1)
    async with database.session() as session:
        days = await aggregate_usage(session, since=since, tenant_id=tenant_id, group_by="day")
        hours = await aggregate_usage(session, since=since, tenant_id=tenant_id, group_by="hour")
        months = await aggregate_usage(session, since=since, tenant_id=tenant_id, group_by="month")
    assert [(r.name, r.requests) for r in days] == [("2025-03-10", 2), ("2025-03-11", 2), ("2025-04-19", 1)]
    assert [r.name for r in hours][:3] == ["2025-03-10 12:00", "2025-03-10 13:00", "2025-03-11 13:00"]
    assert [(r.name, r.requests) for r in months] == [("2025-03", 4), ("2025-04", 1)]


async def test_filters_narrow_by_key_model_target_and_time(seeded: tuple[Database, int]) -> None:
    database, tenant_id = seeded
    since = T0 - timedelta(days=1)

    async def total(**filters: Any) -> int:
        async with database.session() as session:
            (row,) = await aggregate_usage(session, since=filters.pop("since", since), **filters)
            return row.requests

    assert await total(key_prefix="rk-b") == 2
    assert await total(model="claude-haiku", tenant_id=tenant_id) == 2
    assert await total(target="azure/gpt4o") == 2
    assert await total(tenant_id=tenant_id, until=T0 + timedelta(hours=1)) == 1  # until is exclusive
    assert await total(tenant_id=tenant_id, since=T0 + timedelta(days=2)) == 1
    # A deleted key's history is still found by its prefix.
    async with database.transaction() as session:
        await session.execute(text("DELETE FROM api_keys WHERE prefix = 'rk-b'"))
    assert await total(key_prefix="rk-b") == 2


async def test_timeseries_fills_empty_buckets_with_zeros(seeded: tuple[Database, int]) -> None:
    database, tenant_id = seeded
    async with database.session() as session:
        series = await usage_timeseries(
            session, since=T0, until=T0 + timedelta(days=3), bucket="day", tenant_id=tenant_id
        )
    # The buckets holding `since` and `until` (both partly covered) are included.
    assert [(r.name, r.requests) for r in series] == [
        ("2025-03-10", 2),
        ("2025-03-11", 2),
        ("2025-03-12", 0),
        ("2025-03-13", 0),
    ]


async def test_record_list_is_newest_first_and_pages(seeded: tuple[Database, int]) -> None:
    database, tenant_id = seeded
    filters = UsageFilters(since=T0 - timedelta(days=1), tenant_id=tenant_id)
    async with database.session() as session:
        first = await list_usage_records(session, filters, limit=2)
        second = await list_usage_records(session, filters, limit=2, offset=2)
        count = await count_usage_records(session, filters)
    assert count == 5
    times = [r.created_at for r in first + second]
    assert times == sorted(times, reverse=True) and len(times) == 4
    assert {r.tenant_id for r in first + second} == {tenant_id}


async def test_requests_csv_is_the_newest_records_up_to_its_cap_with_formulas_defused(
    usage_db: Database,
) -> None:
    async with usage_db.transaction() as session:
        await insert_usage_batch(
            session,
            [
                event(created_at=T0 - timedelta(seconds=1), tenant_id=1, requested_model="oldest"),
                event(
                    created_at=T0, tenant_id=1, requested_model='=HYPERLINK("http://x")', key_prefix="rk-x"
                ),
                event(created_at=T0 + timedelta(seconds=1), tenant_id=1, attempts=[{"target": "a/b"}]),
            ],
        )
    async with usage_db.session() as session:
        filters = UsageFilters(since=T0 - timedelta(seconds=1), tenant_id=1)
        chunks = [c async for c in export_usage_csv(session, filters, limit=2)]
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert len(rows) == 2  # the cap: the oldest record is left out
    assert json.loads(rows[0]["attempts"]) == [{"target": "a/b"}]
    assert rows[1]["requested_model"].startswith("'=")
    assert "key_hash" not in rows[1] and rows[1]["key_prefix"] == "rk-x"
    assert datetime.fromisoformat(rows[1]["created_at"]) == T0


@pytest.mark.postgres
async def test_aggregates_over_100k_rows_match_the_generated_totals(pg_db: Database) -> None:
    n = 100_000
    async with pg_db.transaction() as session:
        # Server-side generation: row i belongs to tenant i%5, model i%3, costs (i%100)/1000 USD.
        await session.execute(
            text(
                """
                INSERT INTO usage_records (created_at, request_id, tenant_id, key_id, requested_model, target,
                    attempts, stream, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                    tokens_estimated, cost_usd, latency_ms, status, outcome)
                SELECT TIMESTAMPTZ '2025-03-01 00:00:00+00' + (i * INTERVAL '10 seconds'), 'req_' || i, i % 5,
                    i % 50, 'model-' || (i % 3), 'openai/gpt-4.1', '[]', false, i % 1000, i % 7, 0, 0,
                    false, (i % 100) / 1000.0, 100, 200, CASE WHEN i % 10 = 0 THEN 'error' ELSE 'ok' END
                FROM generate_series(1, :n) AS i
                """
            ),
            {"n": n},
        )
        # Rows loaded behind the writer's back get their rollups from the operator's repair tool.
        assert await rebuild_rollups(session) > 0
    since = datetime(2025, 3, 1, tzinfo=UTC)
    async with pg_db.session() as session:
        (total,) = await aggregate_usage(session, since=since)
        by_model = await aggregate_usage(session, since=since, group_by="model")
        tenant_3 = await aggregate_usage(session, since=since, tenant_id=3, group_by="day")
    numbers = range(1, n + 1)
    assert total.requests == n
    assert total.errors == sum(1 for i in numbers if i % 10 == 0)
    assert total.input_tokens == sum(i % 1000 for i in numbers)
    assert total.output_tokens == sum(i % 7 for i in numbers)
    assert total.cost_usd == pytest.approx(sum((i % 100) / 1000 for i in numbers))
    assert {r.name: r.requests for r in by_model} == {
        f"model-{m}": sum(1 for i in numbers if i % 3 == m) for m in range(3)
    }
    # 100k rows 10 s apart span 11.6 days; tenant 3's rows spread over every one of them.
    assert sum(r.requests for r in tenant_3) == n // 5
    assert tenant_3[0].name == "2025-03-01" and len(tenant_3) == 12
