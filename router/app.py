"""The one place the service is assembled: `create_app()` builds the Litestar app that uvicorn and tests run.

Handlers get the shared services by dependency injection (router/dependencies.py); `app.state` still
carries them for the admin's helpers and the middleware (settings, db, cipher, snapshots, hub, gateway...);
start-up and shutdown order matters and is spelled out in `Services.start` / `Services.stop`
(router/services.py).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from router.dependencies import app_dependencies
from router.gateway.controller import MessagesController, oauth_usage, probe_root, root
from router.gateway.errors import CONVERTED, handle_error, handle_http_exception, handle_unexpected
from router.gateway.health import healthz, prometheus_metrics, readyz
from router.gateway.openapi import add_wire_schemas
from router.gateway.telemetry import TelemetryRelay
from router.gc_tuning import tune_gc
from router.identity.device import DeviceSignIn
from router.identity.login import OidcLogins
from router.identity.oidc import OidcClient
from router.late_routes import LateRoutes, RouterApp
from router.observability.access import access_log_middleware
from router.observability.logging import configure_logging, use_json
from router.services import Services
from router.settings import Settings, get_settings
from router.store.access import StoreAccess
from router.store.crypto import resolve_secret_key
from router.store.db import Database

if TYPE_CHECKING:
    from router.surfaces import Surfaces


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
        tune_gc()

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
