"""`router serve`: migrate, then run the HTTP service under uvicorn."""

from __future__ import annotations

import logging
import math
import os

import click

from router.cli.common import cli_errors, load_settings, run
from router.observability.logging import configure_logging
from router.store.crypto import resolve_secret_key
from router.store.db import redact_url
from router.store.migrate import upgrade_to_head

log = logging.getLogger("router.cli")


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: ROUTER_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: ROUTER_PORT, 8082).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (default: 1).")
@cli_errors
def serve_command(host: str | None, port: int | None, workers: int | None) -> None:
    """Apply pending migrations and serve /v1/messages and the admin page."""
    settings = load_settings()
    configure_logging(settings.log_level)
    # Before anything listens: a PostgreSQL deployment without ROUTER_SECRET_KEY stops here, with one line.
    resolve_secret_key(settings)
    run(upgrade_to_head(settings.database_url))
    log.info("database %s is at the head revision", redact_url(settings.database_url))

    import uvicorn

    # The app factory (run in each worker) reads Settings from the environment: hand it the CLI's choices.
    if host:
        os.environ["ROUTER_HOST"] = host
    if port is not None:
        os.environ["ROUTER_PORT"] = str(port)
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
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds),
    )
