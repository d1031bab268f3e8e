"""What handlers get by Litestar's dependency injection: the shared services by name, and database sessions.

A handler names what it needs as a parameter (`gateway: MessagesGateway`, `db_session: DbSession`,
`snapshots: SnapshotSource`, `store: StoreAccess` for the admin pages and the API, `cipher`, ...) and
`create_app()` registers these providers once, app-wide, so tests get them the same way. Nothing here
reads `app.state`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import TypeVar

from litestar.di import Provide

from router.gateway.health import Readiness
from router.gateway.messages import MessagesGateway
from router.lifecycle import Drain
from router.routing.model import SnapshotSource
from router.settings import Settings
from router.store.access import StoreAccess
from router.store.crypto import CredentialCipher
from router.store.db import Database, DbSession

T = TypeVar("T")


def _value(value: T) -> Callable[[], T]:
    def provide() -> T:
        return value

    return provide


def app_dependencies(
    *,
    settings: Settings,
    db: Database,
    snapshots: SnapshotSource,
    gateway: MessagesGateway,
    drain: Drain,
    readiness: Readiness,
    store: StoreAccess,
    cipher: CredentialCipher,
) -> dict[str, Provide]:
    """One instance of each service per process, and a read-only database session for each request whose
    handler asks for one (closed, and so rolled back, when the handler returns)."""

    async def db_session() -> AsyncGenerator[DbSession, None]:
        async with db.session() as session:
            yield session

    return {
        "settings": Provide(_value(settings), use_cache=True, sync_to_thread=False),
        "db": Provide(_value(db), use_cache=True, sync_to_thread=False),
        "snapshots": Provide(_value(snapshots), use_cache=True, sync_to_thread=False),
        "gateway": Provide(_value(gateway), use_cache=True, sync_to_thread=False),
        "drain": Provide(_value(drain), use_cache=True, sync_to_thread=False),
        "readiness": Provide(_value(readiness), use_cache=True, sync_to_thread=False),
        "store": Provide(_value(store), use_cache=True, sync_to_thread=False),
        "cipher": Provide(_value(cipher), use_cache=True, sync_to_thread=False),
        "db_session": Provide(db_session),
    }
