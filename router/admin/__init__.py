"""The admin page: server-rendered Jinja2 + htmx under /admin, talking to store/ only.

`build_admin(settings)` returns everything the app factory adds to the Litestar app. The sign-in guard, the
CSRF check and the HTML error pages are attached to the /admin router itself, so /v1 is untouched by them.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from litestar import Router
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from router.admin import setup as _setup
from router.admin.auth import admin_guard
from router.admin.controllers import ROUTE_HANDLERS
from router.admin.errors import EXCEPTION_HANDLERS
from router.admin.filters import register_filters
from router.admin.headers import PAGE_HEADERS, static_headers
from router.admin.security import AdminKeys
from router.identity.session_cache import SessionCache
from router.resources import PACKAGE_DIR, resource_path
from router.settings import Settings
from router.store.db import Database

__all__ = ["AdminBundle", "build_admin", "first_run_setup_token"]

log = logging.getLogger(__name__)

TEMPLATES_DIR = resource_path("templates")
STATIC_DIR = PACKAGE_DIR / "static"

# The secret build_admin was given, for first_run_setup_token(db) called without one.
_registered_secret: str | None = None


@dataclass
class AdminBundle:
    route_handlers: list[Any]
    template_config: TemplateConfig[JinjaTemplateEngine]
    middleware: list[Any] = field(default_factory=list)
    static_files: list[Any] = field(default_factory=list)
    exception_handlers: dict[Any, Any] = field(default_factory=dict)
    # The derived CSRF/setup keys (for tests).
    keys: AdminKeys | None = None
    # This process's cache of signed-in sessions; the app empties it whenever the config version moves.
    sessions: SessionCache | None = None


def build_admin(settings: Settings) -> AdminBundle:
    """Everything the admin page adds to the app; `settings.secret_key` must be the resolved secret."""
    global _registered_secret
    secret = settings.secret_key
    if not secret:
        # CSRF tokens then last only as long as this process: fine for a throwaway run, wrong for replicas.
        log.warning("no secret key given to the admin page: forms will not survive a restart")
        secret = secrets.token_urlsafe(32)
    _registered_secret = secret
    keys = AdminKeys(secret)
    sessions = SessionCache(
        idle_seconds=settings.admin_session_idle_seconds, absolute_seconds=settings.admin_session_max_seconds
    )

    admin_router = Router(
        path="/",
        route_handlers=ROUTE_HANDLERS,
        guards=[admin_guard],
        exception_handlers=EXCEPTION_HANDLERS,
        response_headers=PAGE_HEADERS,
        include_in_schema=False,
        # Handlers, the guard and the error pages read the keys from here (no app.state set-up needed).
        opt={"admin_keys": keys, "settings": settings},
    )
    static = create_static_files_router(
        path="/admin/static", directories=[STATIC_DIR], name="admin_static", after_request=static_headers
    )

    template_config: TemplateConfig[JinjaTemplateEngine] = TemplateConfig(
        directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=register_filters
    )
    return AdminBundle(
        route_handlers=[admin_router],
        template_config=template_config,
        middleware=[],
        static_files=[static],
        exception_handlers={},
        keys=keys,
        sessions=sessions,
    )


async def first_run_setup_token(db: Database, secret: Settings | str | None = None) -> str | None:
    """The /admin/setup?token=… token while no admin user exists, else None.

    `secret`: the Settings (with the resolved secret_key) or the key itself; by default the secret given to
    the last `build_admin` call.
    """
    if isinstance(secret, Settings):
        secret = secret.secret_key
    secret = secret or _registered_secret
    if not secret:
        raise RuntimeError("first_run_setup_token needs build_admin(settings) first, or a secret_key")
    return await _setup.first_run_setup_token(db, secret)
