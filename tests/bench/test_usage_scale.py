"""The scale benchmark's two scripts at a tiny size, run as a person runs them (seed, `router usage
rebuild-rollups`, measure), so that they cannot rot: the seed lands in the monthly partitions, the rebuilt
rollups count every seeded row, and the measurement prints its table and leaves no rows of its own behind."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.db import _pg_execute, _with_database, run_async

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


@pytest.fixture
def scale_url(pg_server_url: str) -> Iterator[str]:
    name = f"router_test_scale_{secrets.token_hex(5)}"
    run_async(_pg_execute(pg_server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(pg_server_url, name)
    finally:
        run_async(_pg_execute(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        list(args), cwd=ROOT, capture_output=True, text=True, timeout=280, env=env or ENV, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _scalar(url: str, query: str) -> object:
    async def read() -> object:
        import asyncpg

        from tests.fixtures.db import _asyncpg_dsn

        conn = await asyncpg.connect(_asyncpg_dsn(url))
        try:
            return await conn.fetchval(query)
        finally:
            await conn.close()

    return run_async(read())


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_scale_benchmark_seeds_partitions_rebuilds_rollups_and_measures(scale_url: str) -> None:
    seeded = _run(
        sys.executable, "bench/usage_scale_seed.py", "--url", scale_url, "--rows", "20000", "--days", "40"
    )
    assert "day 40/40" in seeded and "ix_usage_request_id built" in seeded
    rows = 20000 // 40 * 40
    assert _scalar(scale_url, "SELECT count(*) FROM usage_records") == rows
    # Forty days ending today: rows in at least two monthly partitions, none in the default one.
    assert int(str(_scalar(scale_url, "SELECT count(DISTINCT tableoid) FROM usage_records"))) >= 2
    assert _scalar(scale_url, "SELECT count(*) FROM usage_records_default") == 0

    router = str(ROOT / ".venv" / "bin" / "router")
    rebuilt = _run(router, "usage", "rebuild-rollups", env={**ENV, "ROUTER_DATABASE_URL": scale_url})
    assert rebuilt.startswith("rebuilt ")
    assert _scalar(scale_url, "SELECT sum(requests) FROM usage_hourly") == rows
    assert _scalar(scale_url, "SELECT sum(requests) FROM usage_daily") == rows

    out = _run(
        sys.executable,
        "bench/usage_scale.py",
        "--url",
        scale_url,
        "--repeat",
        "1",
        "--write-rows",
        "1000",
        "--json",
    )
    report = json.loads(out.strip().splitlines()[-1])
    measured = {r["what"] for r in report["results"]}
    assert {"usage page, last 30 days", "budget refresh, month to date (500 keys, 50 tenants)",
            "`router usage --since 30d --by tenant` (process)"} <= measured  # fmt: skip
    writes = [r for r in report["results"] if "rows_per_s" in r]
    assert writes and writes[0]["rows"] == 1000 and writes[0]["rows_per_s"] > 0
    # The write test's rows are gone again and the rollups still count exactly the seed.
    assert _scalar(scale_url, "SELECT count(*) FROM usage_records") == rows
    assert _scalar(scale_url, "SELECT sum(requests) FROM usage_hourly") == rows
    assert _scalar(scale_url, "SELECT sum(requests) FROM usage_daily") == rows
