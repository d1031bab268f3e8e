"""`router serve`: migrate (unless told not to), then run the HTTP service under uvicorn."""

from __future__ import annotations

import logging
import math
import os

import click

from router.cli.common import cli_errors, load_full_settings, run
from router.observability.logging import configure_logging, use_json
from router.settings import Settings
from router.store.crypto import resolve_secret_key
from router.store.db import redact_url

log = logging.getLogger("router.cli")


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: ROUTER_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: ROUTER_PORT, 8082).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: 1).")
@click.option(
    "--no-migrate",
    is_flag=True,
    help="Do not apply migrations (ROUTER_MIGRATE_ON_START=false): a job runs `router db upgrade` first; "
    "until the schema is current /readyz answers 503.",
)
@cli_errors
def serve_command(host: str | None, port: int | None, workers: int | None, no_migrate: bool) -> None:
    """Apply pending migrations and serve /v1/messages and the admin page."""
    settings = load_full_settings()
    configure_logging(settings.log_level, json=use_json(settings.log_format))
    # Before anything listens: a PostgreSQL deployment without ROUTER_SECRET_KEY stops here, with one line.
    resolve_secret_key(settings)
    if settings.migrate_on_start and not no_migrate:
        _migrate(settings)
    else:
        _check_schema(settings)

    import uvicorn  # only now: `router serve --help` stays quick

    # The app factory (run in each worker) reads Settings from the environment: hand it the CLI's choices.
    if host:
        os.environ["ROUTER_HOST"] = host
    if port is not None:
        os.environ["ROUTER_PORT"] = str(port)
    if workers is not None:
        # Each worker's limiter counts apart without Redis and keeps to its share of every limit.
        os.environ["ROUTER_WORKERS"] = str(workers)
    uvicorn.run(
        "router.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port if port is not None else settings.port,
        workers=workers if workers is not None else settings.workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # Our JSON log handler on the root logger formats uvicorn's lines too; per-request access lines
        # are left to usage records and /metrics (they cost time on every request).
        log_config=None,
        access_log=False,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds),
    )


def _migrate(settings: Settings) -> None:
    from router.store.migrate import upgrade_to_head

    where = redact_url(settings.database_url)
    path = settings.sqlite_path
    if path is not None and not path.exists():
        log.info("creating a new SQLite database at %s", path.resolve())
    before, after = run(upgrade_to_head(settings.database_url))
    if before == after:
        log.info("database %s is at the head revision %s", where, after)
    else:
        log.info("database %s migrated from %s to %s (head)", where, before or "an empty schema", after)


def _check_schema(settings: Settings) -> None:
    """Without migrating: say how the schema stands (the replica serves, but is not ready while behind)."""
    from router.store.migrate import current, head_revision, schema_state

    where = redact_url(settings.database_url)
    try:
        revision = run(current(settings.database_url))
    except Exception as exc:  # a database down at start: /readyz reports it, the poller keeps trying
        log.warning("cannot read the schema revision of %s yet: %s", where, type(exc).__name__)
        return
    state = schema_state(revision)
    if state == "behind":
        log.warning(
            "database %s is at revision %s, behind %s: not ready until `router db upgrade` runs",
            where,
            revision or "none (empty)",
            head_revision(),
        )
    elif state == "ahead":
        log.warning(
            "database %s is at revision %s, newer than this release's %s", where, revision, head_revision()
        )
    else:
        log.info("database %s is at the head revision %s", where, revision)
