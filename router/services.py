"""What a process shares between requests (`Services`): built from the settings, started and stopped in an
order that matters, and asked for the process's readiness. `create_app` (app.py) builds one per app.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from router.gateway.auth import KeyGuard
from router.gateway.cooldown import Cooldowns
from router.gateway.messages import MessagesGateway
from router.gateway.pools import PoolBalancer
from router.gc_tuning import collect_young_less_often, tune_gc
from router.identity.members import MemberTokens
from router.identity.tokens import TokenSigner
from router.lifecycle import DatabaseOutageGrace, Drain
from router.observability.tracing import Tracing
from router.providers.hub import ProviderHub
from router.routing.model import KeySpec
from router.settings import Settings
from router.store.crypto import CredentialCipher
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
    from router.late_routes import LateRoutes

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
        await self.hub.start(after_import=tune_gc)
        collect_young_less_often()

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
