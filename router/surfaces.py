"""Everything the service serves besides /v1 and the probes: the admin page, the management API (/api/v1),
/me and the sign-in endpoints (device flow, OIDC callback, managed settings, OTLP relay).

Imported and registered after start-up, off the path to the first /v1 answer: router/late_routes.py says
why and how. Nothing here may be needed to answer /v1 (tests/deploy/test_startup.py checks that serving
starts without these modules).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from litestar.template import TemplateEngineProtocol

from router.admin import build_admin, first_run_setup_token
from router.admin import sso as admin_sso
from router.api import build_api
from router.identity.device import DeviceSignIn
from router.identity.login import OidcLogins, oidc_callback
from router.identity.routes import SIGNIN_ROUTES, DeviceCompletion
from router.identity.session_cache import SessionCache
from router.me import ME_ROUTES
from router.me import page as me_page
from router.settings import Settings
from router.store.db import Database

log = logging.getLogger("router")


@dataclass
class Surfaces:
    # In the order to register them (each is one `app.register`: requests for /v1 are served in between).
    route_handlers: list[Any]
    template_engine: TemplateEngineProtocol[Any, Any]
    # The admin page's cache of signed-in sessions (app.state["admin_sessions"]).
    sessions: SessionCache | None


def build_surfaces(
    settings: Settings, db: Database, oidc_logins: OidcLogins, device: DeviceSignIn
) -> Surfaces:
    admin = build_admin(settings)
    if admin.middleware or admin.exception_handlers:
        # App-wide middleware and exception handlers cannot be added to a built app: the admin page keeps
        # its own on its router (router/admin/__init__.py).
        raise RuntimeError("the admin page's middleware and exception handlers must be on its router")
    # Each sign-in flow's finish at /oidc/callback (registered before the callback route itself).
    oidc_logins.register("device", DeviceCompletion(device))
    oidc_logins.register(admin_sso.PURPOSE, admin_sso.AdminSsoCompletion(settings, db))
    oidc_logins.register(me_page.PURPOSE, me_page.MemberPageCompletion(db))
    return Surfaces(
        route_handlers=[
            oidc_callback,
            *SIGNIN_ROUTES,
            build_api(),
            *ME_ROUTES,
            *admin.static_files,
            *admin.route_handlers,
        ],
        template_engine=admin.template_config.engine_instance,
        sessions=admin.sessions,
    )


async def announce_first_run(db: Database, settings: Settings) -> None:
    """While no admin user exists: log where to create the first one (the setup page is one of these)."""
    try:
        token = await first_run_setup_token(db, settings)
    except Exception:  # a database that is down is reported by /readyz; the next start says it again
        log.exception("first-run checks failed; continuing")
        return
    if token:
        log.warning(
            "no admin user yet: open http://%s:%s/admin/setup?token=%s to create one "
            "(or run `router admin create-user NAME`)",
            settings.host,
            settings.port,
            token,
        )
