"""The one place the service is assembled: `create_app()` builds the Litestar app that uvicorn and tests run.

Handlers get the shared services by dependency injection (router/dependencies.py); `app.state` still
carries them for the admin's helpers and the middleware (settings, db, cipher, snapshots, hub, gateway...);
start-up and shutdown order matters and is spelled out in `Services.start` / `Services.stop`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from router.dependencies import app_dependencies
from router.gateway.auth import KeyGuard
from router.gateway.controller import MessagesController, oauth_usage, probe_root, root
from router.gateway.cooldown import Cooldowns
from router.gateway.errors import CONVERTED, handle_error, handle_http_exception, handle_unexpected
from router.gateway.health import healthz, prometheus_metrics, readyz
from router.gateway.messages import MessagesGateway
from router.gateway.openapi import add_wire_schemas
from router.gateway.pools import PoolBalancer
from router.gateway.telemetry import TelemetryRelay
from router.identity.device import DeviceSignIn
from router.identity.login import OidcLogins
from router.identity.members import MemberTokens
from router.identity.oidc import OidcClient
from router.identity.tokens import TokenSigner
from router.late_routes import LateRoutes, RouterApp
from router.lifecycle import DatabaseOutageGrace, Drain
from router.observability.access import access_log_middleware
from router.observability.logging import configure_logging, use_json
from router.observability.tracing import Tracing
from router.providers.hub import ProviderHub
from router.routing.model import KeySpec
from router.settings import Settings, get_settings
from router.store.access import StoreAccess
from router.store.crypto import CredentialCipher, resolve_secret_key
from router.store.db import Database
from router.store.keys import find_keys_by_hashes
from router.store.legacy_env import import_legacy_env
from router.store.snapshot import ModelFacts, SnapshotHolder
from router.store.usage_writes import UsageEvent, existing_request_ids, write_usage_batch
from router.usage.accounting import Accounting
from router.usage.limits import Limiter
from router.usage.quotas import member_quotas
from router.usage.recorder import UsageRecorder
from router.usage.retention import RawUsagePruner
from router.usage.spool import UsageSpool
from router.usage.spool import replay as replay_spool

if TYPE_CHECKING:
    from router.alerts.service import AlertService
    from router.surfaces import Surfaces

log = logging.getLogger("router")


# Seconds start-up (and /readyz) wait for the database before going on without it.
STARTUP_DATABASE_WAIT = 3.0


async def _bounded(step: Awaitable[None], seconds: float, what: str) -> None:
    try:
        await asyncio.wait_for(step, timeout=seconds)
    except TimeoutError:
        log.warning("%s did not finish within %.0fs (database unreachable?); continuing", what, seconds)


@dataclass
class Services:
    """Everything a process shares between requests."""

    settings: Settings
    db: Database
    cipher: CredentialCipher
    hub: ProviderHub
    snapshots: SnapshotHolder
    recorder: UsageRecorder
    limiter: Limiter
    gateway: MessagesGateway
    drain: Drain
    database_grace: DatabaseOutageGrace
    # Signed-in members' minted tokens and what the request path knows about them (identity/members.py).
    members: MemberTokens | None = None
    tracing: Tracing | None = None
    retention: RawUsagePruner | None = None
    alerts: AlertService | None = None
    # The admin page, management API, /me and sign-in routes, registered after start-up (late_routes.py).
    late_routes: LateRoutes | None = None
    _started: list[str] = field(default_factory=list)
    _side_tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        db = Database(settings.database_url)
        cipher = CredentialCipher(settings.secret_key or "")
        hub = ProviderHub(settings)

        def describe_model(kind: str, model: str) -> ModelFacts:
            facts = hub.describe_model(kind, model)
            return ModelFacts(facts.max_input_tokens, facts.max_output_tokens, facts.price)

        snapshots = SnapshotHolder(db, cipher, describe_model, poll_interval=settings.config_poll_interval)
        recorder = UsageRecorder(
            db,
            queue_size=settings.usage_queue_size,
            batch_size=settings.usage_batch_size,
            flush_interval=settings.usage_flush_interval,
            spool=(
                UsageSpool(Path(settings.usage_spool_dir), sync_interval=settings.usage_spool_sync_interval)
                if settings.usage_spool_dir
                else None
            ),
        )
        limiter = Limiter(settings, db)
        members = MemberTokens(
            db,
            TokenSigner(settings.secret_key or "", settings.public_url or "router"),
            settings.signin_access_token_ttl,
        )
        # Revoked sign-ins and managed settings reload with every config version, like the routing snapshot.
        snapshots.on_change(lambda config: members.rebuild(config.version))

        async def lookup(digests: Sequence[str]) -> Mapping[str, KeySpec]:
            async with db.session() as session:
                return await find_keys_by_hashes(session, digests)

        tracing = (
            Tracing.create(
                settings.otel_exporter_otlp_endpoint,
                service_name=settings.otel_service_name,
                capture_content=settings.otel_capture_content,
            )
            if settings.otel_exporter_otlp_endpoint
            else None
        )
        cooldowns = Cooldowns(
            after_failures=settings.cooldown_after_failures, seconds=settings.cooldown_seconds
        )
        gateway = MessagesGateway(
            tracing=tracing,
            snapshots=snapshots,
            hub=hub,
            accounting=Accounting(recorder, limiter),
            limiter=limiter,
            keys=KeyGuard(lookup, members),
            cooldowns=cooldowns,
            pools=PoolBalancer(cooldowns, member_quotas(settings)),
            upstream_timeout=settings.upstream_timeout,
            first_byte_timeout=settings.upstream_first_byte_timeout,
            ping_interval=settings.stream_ping_interval,
        )
        drain = Drain(settings.shutdown_drain_seconds)
        return cls(
            settings,
            db,
            cipher,
            hub,
            snapshots,
            recorder,
            limiter,
            gateway,
            drain,
            DatabaseOutageGrace(settings.readiness_database_grace_seconds),
            members=members,
            tracing=tracing,
        )

    async def start(self) -> None:
        self.drain.install()
        # A database that is down, or silent (a black-holing firewall: each connect waits out its timeout),
        # must not keep the port closed: start-up waits a bounded time for it, then the snapshot poller and
        # the usage writer keep trying in the background and /readyz says "not ready".
        # The wait is one budget for all the steps, not one each: a silent database would otherwise hold
        # the port closed for a wait per step.
        steps: list[tuple[Callable[[], Awaitable[None]], str]] = [
            (self._first_run, "first-run checks"),
            (self.snapshots.start, "the first routing snapshot load"),
        ]
        if self.settings.usage_spool_dir:
            steps.append((self._replay_spool, "replaying the usage spool"))
        deadline = asyncio.get_running_loop().time() + STARTUP_DATABASE_WAIT
        for step, what in steps:
            # Each step still starts (the snapshot holder starts its poller before its first await).
            remaining = max(deadline - asyncio.get_running_loop().time(), 0.05)
            await _bounded(step(), remaining, what)
        await self.recorder.start()
        await self.limiter.start()
        if self.retention is None:
            self.retention = RawUsagePruner(
                self.db,
                self.settings.usage_retention_days,
                partitions_ahead=self.settings.usage_partitions_ahead,
            )
        self.retention.start()
        # LiteLLM loads in a background thread: the port opens without waiting for it. Started last: its
        # import is seconds of CPU under the same GIL, which would slow the steps above and so the port's
        # opening. Its ~270,000 objects are frozen out of the collector's way once it is in (then again,
        # as it is re-run).
        await self.hub.start(after_import=_tune_gc)
        _young_less_often()

    def start_alerts(self) -> None:
        """Evaluate alert rules and deliver their webhooks in the background. Built and started with the
        late routes (create_app), not before the first answer: their modules and first queries can wait."""
        if self.alerts is None:
            from router.alerts.delivery import WebhookSender
            from router.alerts.evaluator import AlertEvaluator
            from router.alerts.service import AlertService

            cooldowns = self.gateway.cooldowns
            self.alerts = AlertService(
                AlertEvaluator(self.db, attempt_counts=cooldowns.tally.counts, cooled=cooldowns.cooled),
                WebhookSender.from_settings(self.db, self.cipher, self.settings),
                interval=self.settings.alert_interval,
                budget_interval=self.settings.alert_budget_interval,
            )
        self.alerts.start()

    def spawn(self, work: Awaitable[None], name: str) -> None:
        """Run `work` in the background until it ends or the service stops."""
        task = asyncio.ensure_future(work)
        task.set_name(name)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _replay_spool(self) -> None:
        """Records a crashed process had made durable but not written: into the database, before serving."""

        async def existing(since: datetime, until: datetime, ids: Sequence[str]) -> set[str]:
            async with self.db.session() as session:
                return await existing_request_ids(session, since, until, ids)

        async def write(events: Sequence[UsageEvent]) -> None:
            async with self.db.transaction() as session:
                await write_usage_batch(session, events)

        try:
            inserted = await replay_spool(Path(self.settings.usage_spool_dir), existing, write)
        except Exception:  # the boundary of start-up: segments that failed stay for the next start
            log.exception("replaying the usage spool failed; its segments stay for the next start")
            return
        if inserted:
            log.warning("usage spool: %d records of a crashed process written", inserted)

    async def _first_run(self) -> None:
        try:
            async with self.db.transaction() as session:
                # The one sanctioned read of the environment outside Settings: claude-code-proxy's variables.
                for line in await import_legacy_env(session, os.environ, self.cipher):
                    log.info(line)
            # Whether an admin user exists yet is told with the admin page, once it is registered
            # (surfaces.announce_first_run).
        except Exception:  # the boundary of start-up: a database that is down is reported by /readyz
            log.exception("first-run checks failed; continuing")

    async def stop(self) -> None:
        grace = self.settings.shutdown_grace_seconds
        if self.late_routes is not None:
            await self.late_routes.cancel()
        for task in list(self._side_tasks):
            task.cancel()
        await asyncio.gather(*self._side_tasks, return_exceptions=True)
        await self.snapshots.stop()
        if self.retention is not None:
            await self.retention.stop()
        if self.alerts is not None:
            await self.alerts.stop()
        await self.recorder.stop(timeout=grace)
        await self.limiter.stop()
        await self.gateway.close()
        await self.hub.close()
        await self.db.dispose()
        if self.tracing is not None:
            await self.tracing.shutdown()

    async def readiness(self) -> tuple[bool, dict[str, bool]]:
        """Whether to take requests, and the checks behind it (a database outage is ridden out for a
        while: see DatabaseOutageGrace; the providers' libraries must be loaded for the configured
        targets)."""
        try:
            # A probe must answer within its own timeout even when the database stopped talking.
            database = await asyncio.wait_for(self.db.ping(), timeout=STARTUP_DATABASE_WAIT)
        except TimeoutError:
            database = False
        schema = False
        if database:
            try:
                # Alembic loads on the first probe, not at import (start-up stays quick).
                from router.store.migrate import migrations_current

                schema = await asyncio.wait_for(migrations_current(self.db), timeout=5)
            except Exception:  # the database stopped answering between the two: an outage, not a crash
                database = False
        snapshot = self.snapshots.current
        checks = {
            "database": database,
            "schema_current": schema,
            "snapshot": snapshot is not None,
            # LiteLLM loads in the background after start-up; traffic sent before would wait for it.
            "providers": snapshot is not None and self.hub.answers_at_once(snapshot.targets.values()),
            # Not before the whole service can answer: the routes registered after start-up are in.
            "routes": self.late_routes is None or (self.late_routes.done and not self.late_routes.failed),
        }
        ready = (
            checks["snapshot"]
            and checks["providers"]
            and checks["routes"]
            and self.database_grace.ready(reachable=database, schema_current=schema)
        )
        return ready, checks


def _tune_gc() -> None:
    """Move start-up objects out of the collector's way and collect young objects less often.

    Importing LiteLLM leaves ~270,000 tracked objects that every full collection walks again; under load
    that made single pauses of 300-500 ms and most of the p99. Measured in bench/README.md: frozen start-up
    objects and a larger first-generation threshold nearly halve CPU per Claude Code request. The
    threshold is set at start-up; the collection and freeze (~0.05 s) run once the late routes are in and
    again once LiteLLM's background import finished (from that thread: the calls are process-wide and safe
    there), not before the port opens.
    """
    gc.collect()
    gc.freeze()
    _young_less_often()


def _young_less_often() -> None:
    gc.set_threshold(20_000, 50, 100)


def _build_surfaces(
    settings: Settings, db: Database, oidc_logins: OidcLogins, device: DeviceSignIn
) -> Surfaces:
    """Import and build the late routes (in a worker thread: seconds of CPU the event loop need not wait)."""
    from router.surfaces import build_surfaces

    return build_surfaces(settings, db, oidc_logins, device)


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> Litestar:
    """The app; uvicorn calls it with no arguments in every worker. Tests pass their own settings and keep
    pytest's log capture (`configure_logs=False`).

    Built with /v1 and the probes only; the admin page, management API, /me and sign-in routes are
    registered once the server has started (router/late_routes.py says why), and requests for them that
    come earlier wait for them."""
    settings = settings or get_settings()
    if configure_logs:
        configure_logging(settings.log_level, json=use_json(settings.log_format))
    if not settings.secret_key:
        settings = settings.model_copy(update={"secret_key": resolve_secret_key(settings)})
    services = Services.build(settings)
    # The one OIDC client and redirect route; each sign-in flow registers its completion handler on it
    # (with the late routes: surfaces.build_surfaces).
    oidc_logins = OidcLogins(settings, services.db, OidcClient(settings))
    assert services.members is not None
    device = DeviceSignIn(settings, services.db, services.cipher, oidc_logins, services.members)
    telemetry = TelemetryRelay(settings)

    state = State(
        {
            "settings": settings,
            "services": services,
            "db": services.db,
            "cipher": services.cipher,
            "hub": services.hub,
            "snapshots": services.snapshots,
            "recorder": services.recorder,
            "limiter": services.limiter,
            "gateway": services.gateway,
            "cooldowns": services.gateway.cooldowns,
            "readiness": services.readiness,
            # Set with the admin page (late routes).
            "admin_sessions": None,
            "drain": services.drain,
            "oidc_logins": oidc_logins,
            "device_signin": device,
            "members": services.members,
            "telemetry": telemetry,
            # Set once the alert service is started, after the late routes (Services.start_alerts).
            "alerts": None,
        }
    )

    async def load_late_routes() -> None:
        surfaces = await asyncio.to_thread(_build_surfaces, settings, services.db, oidc_logins, device)
        app.template_engine = surfaces.template_engine
        state["admin_sessions"] = surfaces.sessions
        if surfaces.sessions is not None:
            # Sign-out, disable, delete, role and password changes bump the version: every replica forgets.
            services.snapshots.on_change(surfaces.sessions.clear)
        for handlers in surfaces.route_handlers:
            # On the event loop (registration changes the routing tree the loop reads), one at a time.
            app.register(handlers)
            await asyncio.sleep(0)
        # The OpenAPI document lists every route: built once they are all in (it only reads them).
        await asyncio.to_thread(add_wire_schemas, app)
        _tune_gc()

    late = LateRoutes(load_late_routes)
    services.late_routes = late

    async def after_late_routes() -> None:
        await late.wait()
        # Whether or not they came in (the alert service does not depend on its pages). Until it is set,
        # the alert pages find no service and send a test message with a sender of their own.
        services.start_alerts()
        state["alerts"] = services.alerts
        if not late.failed:
            from router.surfaces import announce_first_run  # imported by the load

            await announce_first_run(services.db, settings)

    async def begin_late_routes() -> None:
        late.begin()
        services.spawn(after_late_routes(), "after-late-routes")

    app = RouterApp(
        route_handlers=[
            MessagesController,
            oauth_usage,
            probe_root,
            root,
            healthz,
            readyz,
            prometheus_metrics,
        ],
        state=state,
        dependencies=app_dependencies(
            settings=settings,
            db=services.db,
            snapshots=services.snapshots,
            gateway=services.gateway,
            drain=services.drain,
            readiness=services.readiness,
            store=StoreAccess(services.db, services.snapshots),
            cipher=services.cipher,
        ),
        on_startup=[services.start, begin_late_routes],
        on_shutdown=[services.stop, telemetry.close],
        exception_handlers={
            **dict.fromkeys(CONVERTED, handle_error),
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        middleware=[
            access_log_middleware(log_bodies=settings.log_requests),
            # Inside the access log's middleware: the server span reads the same request's access note.
            *([services.tracing.middleware()] if services.tracing is not None else []),
        ],
        request_max_body_size=settings.max_request_bytes,
        compression_config=CompressionConfig(backend="gzip", minimum_size=4096, exclude=["/v1"]),
        openapi_config=OpenAPIConfig(
            title="router",
            version="0.1.0",
            path="/schema",
            components=Components(
                security_schemes={
                    "AdminApiToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="An admin API token from `router admin token create` (rt-admin-...).",
                    )
                }
            ),
        ),
        # Logging is ours (JSON lines, secrets masked): Litestar must not install its own root handler.
        logging_config=None,
        debug=False,
    )
    app.late = late
    return app
