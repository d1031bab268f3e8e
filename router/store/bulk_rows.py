"""Many rows into one table in one statement: the usage writer's raw rows and rollup upserts.

PostgreSQL gets asyncpg's binary COPY for plain inserts (the raw rows), and for upserts one `INSERT … SELECT
* FROM unnest($1::t1[], $2::t2[], …) ON CONFLICT …` per batch, a column per array: one prepared statement
(cached by asyncpg) whatever the batch size, planned and executed once, where an executemany runs the
executor once per row. SQLite gets the driver's executemany of one `INSERT … VALUES
(?, …)` (sqlite3 loops in C). Both bypass SQLAlchemy's per-row parameter building (bench/usage_write.py
measured it as much of the writer's CPU as the database's work); the columns' own bind processors (the JSON
column's serializer, SQLite's datetime text, the boolean check) still apply, once per value, so the stored
values are what an ORM insert stores.

With `conflict`, each row adds its `add` columns to an existing row with the same conflict key (the
rollups' `ON CONFLICT (hour, dims) DO UPDATE SET requests = usage_hourly.requests + excluded.requests, …`).
The rows must then be unique on the key (PostgreSQL refuses to update a row twice in one statement), and
should come sorted by it, so that concurrent writers lock rows in one order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, String, Table, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

Processor = Callable[[Any], Any]


async def insert_rows(
    session: AsyncSession,
    table: Table,
    names: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: tuple[str, ...] = (),
    add: tuple[str, ...] = (),
    encoded: tuple[str, ...] = (),
) -> None:
    """Insert `rows` (tuples in `names` order) into `table` in the session's transaction; with `conflict`,
    add the `add` columns into the row already there instead. The `encoded` columns' values are already
    what their bind processor would make of them (the usage rows' attempts: JSON text, store/json_text.py)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    processors = _processors(dialect, table, names, encoded)
    booleans = _native_booleans(dialect, table, names)
    if dialect.name == "postgresql" and dialect.driver == "asyncpg" and not conflict:
        await _copy(session, table, names, _processed(rows, processors, booleans))
        return
    if dialect.name == "postgresql":
        columns = list(zip(*rows, strict=True))
        params = {
            f"c{i}": [process(v) for v in column] if process is not None else list(column)
            for i, (process, column) in enumerate(zip(processors, columns, strict=True))
        }
        await session.execute(_unnest_statement(table, names, conflict, add), params)
        return
    connection = await session.connection()
    await connection.exec_driver_sql(
        _values_statement(table, names, conflict, add), _processed(rows, processors, booleans)
    )


def _processed(
    rows: Sequence[Sequence[Any]], processors: tuple[Processor | None, ...], booleans: frozenset[int]
) -> list[Any]:
    # Only the columns that have a processor are touched, a column at a time (the rows turned into columns
    # and back in C, where a row at a time cost a list and a tuple per row). A `booleans` column holding
    # only True, False and None is left as it is: its processor would return each value unchanged.
    active = [(i, process) for i, process in enumerate(processors) if process is not None]
    if not active:
        return list(rows)
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    changed = False
    for i, process in active:
        if i in booleans and set(map(type, columns[i])) <= _BOOLEAN_TYPES:
            continue
        columns[i] = list(map(process, columns[i]))
        changed = True
    return list(zip(*columns, strict=True)) if changed else list(rows)


_BOOLEAN_TYPES = frozenset({bool, type(None)})


@cache
def _native_booleans(dialect: Dialect, table: Table, names: tuple[str, ...]) -> frozenset[int]:
    """The Boolean columns whose processor returns True, False and None unchanged (it refuses anything
    else, and turns them into 1 and 0 only where the database has no boolean type: SQLite)."""
    if not dialect.supports_native_boolean:
        return frozenset()
    return frozenset(i for i, name in enumerate(names) if isinstance(table.c[name].type, Boolean))


async def _copy(session: AsyncSession, table: Table, names: tuple[str, ...], rows: list[Any]) -> None:
    """asyncpg's binary COPY into the table, in the session's transaction. A refusal of the data (SQLSTATE
    classes 22 and 23) is raised as SQLAlchemy's DataError / IntegrityError, as an INSERT's would be; a
    broken connection as asyncpg raises it (store/usage_writes.py: is_connection_write_error knows both)."""
    import asyncpg  # this dialect's driver, installed with it

    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens the transaction at its first statement: a COPY sent before
        # one would commit on its own.
        await connection.exec_driver_sql("SELECT 1")
    try:
        await driver.copy_records_to_table(table.name, records=rows, columns=names)
    except asyncpg.PostgresError as exc:
        sqlstate = str(getattr(exc, "sqlstate", "") or "")
        statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN (FORMAT binary)"
        if sqlstate.startswith("22"):
            raise DataError(statement, None, exc) from exc
        if sqlstate.startswith("23"):
            raise IntegrityError(statement, None, exc) from exc
        raise


@cache
def _processors(
    dialect: Dialect, table: Table, names: tuple[str, ...], encoded: tuple[str, ...] = ()
) -> tuple[Processor | None, ...]:
    return tuple(
        None if name in encoded else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in names
    )


def _on_conflict(table: Table, conflict: tuple[str, ...], add: tuple[str, ...]) -> str:
    if not conflict:
        return ""
    sums = ", ".join(f"{name} = {table.name}.{name} + excluded.{name}" for name in add)
    return f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {sums}"


@cache
def _unnest_statement(
    table: Table, names: tuple[str, ...], conflict: tuple[str, ...], add: tuple[str, ...]
) -> TextClause:
    arrays = ", ".join(f"CAST(:c{i} AS {_pg_array_type(table, name)}[])" for i, name in enumerate(names))
    return text(
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        + _on_conflict(table, conflict, add)
    )


@cache
def _values_statement(
    table: Table, names: tuple[str, ...], conflict: tuple[str, ...], add: tuple[str, ...]
) -> str:
    marks = ", ".join("?" for _ in names)
    insert = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"
    return insert + _on_conflict(table, conflict, add)


def _pg_array_type(table: Table, name: str) -> str:
    # The element types without a length: a value too long is refused by the column, as an INSERT …
    # VALUES would refuse it, not cut by the cast (CAST('…' AS varchar(64)) truncates silently).
    kind = table.c[name].type
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, String):
        return "text"
    if isinstance(kind, DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Float):
        return "float8"
    if isinstance(kind, BigInteger):
        return "bigint"
    if isinstance(kind, Integer):
        return "integer"
    raise TypeError(f"no array type for {table.name}.{name} ({kind!r})")
