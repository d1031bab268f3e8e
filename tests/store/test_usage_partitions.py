"""PostgreSQL's monthly partitions of the raw usage rows (migration 0010, store/partitions.py): rows land in
their month's partition, months are created ahead (by every replica at once, and by the service on its own),
a month created late takes over its rows from the default partition, retention drops only whole old months
(rollups kept), partition DDL gives way to a long reader, and the spool's replay stays exactly-once across
months. Each test gets a fresh copy of a database migrated to head."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from router.store.db import Database
from router.store.migrate import upgrade_to_head
from router.store.partitions import (
    DEFAULT_PARTITION,
    ensure_partitions,
    is_lock_timeout,
    monthly_partitions,
    partition_name,
)
from router.store.usage_models import UsageHourly, UsageRecord
from router.store.usage_reports import aggregate_usage
from router.store.usage_retention import ensure_usage_partitions, prune_raw_usage
from router.store.usage_writes import existing_request_ids, write_usage_batch
from router.usage.retention import RawUsagePruner
from tests.fixtures.db import _pg_execute, _with_database, run_async
from tests.usage.helpers import event

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def migrated_template(pg_server_url: str) -> Iterator[str]:
    name = f"router_test_parts_tpl_{secrets.token_hex(5)}"
    run_async(_pg_execute(pg_server_url, f'CREATE DATABASE "{name}"'))
    try:
        run_async(upgrade_to_head(_with_database(pg_server_url, name)))
        yield name
    finally:
        run_async(_pg_execute(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def pg(pg_server_url: str, migrated_template: str) -> AsyncIterator[Database]:
    name = f"router_test_parts_{secrets.token_hex(5)}"
    await _pg_execute(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    db = Database(_with_database(pg_server_url, name))
    try:
        yield db
    finally:
        await db.dispose()
        await _pg_execute(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def at(year: int, month: int, day: int = 1, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def _ensure(db: Database, now: datetime, ahead: int = 2) -> list[str]:
    return await ensure_usage_partitions(db, now, ahead)


async def _partitions(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        return [p.name for p in await conn.run_sync(monthly_partitions)]


async def _where(db: Database) -> dict[str, str]:
    """request id -> the partition holding its row."""
    async with db.session() as session:
        rows = await session.execute(text("SELECT request_id, tableoid::regclass::text FROM usage_records"))
        return {request_id: table for request_id, table in rows.all()}


async def _rollup_totals(db: Database) -> tuple[int, int]:
    async with db.session() as session:
        requests, nanos = (
            await session.execute(select(func.sum(UsageHourly.requests), func.sum(UsageHourly.cost_nanousd)))
        ).one()
    return int(requests or 0), int(nanos or 0)


async def test_rows_land_in_their_months_partition_and_a_month_without_one_in_the_default(
    pg: Database,
) -> None:
    assert await _ensure(pg, at(2031, 1, 15)) == ["usage_records_p2031_01", "usage_records_p2031_02",
                                                  "usage_records_p2031_03"]  # fmt: skip
    events = [
        event(request_id="jan-last", created_at=at(2031, 1, 31, 23, 59) + timedelta(seconds=59.999)),
        event(request_id="feb-first", created_at=at(2031, 2, 1)),
        event(request_id="mar", created_at=at(2031, 3, 15, 12)),
        event(request_id="far-future", created_at=at(2035, 6, 1)),
    ]
    async with pg.transaction() as session:
        await write_usage_batch(session, events)
    assert await _where(pg) == {
        "jan-last": "usage_records_p2031_01",
        "feb-first": "usage_records_p2031_02",
        "mar": "usage_records_p2031_03",
        "far-future": DEFAULT_PARTITION,
    }


async def test_replicas_creating_months_ahead_together_make_each_once(pg: Database) -> None:
    other = Database(str(pg.engine.url.render_as_string(hide_password=False)))
    try:
        first, second = await asyncio.gather(
            _ensure(pg, at(2032, 11, 3), 3), _ensure(other, at(2032, 11, 3), 3)
        )
    finally:
        await other.dispose()
    expected = [partition_name(at(2032, m)) for m in (11, 12)] + [partition_name(at(2033, m)) for m in (1, 2)]
    # The advisory lock makes them take turns: one creates the four months, the other finds them there.
    assert sorted(first + second) == expected and [] in (first, second)
    assert set(expected) <= set(await _partitions(pg))
    assert await _ensure(pg, at(2032, 11, 30), 3) == []


async def test_a_month_created_after_its_rows_reached_the_default_takes_them_over(pg: Database) -> None:
    early = [event(request_id=f"early-{i}", created_at=at(2034, 5, 2) + timedelta(days=i), cost_usd=0.5)
             for i in range(3)]  # fmt: skip
    later = event(request_id="june", created_at=at(2034, 6, 10), cost_usd=0.5)
    async with pg.transaction() as session:
        await write_usage_batch(session, [*early, later])
    assert set((await _where(pg)).values()) == {DEFAULT_PARTITION}
    before = await _rollup_totals(pg)

    assert await _ensure(pg, at(2034, 5, 20), ahead=0) == ["usage_records_p2034_05"]

    assert await _where(pg) == {
        **{e.request_id: "usage_records_p2034_05" for e in early},
        "june": DEFAULT_PARTITION,
    }
    assert await _rollup_totals(pg) == before == (4, 2_000_000_000)
    async with pg.session() as session:
        (total,) = await aggregate_usage(session, since=at(2034, 5, 1), until=at(2034, 7, 1))
    assert total.requests == 4


async def test_retention_drops_only_whole_months_before_the_cutoff_and_keeps_the_rollups(
    pg: Database,
) -> None:
    await _ensure(pg, at(2030, 8, 20), ahead=3)  # Aug, Sep, Oct, Nov 2030
    rows = [
        event(request_id="aug", created_at=at(2030, 8, 31, 23), cost_usd=1.0),
        event(request_id="sep", created_at=at(2030, 9, 15), cost_usd=1.0),
        event(request_id="oct-end", created_at=at(2030, 10, 31, 23, 59), cost_usd=1.0),
        event(request_id="nov-early", created_at=at(2030, 11, 2), cost_usd=1.0),
        event(request_id="nov-late", created_at=at(2030, 11, 25), cost_usd=1.0),
        event(request_id="stray-old", created_at=at(2001, 1, 1), cost_usd=1.0),
        event(request_id="stray-new", created_at=at(2099, 1, 1), cost_usd=1.0),
    ]
    async with pg.transaction() as session:
        await write_usage_batch(session, rows)

    # Cutoff inside November: August to October go whole; November stays whole, its early row too.
    removed = await prune_raw_usage(pg, at(2030, 11, 10))

    assert removed == 4
    names = await _partitions(pg)
    assert "usage_records_p2030_11" in names
    assert not {"usage_records_p2030_08", "usage_records_p2030_09", "usage_records_p2030_10"} & set(names)
    assert sorted(await _where(pg)) == ["nov-early", "nov-late", "stray-new"]
    # Reports read the rollups: every pruned request and cent is still counted.
    assert await _rollup_totals(pg) == (7, 7_000_000_000)
    async with pg.session() as session:
        (total,) = await aggregate_usage(session, since=at(2030, 8, 1), until=at(2030, 11, 1))
    assert (total.requests, total.cost_usd) == (3, 3.0)
    assert await prune_raw_usage(pg, at(2030, 11, 10)) == 0


async def test_the_service_creates_months_ahead_on_its_own(pg: Database) -> None:
    now = datetime.now(UTC)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    wanted = []
    for offset in range(6):
        index = first.year * 12 + first.month - 1 + offset
        wanted.append(partition_name(first.replace(year=index // 12, month=index % 12 + 1)))
    assert not set(wanted[3:]) & set(await _partitions(pg))  # the migration made three
    upkeep = RawUsagePruner(pg, days=0, interval=0.05, partitions_ahead=5)
    upkeep.start()
    try:
        for _ in range(100):
            if set(wanted) <= set(await _partitions(pg)):
                break
            await asyncio.sleep(0.05)
    finally:
        await upkeep.stop()
    assert set(wanted) <= set(await _partitions(pg))


async def test_partition_ddl_gives_way_to_a_long_reader_and_succeeds_afterwards(pg: Database) -> None:
    reader = await pg.engine.connect()
    try:
        transaction = await reader.begin()
        await reader.execute(text("SELECT count(*) FROM usage_records"))  # holds the parent until commit
        async with pg.engine.connect() as conn:
            with pytest.raises(Exception) as caught:
                async with conn.begin():
                    await conn.run_sync(lambda sync: ensure_partitions(sync, at(2036, 1, 1), 0))
        assert is_lock_timeout(caught.value)
        await transaction.commit()
    finally:
        await reader.close()
    assert await _ensure(pg, at(2036, 1, 1), 0) == ["usage_records_p2036_01"]


async def test_spool_replay_across_two_months_inserts_each_missing_record_once(pg: Database) -> None:
    await _ensure(pg, at(2033, 3, 1), ahead=1)
    events = [event(request_id=f"r{i}", created_at=at(2033, 3, 31, 23, 58) + timedelta(minutes=i))
              for i in range(4)]  # fmt: skip
    async with pg.transaction() as session:
        await write_usage_batch(session, events[::2])
    async with pg.session() as session:
        have = await existing_request_ids(
            session, at(2033, 3, 31), at(2033, 4, 2), [e.request_id for e in events]
        )
    assert have == {"r0", "r2"}
    async with pg.transaction() as session:
        await write_usage_batch(session, [e for e in events if e.request_id not in have])
    where = await _where(pg)
    assert where == {"r0": "usage_records_p2033_03", "r1": "usage_records_p2033_03",
                     "r2": "usage_records_p2033_04", "r3": "usage_records_p2033_04"}  # fmt: skip
    async with pg.session() as session:
        assert await session.scalar(select(func.count()).select_from(UsageRecord)) == 4
