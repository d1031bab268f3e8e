"""PostgreSQL's monthly partitions of usage_records: naming, creating ahead, and dropping whole old months.

On PostgreSQL `usage_records` is a table partitioned by RANGE (created_at) (migration 0010): one partition per
UTC month, `usage_records_pYYYY_MM`, plus `usage_records_default` as a safety net for a row whose month has no
partition yet (a clock far off, a spool replayed long after). The primary key is (id, created_at), since a
partitioned table's unique keys must hold the partition key; nothing references usage_records.id, and the
spool's replay stays exactly-once through its own look-up by request id within a time range
(store/usage_writes.py: existing_request_ids), which the partitions prune.

The service keeps the current month and the next `ahead` months created (at start and then hourly), and with
a retention drops every partition whose whole month lies before the cutoff (rollups are kept). SQLite keeps
one table; nothing here runs there.

Alembic: usage_models.py describes the parent only. `include_name` hides the partitions from autogenerate
and `alembic check`, so that they never show up as tables to drop.

Every statement here is DDL with names and bounds we generate from datetimes (never from input).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

PARENT = "usage_records"
DEFAULT_PARTITION = "usage_records_default"
_MONTHLY = re.compile(r"^usage_records_p(\d{4})_(\d{2})$")
# Months created ahead of the current one: a month of slack for a service that is down over a month end.
DEFAULT_AHEAD = 2
# DDL on the parent waits at most this long for its lock, then gives up until the next round: a long report
# holding the table must not queue every writer behind our ACCESS EXCLUSIVE request.
LOCK_TIMEOUT = "3s"
# Replicas starting together take turns (pg_advisory_xact_lock); "usgpart" in ASCII.
PARTITION_LOCK_KEY = 0x75736770617274


def is_partition_name(name: str | None) -> bool:
    """True for the partitions' table names (hidden from Alembic; usage_models.py knows only the parent)."""
    return name is not None and (name == DEFAULT_PARTITION or _MONTHLY.match(name) is not None)


def include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
    """Alembic's `include_name` hook: reflect every table but the usage partitions."""
    return not (type_ == "table" and is_partition_name(name))


def month_start(value: datetime) -> datetime:
    value = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def partition_name(start: datetime) -> str:
    return f"{PARENT}_p{start.year:04d}_{start.month:02d}"


def _bound(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S+00")


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    start: datetime  # inclusive
    end: datetime  # exclusive


def monthly_partitions(connection: Connection) -> list[Partition]:
    """The parent's monthly partitions, oldest first (names tell their month; the bounds are that month)."""
    rows = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:parent)"
        ),
        {"parent": PARENT},
    ).scalars()
    found: list[Partition] = []
    for name in rows:
        match = _MONTHLY.match(name)
        if match is not None:
            start = datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)
            found.append(Partition(name, start, add_months(start, 1)))
    return sorted(found, key=lambda p: p.start)


def is_partitioned(connection: Connection) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    kind = connection.execute(
        text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:parent)"), {"parent": PARENT}
    ).scalar()
    return kind == "p"


def _lock(connection: Connection) -> None:
    connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PARTITION_LOCK_KEY})


def create_partition(connection: Connection, start: datetime) -> bool:
    """Create the partition of the month starting at `start` (in the caller's transaction) unless it exists;
    rows of that month already in the default partition move into it. True when created."""
    start = month_start(start)
    name = partition_name(start)
    if any(p.name == name for p in monthly_partitions(connection)):
        return False
    end = add_months(start, 1)
    bounds = f"FROM ('{_bound(start)}') TO ('{_bound(end)}')"
    has_default = connection.execute(text("SELECT to_regclass(:name)"), {"name": DEFAULT_PARTITION}).scalar()
    stray = False
    if has_default is not None:
        stray = bool(
            connection.execute(
                text(
                    f"SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} "
                    f"WHERE created_at >= '{_bound(start)}' AND created_at < '{_bound(end)}')"
                )
            ).scalar()
        )
    if not stray:
        connection.execute(
            text(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} FOR VALUES {bounds}")
        )
        return True
    # PostgreSQL refuses a new partition while the default holds rows of its range: take the default out,
    # add the month, move its rows over, and put the default back (it is checked again as it is attached).
    log.warning("usage rows of %s found in %s: moving them into the new partition", name, DEFAULT_PARTITION)
    connection.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {DEFAULT_PARTITION}"))
    connection.execute(text(f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES {bounds}"))
    connection.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE created_at >= '{_bound(start)}' "
            f"AND created_at < '{_bound(end)}' RETURNING *) INSERT INTO {PARENT} SELECT * FROM moved"
        )
    )
    connection.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {DEFAULT_PARTITION} DEFAULT"))
    return True


def create_default_partition(connection: Connection) -> None:
    connection.execute(text(f"CREATE TABLE IF NOT EXISTS {DEFAULT_PARTITION} PARTITION OF {PARENT} DEFAULT"))


def ensure_partitions(connection: Connection, now: datetime, ahead: int = DEFAULT_AHEAD) -> list[str]:
    """The current month's and the next `ahead` months' partitions, and the default one; the names created.
    In the caller's transaction, under the partition lock (replicas take turns)."""
    if not is_partitioned(connection):
        return []
    _lock(connection)
    created: list[str] = []
    first = month_start(now)
    for offset in range(ahead + 1):
        start = add_months(first, offset)
        if create_partition(connection, start):
            created.append(partition_name(start))
    create_default_partition(connection)
    return created


def drop_partitions_before(connection: Connection, cutoff: datetime) -> tuple[list[str], int]:
    """Drop every monthly partition whose whole month ends at or before `cutoff` (the month holding the
    cutoff stays whole), and delete the default partition's rows older than `cutoff`. The names dropped and
    the number of rows removed (counted before the drop: once a month per month, for the log and the CLI)."""
    if not is_partitioned(connection):
        return [], 0
    _lock(connection)
    dropped: list[str] = []
    rows = 0
    for partition in monthly_partitions(connection):
        if partition.end <= cutoff:
            rows += int(connection.execute(text(f"SELECT count(*) FROM {partition.name}")).scalar() or 0)
            # Detached first, then dropped: the parent is locked only for the (instant) detach.
            connection.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {partition.name}"))
            connection.execute(text(f"DROP TABLE {partition.name}"))
            dropped.append(partition.name)
    if (
        connection.execute(text("SELECT to_regclass(:name)"), {"name": DEFAULT_PARTITION}).scalar()
        is not None
    ):
        result = connection.execute(
            text(f"DELETE FROM {DEFAULT_PARTITION} WHERE created_at < :cutoff"), {"cutoff": cutoff}
        )
        rows += int(getattr(result, "rowcount", 0) or 0)
    return dropped, rows


def is_lock_timeout(exc: BaseException) -> bool:
    """True for PostgreSQL's lock_timeout (55P03): the DDL gave way to a long reader; retry later."""
    if not isinstance(exc, DBAPIError):
        return False
    return "55P03" in str(getattr(exc.orig, "sqlstate", "")) or "lock timeout" in str(exc).lower()
