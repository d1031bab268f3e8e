"""Databases and Redis for the usage tests.

PostgreSQL tests get a database of their own on the shared server (created once per session, dropped at the
end) so that they never race other suites' clean-ups; SQLite tests get a temporary file. Tables come from
the models' metadata (the contract), cleared before each test.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from router.store.db import Database
from router.store.tables import metadata

PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_URL = "redis://127.0.0.1:6379/0"


async def _pg_admin(statement: str) -> None:
    engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def usage_pg_name() -> AsyncIterator[str]:
    name = f"router_usage_{uuid.uuid4().hex[:10]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    engine = create_async_engine(f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    yield name
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def usage_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("usage") / "usage.db"
    url = f"sqlite+aiosqlite:///{path}"
    database = Database(url)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await database.dispose()
    return url


async def _clean(database: Database) -> None:
    async with database.transaction() as session:
        for table in ("usage_records", "usage_hourly", "usage_daily", "api_keys", "tenants"):
            await session.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def usage_db(
    request: pytest.FixtureRequest, usage_sqlite_url: str, usage_pg_name: str
) -> AsyncIterator[Database]:
    """A clean database with the schema, SQLite or PostgreSQL."""
    if request.param == "sqlite":
        url = usage_sqlite_url
    else:
        url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{usage_pg_name}"
    database = Database(url)
    await _clean(database)
    yield database
    await database.dispose()


@pytest.fixture
async def pg_db(usage_pg_name: str) -> AsyncIterator[Database]:
    database = Database(f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{usage_pg_name}")
    await _clean(database)
    yield database
    await database.dispose()


class TcpProxy:
    """A tiny port forwarder that can be stopped (connections cut, port refused) and started again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


@pytest.fixture
async def pg_proxy() -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(PG_HOST, PG_PORT)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A fresh key namespace per test; every key under it is deleted afterwards."""
    namespace = f"router-test-{uuid.uuid4().hex[:12]}"
    yield namespace
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
