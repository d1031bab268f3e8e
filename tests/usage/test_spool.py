"""kill -9 loses no answered request: every usage record is on local disk (group-committed spool) before its
response completes, and the next start writes whatever the killed process had not."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from router.store.db import Database
from router.store.usage_models import UsageRecord
from router.store.usage_writes import UsageEvent, existing_request_ids, write_usage_batch
from router.usage.spool import UsageSpool, replay
from tests.fakes.upstream import FakeUpstream
from tests.fixtures.db import run_async
from tests.hardening.test_process import SERVE_CONFIG, RouterProcess


def _segments(directory: Path) -> int:
    return len(list(directory.glob("*.spool")))


def _committed(spool: UsageSpool, event: UsageEvent) -> asyncio.Future[None]:
    """Group-commit mode (sync_interval 0): the future of the record's fsync."""
    durable = spool.append(event)
    assert durable is not None
    return durable


def _lines(directory: Path) -> int:
    return sum(len(path.read_bytes().splitlines()) for path in directory.glob("*.spool"))


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def _event(request_id: str) -> UsageEvent:
    return UsageEvent(datetime.now(UTC), request_id, requested_model="m", input_tokens=3)


async def test_a_segment_goes_once_every_record_in_it_is_written(tmp_path: Path) -> None:
    spool = UsageSpool(tmp_path, segment_events=3)
    await spool.start()
    events = [_event(f"r{i}") for i in range(5)]
    await asyncio.gather(*(_committed(spool, e) for e in events))
    assert spool.synced == 5 and spool.syncs < 5  # group commit: fewer fsyncs than records
    assert _segments(tmp_path) == 2
    spool.handled(events[:3])  # the first segment is closed and fully written: it goes
    assert _segments(tmp_path) == 1
    await spool.stop()  # two records unwritten: their segment stays for the next start
    assert _segments(tmp_path) == 1


async def test_in_interval_mode_a_record_is_in_the_file_when_append_returns_and_fsynced_soon(
    tmp_path: Path,
) -> None:
    """The default (ROUTER_USAGE_SPOOL_SYNC_INTERVAL > 0): nothing to wait for, the record is already in the
    file (a process crash cannot lose it: another reader sees it), and one fsync covers a burst."""
    spool = UsageSpool(tmp_path, sync_interval=0.2)
    await spool.start()
    try:
        assert [spool.append(_event(f"i{i}")) for i in range(50)] == [None] * 50
        assert _lines(tmp_path) == 50 and spool.syncs == 0
        await asyncio.sleep(0.5)
        assert spool.syncs == 1  # one fsync for the 50, within the interval
    finally:
        await spool.stop()


async def test_replay_inserts_only_what_the_database_lacks(tmp_path: Path, database: Database) -> None:
    spool = UsageSpool(tmp_path)
    await spool.start()
    events = [_event(f"req-{i}") for i in range(6)]
    await asyncio.gather(*(_committed(spool, e) for e in events))
    # The process wrote half of them, then died (the segment is left behind, unlocked).
    async with database.transaction() as session:
        await write_usage_batch(session, events[:3])
    segment = spool._segment
    assert segment is not None
    segment.handle.close()
    _append(segment.path, b'{"created_at": "2026-')  # a line the crash cut short

    async def existing(since: datetime, until: datetime, ids: list[str]) -> set[str]:
        async with database.session() as session:
            return await existing_request_ids(session, since, until, ids)

    async def write(batch: list[UsageEvent]) -> None:
        async with database.transaction() as session:
            await write_usage_batch(session, batch)

    assert await replay(tmp_path, existing, write) == 3  # type: ignore[arg-type]
    assert _segments(tmp_path) == 0
    async with database.session() as session:
        ids = (await session.scalars(select(UsageRecord.request_id))).all()
    assert sorted(ids) == sorted(e.request_id for e in events)  # each exactly once


@pytest.fixture
def serve(tmp_path: Path, fake_upstream: FakeUpstream) -> Iterator[RouterProcess]:
    process = RouterProcess(tmp_path, fake_upstream)
    # The recorder would write nothing for a minute: whatever reaches the database came through the spool.
    process.env["ROUTER_USAGE_FLUSH_INTERVAL"] = "60"
    process.env["ROUTER_USAGE_BATCH_SIZE"] = "100000"
    yield process
    process.stop()


def test_kill_9_under_load_loses_no_answered_request(serve: RouterProcess) -> None:
    (serve.workdir / "router.yaml").write_text(SERVE_CONFIG)
    serve.cli("db", "upgrade")
    serve.cli("config", "apply", "router.yaml")
    key = serve.cli("key", "create", "--tenant", "acme", "--member", "alice").strip().splitlines()[-1]
    serve.start()
    answered: list[str] = []
    stop = threading.Event()
    body = {"model": "claude-sonnet-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}

    def client() -> None:
        with httpx.Client(base_url=serve.base_url, timeout=10) as http:
            while not stop.is_set():
                try:
                    response = http.post("/v1/messages", json=body, headers={"x-api-key": key})
                except httpx.HTTPError:
                    continue  # the kill: this one was never answered
                if response.status_code == 200:
                    answered.append(response.headers["request-id"])

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(answered) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert serve.proc is not None
    os.kill(serve.proc.pid, signal.SIGKILL)
    serve.proc.wait(10)
    stop.set()
    for thread in threads:
        thread.join(15)
    assert len(answered) >= 50

    serve.start()  # replays the killed process's spool before it serves

    async def recorded() -> dict[str, int]:
        db = Database(serve.env["ROUTER_DATABASE_URL"])
        try:
            async with db.session() as session:
                stmt = select(UsageRecord.request_id, func.count()).group_by(UsageRecord.request_id)
                return {rid: n for rid, n in (await session.execute(stmt)).all()}
        finally:
            await db.dispose()

    counts = run_async(recorded())
    missing = [rid for rid in answered if rid not in counts]
    assert missing == [], f"{len(missing)} of {len(answered)} answered requests have no usage record"
    assert all(counts[rid] == 1 for rid in answered)
