"""Usage rows as the store writes them: the row type, the recorder's batched INSERTs and the keys'
last-used times.

`UsageEvent` is one usage record as plain data. The store owns it because its fields are exactly the
`usage_records` columns (see models.py: UsageRecord) minus the row id, so a batch inserts without mapping
logic; the usage part builds these (usage/accounting.py) and queues them (usage/recorder.py).
Datetimes are UTC (naive ones are taken as UTC): SQLite stores wall-clock strings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.bulk_rows import insert_rows
from router.store.json_text import dumps as json_dumps
from router.store.models import ApiKey
from router.store.usage_bounds import (
    COUNT_FIELDS,
    MAX_ATTEMPTS,
    MAX_COUNT,
    STATUS_RANGE,
    TEXT_LIMITS,
    as_int,
    attempt_fits,
    bound_attempt,
    bound_count,
    bound_text,
    texts_fit,
)
from router.store.usage_models import UsageRecord
from router.store.usage_rollups import add_to_rollups

# asyncpg allows 32767 bind parameters per statement, SQLite 32766: keep a multi-VALUES insert below both.
_MAX_PARAMS = 30_000

USAGE_TABLE = cast(Table, UsageRecord.__table__)
KEYS_TABLE = cast(Table, ApiKey.__table__)


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(slots=True)
class UsageEvent:
    created_at: datetime
    request_id: str
    tenant_id: int | None = None
    key_id: int | None = None
    key_prefix: str | None = None
    member: str | None = None
    requested_model: str = ""
    # The target that answered (None when none did), e.g. "openai/gpt-4.1".
    target: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    # [{"target", "status", "error_type", "latency_ms"}] in the order tried
    attempts: list[dict[str, Any]] = field(default_factory=list)
    stream: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    tokens_estimated: bool = False
    cost_usd: float = 0.0
    latency_ms: int = 0
    ttft_ms: int | None = None
    status: int = 200
    error_type: str | None = None
    # "ok", "error", "client_cancelled" or "rejected" (plain str, like the column)
    outcome: str = "ok"

    def as_row(self) -> dict[str, Any]:
        """The column -> value mapping for one insert row (shallow: no deep copy on the hot path)."""
        return {name: getattr(self, name) for name in EVENT_FIELDS}

    def bounded(self) -> UsageEvent:
        """This event with every value inside its column: text without NUL, controls or lone surrogates
        and cut to width, counts clamped to 0..2^63-1, at most MAX_ATTEMPTS attempts. In place (the event
        is the caller's to hand off); returns self.

        On the request path for every record: values already inside their columns (nearly all) are only
        checked, at ~2.5 µs a record (loaded machine; 3.5-4 µs before): texts by type and width, then one
        `isprintable()` over all of them (printable text holds none of the unstorable characters; the
        pattern runs only on text that is not), counts and the cost by comparison, plain attempts without
        isinstance(). Anything else is bounded in full."""
        if not texts_fit(_text_values(self)):
            self._bound_texts()
        for value in _count_values(self):
            if type(value) is not int or not 0 <= value <= MAX_COUNT:
                self._bound_counts()
                break
        ttft = self.ttft_ms
        if ttft is not None and (type(ttft) is not int or not 0 <= ttft <= MAX_COUNT):
            self.ttft_ms = bound_count(ttft)
        status = self.status
        if type(status) is not int or not STATUS_RANGE[0] <= status <= STATUS_RANGE[1]:
            self.status = min(max(as_int(status), STATUS_RANGE[0]), STATUS_RANGE[1])
        cost = self.cost_usd
        # A finite, non-negative float is checked by one comparison.
        if (type(cost) is not float or not 0.0 <= cost < math.inf) and (
            not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0
        ):
            self.cost_usd = 0.0
        attempts = self.attempts
        if len(attempts) > MAX_ATTEMPTS or not all(map(attempt_fits, attempts)):
            self.attempts = [bound_attempt(a) for a in attempts[:MAX_ATTEMPTS]]
        return self

    def _bound_texts(self) -> None:
        for name, limit in TEXT_LIMITS.items():
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, bound_text(value, limit))

    def _bound_counts(self) -> None:
        for name, value in zip(COUNT_FIELDS, _count_values(self), strict=True):
            if type(value) is not int or not 0 <= value <= MAX_COUNT:
                setattr(self, name, bound_count(value))

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens


EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(UsageEvent))
_text_values = attrgetter(*TEXT_LIMITS)
_count_values = attrgetter(*COUNT_FIELDS)
assert EVENT_FIELDS[0] == "created_at"
# The fields between created_at (the first) and attempts, and after attempts: one C-level call each per row.
_ATTEMPTS_AT = EVENT_FIELDS.index("attempts")
_before_attempts = attrgetter(*EVENT_FIELDS[1:_ATTEMPTS_AT])
_after_attempts = attrgetter(*EVENT_FIELDS[_ATTEMPTS_AT + 1 :])


async def insert_usage_batch(
    session: AsyncSession, events: Sequence[UsageEvent], *, multi_values: bool = False
) -> None:
    """Insert the events in one set-based statement (store/bulk_rows.py: PostgreSQL `INSERT … SELECT FROM
    unnest(…)`, SQLite the driver's executemany), and add them to their hours' and days' rollups
    (store/usage_rollups.py) in the same transaction, so the two never disagree (the caller commits).

    The other form, one `INSERT … VALUES (…), (…), …` (`multi_values=True`), must compile a new statement
    per batch size; bench/usage_write.py measured it 10-20x slower, so it is kept only for comparison.
    """
    if not events:
        return
    if not multi_values:
        # The attempts go as JSON text already (the engine's serializer, store/db.py: the same text).
        rows = [
            (utc(e.created_at), *_before_attempts(e), json_dumps(e.attempts), *_after_attempts(e))
            for e in events
        ]
        await insert_rows(session, USAGE_TABLE, EVENT_FIELDS, rows, encoded=("attempts",))
    else:
        mappings = [_row(event) for event in events]
        per_statement = max(1, _MAX_PARAMS // len(EVENT_FIELDS))
        for start in range(0, len(mappings), per_statement):
            await session.execute(insert(USAGE_TABLE).values(mappings[start : start + per_statement]))
    await add_to_rollups(session, events)


def _row(event: UsageEvent) -> dict[str, Any]:
    row = event.as_row()
    row["created_at"] = utc(event.created_at)
    return row


async def touch_keys_last_used(session: AsyncSession, events: Sequence[UsageEvent]) -> None:
    """Move api_keys.last_used_at forward to the latest request time per key in the batch, in one statement
    (PostgreSQL: an UPDATE joined to unnest; SQLite: the driver's executemany), in key order so that
    concurrent writers lock the keys in one order. Never backwards: a replayed old record leaves it."""
    latest = _latest_per_key(events)
    if not latest:
        return
    ids = sorted(latest)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_TOUCH_PG, {"ids": ids, "times": [latest[i] for i in ids]})
        return
    stamp = _sqlite_datetime(session)
    times = [stamp(latest[i]) for i in ids]
    connection = await session.connection()
    await connection.exec_driver_sql(_TOUCH_SQLITE, [(t, i, t) for i, t in zip(ids, times, strict=True)])


def _latest_per_key(events: Sequence[UsageEvent]) -> dict[int, datetime]:
    """The latest request time (UTC) per key. Times are compared as they are (aware ones compare by the
    instant they name) and only each key's latest is turned to UTC; a batch mixing naive and aware times
    (naive ones are UTC), which cannot be compared so, is turned to UTC first."""
    keys, times = list(map(_key_id, events)), list(map(_created_at, events))
    try:
        latest = _latest(zip(keys, times, strict=True))
    except TypeError:  # naive and aware together
        latest = _latest(zip(keys, map(utc, times), strict=True))
    return {key_id: utc(when) for key_id, when in latest.items()}


def _latest(pairs: Iterable[tuple[int | None, datetime]]) -> dict[int, datetime]:
    latest: dict[int, datetime] = {}
    for key_id, when in pairs:
        if key_id is not None:
            current = latest.get(key_id)
            if current is None or when > current:
                latest[key_id] = when
    return latest


_key_id = attrgetter("key_id")
_created_at = attrgetter("created_at")

_TOUCH_PG = text(
    "UPDATE api_keys SET last_used_at = v.t"
    " FROM unnest(CAST(:ids AS integer[]), CAST(:times AS timestamptz[])) AS v(id, t)"
    " WHERE api_keys.id = v.id AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < v.t)"
)
_TOUCH_SQLITE = (
    "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)"
)


def _sqlite_datetime(session: AsyncSession) -> Callable[[datetime], str]:
    """The text SQLite stores for last_used_at (the column type's own bind processor)."""
    dialect = session.get_bind().dialect
    process = KEYS_TABLE.c.last_used_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    return cast(Callable[[datetime], str], process)


async def write_usage_batch(session: AsyncSession, events: Sequence[UsageEvent]) -> None:
    """The recorder's unit of work: the rows and the keys' last-used times (the caller commits)."""
    await insert_usage_batch(session, events)
    await touch_keys_last_used(session, events)


async def write_usage_batch_again(session: AsyncSession, events: Sequence[UsageEvent]) -> None:
    """`write_usage_batch` for a batch whose earlier attempt failed: that attempt may have committed and
    lost only its acknowledgement (the connection cut during COMMIT, a timeout around it), so the events
    already stored, by request id, are left out (the caller commits)."""
    if not events:
        return
    since = min(utc(e.created_at) for e in events) - timedelta(seconds=1)
    until = max(utc(e.created_at) for e in events) + timedelta(seconds=1)
    stored = await existing_request_ids(session, since, until, [e.request_id for e in events])
    await write_usage_batch(session, [e for e in events if e.request_id not in stored])


def is_permanent_write_error(exc: BaseException) -> bool:
    """True when retrying the same rows cannot help (bad data), as opposed to a database that is away."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    # A StatementError that is not a DBAPIError failed while binding parameters: the data, not the server.
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


# SQLSTATE classes that mean the connection, not the rows: 08 connection exception, 57 operator intervention
# (57P01 admin shutdown: a restart or pg_terminate_backend; 57P03 cannot connect now: still starting).
_CONNECTION_SQLSTATE_CLASSES = ("08", "57")
# asyncpg's client-side errors of a connection left broken mid-operation ("cannot switch to state 15").
_BROKEN_CONNECTION_ERRORS = frozenset({"InternalClientError", "ProtocolError", "ConnectionDoesNotExistError"})


def is_connection_write_error(exc: BaseException) -> bool:
    """True when a write failed because its connection broke (a restart, a killed backend, a cut network),
    whatever the driver called it: the rows are not at fault and must be retried, even when the database
    answers a probe on a new connection the next moment."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError | TimeoutError):
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in _CONNECTION_SQLSTATE_CLASSES:
            return True
        names = {cls.__name__ for cls in type(current).__mro__ if cls.__module__.startswith("asyncpg")}
        if names & _BROKEN_CONNECTION_ERRORS:
            return True
        orig = getattr(current, "orig", None)
        pending += [orig if isinstance(orig, BaseException) else None, current.__cause__, current.__context__]
    return False


async def existing_request_ids(
    session: AsyncSession, since: datetime, until: datetime, request_ids: Sequence[str]
) -> set[str]:
    """Which of these request ids have a row created in [since, until] (the time index narrows the scan):
    the spool's replay inserts only the others."""
    found: set[str] = set()
    ids = list(request_ids)
    for start in range(0, len(ids), 1000):
        stmt = select(USAGE_TABLE.c.request_id).where(
            USAGE_TABLE.c.created_at >= utc(since),
            USAGE_TABLE.c.created_at <= utc(until),
            USAGE_TABLE.c.request_id.in_(ids[start : start + 1000]),
        )
        found.update((await session.scalars(stmt)).all())
    return found
