"""The database handle: one async engine and session factory per process, plus the store's error types.

SQLite (the embedded default) gets WAL, a busy timeout and enforced foreign keys on every connection;
PostgreSQL goes through asyncpg with a bounded, pre-pinged pool.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from router.store.json_text import dumps as json_dumps

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

# The session type handlers are given (router/dependencies.py): the name keeps SQLAlchemy inside store/.
DbSession = AsyncSession

log = logging.getLogger(__name__)

# Milliseconds a SQLite writer waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 5000
# Seconds to wait for a PostgreSQL connection to open.
CONNECT_TIMEOUT_S = 10


class StoreError(Exception):
    """A store operation refused for a reason worth one line to the user (never contains a secret)."""


class NotFoundError(StoreError):
    """The named object does not exist."""


class AlreadyExistsError(StoreError):
    """An object with that name already exists."""


class DatabaseBusyError(StoreError):
    """SQLite's write lock stayed taken past the busy timeout: the change was not made; try again."""


def redact_url(url: str) -> str:
    """The URL without its password, safe for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: say so without echoing it (it may hold a password)
        return "<unparsable database url>"


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """An aware UTC datetime: SQLite hands back naive ones for DateTime(timezone=True) columns."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def is_sqlite_url(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def conflict_insert(session: AsyncSession, table: Any) -> PostgresInsert | SqliteInsert:
    """An INSERT into `table` with its backend's ON CONFLICT clauses, for the session's database.

    Only that backend's dialect module is imported: loading PostgreSQL's on SQLite cost every CLI command that
    merely imports a caller ~0.04 s.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgres_insert

        return postgres_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (the gateway) go on while a writer (usage recorder, admin) commits.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def create_engine_for(url: str, *, echo: bool = False, short_lived: bool = False) -> AsyncEngine:
    """An AsyncEngine configured for the URL's backend. JSON columns get json.dumps's text from a reused
    encoder (store/json_text.py): the same bytes, at a third of the cost on the usage writer's path.

    `short_lived` (a CLI command: connects, works for a moment, exits): PostgreSQL connections are not
    pinged when taken from the pool again (they were opened a moment ago by this process); the ping costs a
    BEGIN, a prepared `;` and a ROLLBACK, 4 round trips, on every command's second checkout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(url, echo=echo, json_serializer=json_dumps)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        json_serializer=json_dumps,
        pool_size=10,
        max_overflow=10,
        pool_timeout=10,
        pool_pre_ping=not short_lived,
        # Recycle before typical load balancer / pgbouncer idle cut-offs.
        pool_recycle=1800,
        # asyncpg waits 60 s for an unreachable host by default: fail sooner, with a clear error.
        connect_args={"timeout": CONNECT_TIMEOUT_S} if parsed.get_backend_name() == "postgresql" else {},
    )


class Database:
    """An AsyncEngine and its session factory (expire_on_commit=False: rows stay readable after commit)."""

    def __init__(self, url: str, *, echo: bool = False, short_lived: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine_for(url, echo=echo, short_lived=short_lived)
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r})"

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> AsyncSession:
        """A new session; the caller commits (or use `transaction()`)."""
        return self.sessionmaker()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any error. On SQLite, a
        write lock not obtained within the busy timeout raises DatabaseBusyError (nothing was written)."""
        try:
            async with self.sessionmaker.begin() as session:
                yield session
        except OperationalError as exc:
            if self.is_sqlite and "database is locked" in str(exc.orig):
                raise DatabaseBusyError("the database is busy: try again") from exc
            raise

    async def ping(self) -> bool:
        """True when a trivial query succeeds."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("database ping failed for %s: %s", redact_url(self.url), type(exc).__name__)
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()
