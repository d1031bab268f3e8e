"""Alembic environment, async.

URL, first found: a connection handed in by router/store/migrate.py (config.attributes["connection"]),
`-x url=...`, config.attributes["url"], `sqlalchemy.url` in alembic.ini, then Settings.database_url.
SQLite gets batch mode (ALTER TABLE by copy); every backend compares column types. PostgreSQL's usage
partitions are not in models.py: `include_name` keeps autogenerate and `alembic check` off them.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from router.settings import Settings
from router.store.db import create_engine_for
from router.store.partitions import include_name
from router.store.tables import metadata

config = context.config
target_metadata = metadata


def database_url() -> str:
    x_url = context.get_x_argument(as_dictionary=True).get("url")
    if x_url:
        return str(x_url)
    attr_url = config.attributes.get("url")
    if attr_url:
        return str(attr_url)
    ini_url = config.get_main_option("sqlalchemy.url")
    if ini_url:
        return ini_url
    return Settings().database_url


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_engine_for(database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # Called from code (router/store/migrate.py): the caller's logging stays as it is.
        do_run_migrations(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
