"""An admin-page client: the app built by create_app on the test database, plus sign-in helpers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import BaseRoute
from litestar.testing import AsyncTestClient

from router.app import create_app
from router.identity import users
from router.late_routes import RouterApp
from router.settings import Settings
from router.store.db import Database

SECRET = "admin-tests-secret-key"
ADMIN_USER = "root"
ADMIN_PASSWORD = "correct horse battery"

_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


def build_test_app(db_url: str) -> Litestar:
    """The real service as `router serve` builds it, on the test database."""
    settings = Settings(
        _env_file=None, database_url=db_url, secret_key=SECRET, log_level="WARNING", config_poll_interval=0.2
    )
    return create_app(settings)


def every_route(app: Litestar) -> Sequence[BaseRoute]:
    """All the routes of an app not being served, those registered after start-up included
    (router/late_routes.py: loaded here)."""
    assert isinstance(app, RouterApp) and app.late is not None
    asyncio.run(app.late.wait())
    assert not app.late.failed
    return app.routes


async def every_route_served(http: AsyncTestClient[Litestar]) -> Sequence[BaseRoute]:
    """All the routes of the app this client serves (on an event loop of the client's own): a request for
    the OpenAPI document is held until the routes registered after start-up are in."""
    assert (await http.get("/schema/openapi.json")).status_code == 200
    app = http.app
    assert isinstance(app, RouterApp) and app.late is not None and app.late.done and not app.late.failed
    return app.routes


class AdminClient:
    """A test client that remembers the page's CSRF token."""

    def __init__(self, client: AsyncTestClient[Litestar], db: Database) -> None:
        # Redirects are part of what is tested: never follow them silently.
        client.follow_redirects = False
        self.http = client
        # The test's own handle on the database: the app's engine lives on the test client's event loop,
        # and asyncpg connections must not cross loops.
        self.db = db
        self.csrf = ""

    def remember_csrf(self, html: str) -> None:
        match = _CSRF.search(html)
        if match:
            self.csrf = match.group(1)

    async def get(self, url: str, **kwargs: Any) -> Any:
        response = await self.http.get(url, **kwargs)
        self.remember_csrf(response.text)
        return response

    async def post(
        self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> Any:
        form = dict(data or {})
        if csrf:
            form.setdefault("_csrf", self.csrf)
        response = await self.http.post(url, data=form, **kwargs)
        self.remember_csrf(response.text)
        return response

    async def htmx(self, method: str, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        headers = {"HX-Request": "true", "X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return await self.http.request(method, url, data=data, headers=headers, **kwargs)

    async def sign_in(self, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> Any:
        await self.get("/admin/login")
        response = await self.post("/admin/login", {"username": username, "password": password})
        assert response.status_code == 303, response.text
        await self.get("/admin")
        return response


async def create_admin(
    db: Database,
    username: str = ADMIN_USER,
    password: str = ADMIN_PASSWORD,
    *,
    role: str = "owner",
    tenants: list[str] | None = None,
) -> None:
    async with db.transaction() as session:
        await users.create_user(session, username, password, role=role, tenants=tenants or [], actor="test")


@pytest.fixture
async def app(database: Database) -> Litestar:
    return build_test_app(database.url)


@pytest.fixture
async def anon(app: Litestar, database: Database) -> AsyncIterator[AdminClient]:
    """A client that has not signed in (the database has one admin user)."""
    await create_admin(database)
    async with AsyncTestClient(app=app, base_url="http://router.test") as client:
        yield AdminClient(client, database)


@pytest.fixture
async def admin(anon: AdminClient) -> AdminClient:
    """A signed-in admin client."""
    await anon.sign_in()
    return anon
