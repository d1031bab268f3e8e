"""The service keeps PostgreSQL's monthly usage partitions on its own: started with
ROUTER_USAGE_PARTITIONS_AHEAD, it creates the current and the next months, and a request's usage record
lands in the current month's partition (on SQLite, in its one table); `router usage` reads it back."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text

from router.store.db import Database
from router.store.partitions import add_months, month_start, monthly_partitions, partition_name
from tests.e2e.test_usage_and_limits import ASK, CONFIG, _wait_for_records
from tests.fakes import Reply
from tests.fixtures.app import LiveRouter
from tests.fixtures.db import run_async


def _state(url: str) -> tuple[str, list[str], list[str]]:
    async def read() -> tuple[str, list[str], list[str]]:
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                if db.is_sqlite:
                    return "sqlite", [], []
                names = [p.name for p in await conn.run_sync(monthly_partitions)]
                where = (
                    await conn.execute(text("SELECT tableoid::regclass::text FROM usage_records"))
                ).scalars()
                return "postgresql", names, list(where)
        finally:
            await db.dispose()

    return run_async(read())


def test_the_service_creates_months_ahead_and_a_request_lands_in_this_months_partition(
    start_router: Callable[..., LiveRouter],
) -> None:
    router = start_router(usage_partitions_ahead=4)
    router.apply(CONFIG)
    router.upstream.script(Reply(text="hi", input_tokens=10, output_tokens=2), model="gpt-4.1")
    client = router.client(router.key())
    client.messages.create(**ASK)
    rows = _wait_for_records(router, 1)
    assert rows[0]["requests"] == 1

    first = month_start(datetime.now(UTC))
    wanted = {partition_name(add_months(first, offset)) for offset in range(5)}
    deadline = time.monotonic() + 10
    backend, names, where = _state(router.settings.database_url)
    while backend == "postgresql" and not wanted <= set(names) and time.monotonic() < deadline:
        time.sleep(0.2)
        backend, names, where = _state(router.settings.database_url)
    if backend == "postgresql":
        assert wanted <= set(names)
        assert where == [partition_name(first)]
