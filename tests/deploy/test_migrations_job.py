"""Migrations as a job: `router db upgrade` under a PostgreSQL advisory lock, `serve --no-migrate`, and a
replica that reports not-ready (instead of migrating) while the schema is behind."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from router.store.db import Database
from router.store.migrate import (
    MIGRATION_LOCK_KEY,
    head_revision,
    migrations_current,
    schema_state,
    upgrade_to_head,
)
from tests.deploy.support import ROOT, SECRET, clean_env, free_port, stop, wait_until_answers
from tests.fixtures.db import run_async


def _router(*args: str, db_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "router", *args],
        env=clean_env(ROUTER_DATABASE_URL=db_url, ROUTER_SECRET_KEY=SECRET, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.mark.postgres
def test_two_upgrades_at_once_one_migrates_the_other_waits_and_finds_nothing_to_do(pg_empty_url: str) -> None:
    from tests.fixtures.db import _pg_execute

    run_async(_pg_execute(pg_empty_url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public"))

    async def scenario() -> list[str]:
        # Hold the lock ourselves so that both upgrades are provably waiting on it at the same time.
        holder = await asyncpg.connect(_asyncpg_dsn(pg_empty_url))
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
            jobs = [_router("db", "upgrade", db_url=pg_empty_url) for _ in range(2)]
            deadline = time.monotonic() + 60
            while True:
                waiting = await holder.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
                if waiting == 2:
                    break
                assert time.monotonic() < deadline, "the two upgrades never both waited on the lock"
                assert all(job.poll() is None for job in jobs), [job.communicate()[0] for job in jobs]
                await asyncio.sleep(0.05)
            await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
            outputs = []
            for job in jobs:
                out, _ = await asyncio.to_thread(job.communicate, timeout=60)
                assert job.returncode == 0, out
                outputs.append(out)
            return outputs
        finally:
            await holder.close()

    outputs = run_async(scenario())
    migrated = [o for o in outputs if f"upgraded from an empty schema to {head_revision()}" in o]
    idle = [o for o in outputs if f"already at revision {head_revision()}" in o]
    assert len(migrated) == 1 and len(idle) == 1, outputs


def test_schema_state_tells_behind_from_a_newer_release() -> None:
    assert schema_state(head_revision()) == "current"
    assert schema_state(None) == "behind"
    assert schema_state("ffffffffffff") == "ahead"


async def test_a_schema_newer_than_this_release_keeps_the_replica_ready(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    await upgrade_to_head(url)
    db = Database(url)
    try:
        from sqlalchemy import text

        async with db.engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
        assert await migrations_current(db)
    finally:
        await db.dispose()


def test_serve_no_migrate_is_not_ready_until_a_job_migrates(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'router.db'}"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "router", "serve", "--no-migrate", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(ROUTER_DATABASE_URL=url, ROUTER_SECRET_KEY=SECRET, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/healthz", process)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["schema_current"] is False
        assert run_async(_revision(url)) is None  # serve did not migrate
        job = _router("db", "upgrade", db_url=url)
        out, _ = job.communicate(timeout=60)
        assert job.returncode == 0, out
        assert wait_until_answers(f"http://127.0.0.1:{port}/readyz", process, seconds=20).json()["ready"]
    finally:
        output = stop(process)
    assert "not ready until `router db upgrade` runs" in output, output


async def _revision(url: str) -> str | None:
    from router.store.migrate import current

    return await current(url)
