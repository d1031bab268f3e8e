"""A flood of bogus sign-ins from one address at the HTTP edge: past the per-address limit no password is
hashed at all (counted, not timed), and the hashes that do run run on the low-priority argon2 thread, never
the event loop's (bench/signin_flood.py measures what that keeps for /v1)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading

import pytest
from litestar.testing import AsyncTestClient

from router.app import create_app
from router.settings import Settings
from router.store import admins
from router.store.db import Database
from tests.admin.conftest import SECRET, AdminClient, create_admin

LIMIT = 5


async def test_past_the_address_limit_bogus_sign_ins_are_refused_without_hashing(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_admin(database)
    hashed: list[tuple[str, int]] = []
    real = admins._verify

    def counting(password_hash: str, password: str) -> bool:
        hashed.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, 0)))
        return real(password_hash, password)

    monkeypatch.setattr(admins, "_verify", counting)
    settings = Settings(
        _env_file=None,
        database_url=database.url,
        secret_key=SECRET,
        log_level="WARNING",
        sign_in_attempts_per_address=LIMIT,
    )
    async with AsyncTestClient(app=create_app(settings), base_url="http://router.test") as http:
        client = AdminClient(http, database)
        await client.get("/admin/login")
        form = {"password": "wrong password", "_csrf": client.csrf}
        answers = await asyncio.gather(
            *(http.post("/admin/login", data={**form, "username": f"sprayer-{i}"}) for i in range(30))
        )
        statuses = [a.status_code for a in answers]
        # Wrong passwords answer 422 after a check; everything else is refused before one.
        assert statuses.count(422) + statuses.count(429) == 30
        assert len(hashed) == statuses.count(422) <= LIMIT
        later = [
            (await http.post("/admin/login", data={**form, "username": "root"})).status_code
            for _ in range(10)
        ]
        assert later == [429] * 10 and len(hashed) <= LIMIT
    assert hashed, "at least one password was checked"
    assert {name.split("_")[0] for name, _ in hashed} == {"argon2"}
    # Linux keeps nice per thread: the checks ran at the lowest priority (19) on the argon2 thread.
    assert {priority for _, priority in hashed} == {19}


async def test_a_sign_in_the_busy_database_cannot_count_is_refused_not_a_server_error(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock: PostgreSQL row locks wait instead")
    from router.identity import signin
    from router.store import db as store_db

    monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    database = Database(db_url)
    path = db_url.split(":///", 1)[1]
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the busy timeout
        policy = signin.SignInPolicy(absolute_seconds=60, attempts_per_address=100, address_window_seconds=60)
        result = await signin.sign_in(database, "root", "whatever", address="10.2.2.2", policy=policy)
        assert result.status is signin.SignInStatus.RATE_LIMITED and result.retry_after == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
        await database.dispose()
