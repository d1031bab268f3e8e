"""Server-side admin sessions: revocable on every replica within the config poll, with idle and absolute ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from router.identity import users
from router.identity.session_cache import SessionCache
from router.store import admins, sessions
from router.store.db import Database
from router.store.identity_models import AdminSessionRow
from router.store.models import AuditEntry, utcnow
from router.store.tenants import create_tenant
from tests.admin.conftest import ADMIN_PASSWORD, ADMIN_USER, AdminClient, build_test_app, create_admin

# Two replicas poll every 0.2 s (tests/admin/conftest.py); a change must reach the other within a second.
WITHIN = 1.0


async def _eventually_signed_out(client: AdminClient, seconds: float = WITHIN) -> float:
    """Seconds until `client`'s session stops opening /admin (fails after `seconds`)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        page = await client.http.get("/admin/tenants")
        if page.status_code == 303 and page.headers["location"].startswith("/admin/login"):
            return loop.time() - start
        assert page.status_code == 200
        assert loop.time() - start < seconds, "the other replica still accepts the session"
        await asyncio.sleep(0.05)


@pytest.fixture
async def replicas(database: Database) -> AsyncIterator[tuple[AdminClient, AdminClient]]:
    """Two app replicas on one database; the same browser cookie is presented to both."""
    await create_admin(database)
    await create_admin(database, "second-owner", ADMIN_PASSWORD)
    one, two = build_test_app(database.url), build_test_app(database.url)
    async with (
        AsyncTestClient(app=one, base_url="http://router.test") as http_one,
        AsyncTestClient(app=two, base_url="http://router.test") as http_two,
    ):
        first, second = AdminClient(http_one, database), AdminClient(http_two, database)
        await first.sign_in()
        second.http.cookies.set("router_admin", first.http.cookies.get("router_admin") or "", path="/admin")
        assert (await second.http.get("/admin/tenants")).status_code == 200
        yield first, second


async def test_sign_out_on_one_replica_ends_the_session_on_the_other(
    replicas: tuple[AdminClient, AdminClient], database: Database
) -> None:
    first, second = replicas
    stolen = first.http.cookies.get("router_admin")
    assert (await first.post("/admin/logout", {})).status_code == 303
    await _eventually_signed_out(second)
    # The stolen cookie is useless on the replica that signed out too.
    first.http.cookies.set("router_admin", stolen or "", path="/admin")
    assert (await first.http.get("/admin/tenants")).status_code == 303
    async with database.session() as session:
        actions = [e.action for e in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert "sign_in" in actions and "sign_out" in actions


@pytest.mark.parametrize("change", ["disable", "delete", "password"])
async def test_disable_delete_or_password_change_elsewhere_ends_sessions(
    replicas: tuple[AdminClient, AdminClient], database: Database, change: str
) -> None:
    _first, second = replicas
    async with database.transaction() as session:
        if change == "disable":
            await admins.set_disabled(session, ADMIN_USER, True, actor="cli")
        elif change == "delete":
            await admins.delete_user(session, ADMIN_USER, actor="cli")
        else:
            await admins.set_password(session, ADMIN_USER, "another long password", actor="cli")
    await _eventually_signed_out(second)


async def test_a_role_change_applies_to_open_sessions_on_every_replica(
    replicas: tuple[AdminClient, AdminClient], database: Database
) -> None:
    _first, second = replicas
    assert (await second.http.get("/admin/audit")).status_code == 200
    async with database.transaction() as session:
        await users.set_role(session, ADMIN_USER, "viewer", actor="cli")
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        await second.get("/admin/tenants")
        response = await second.post("/admin/tenants", {"name": "newteam"})
        if response.status_code == 403:
            break
        assert loop.time() - start < WITHIN, "the role change has not reached the other replica"
        await asyncio.sleep(0.05)
    # Still signed in: a viewer reads.
    assert (await second.http.get("/admin/audit")).status_code == 200


async def test_the_last_owner_cannot_be_removed(database: Database) -> None:
    await create_admin(database)
    for action in ("demote", "disable", "delete"):
        with pytest.raises(ValueError, match="last enabled owner"):
            async with database.transaction() as session:
                if action == "demote":
                    await users.set_role(session, ADMIN_USER, "admin", actor="cli")
                elif action == "disable":
                    await admins.set_disabled(session, ADMIN_USER, True, actor="cli")
                else:
                    await admins.delete_user(session, ADMIN_USER, actor="cli")


async def _session_for(database: Database, absolute: float) -> str:
    async with database.transaction() as session:
        user = await admins.get_user(session, ADMIN_USER)
        return await sessions.create_session(session, user, absolute_seconds=absolute, address=None)


async def test_idle_and_absolute_lifetimes(database: Database) -> None:
    await create_admin(database)
    cache = SessionCache(idle_seconds=600, absolute_seconds=3600)
    token = await _session_for(database, absolute=3600)
    now = utcnow()
    assert await cache.resolve(database, token, now=now) is not None
    # Used every few minutes: the idle deadline keeps moving.
    for minutes in (5, 10, 15, 20):
        assert await cache.resolve(database, token, now=now + timedelta(minutes=minutes)) is not None
    # Then left alone longer than the idle lifetime: gone, and deleted.
    assert await cache.resolve(database, token, now=now + timedelta(minutes=31)) is None
    async with database.session() as session:
        assert await session.scalar(select(AdminSessionRow)) is None

    token = await _session_for(database, absolute=3600)
    fresh = SessionCache(idle_seconds=10**6, absolute_seconds=3600)
    later = utcnow()
    assert await fresh.resolve(database, token, now=later + timedelta(minutes=59)) is not None
    # However busy, a session ends at its absolute lifetime.
    assert await fresh.resolve(database, token, now=later + timedelta(minutes=61)) is None


async def test_forged_or_oversized_cookies_are_not_sessions(database: Database) -> None:
    cache = SessionCache(idle_seconds=600, absolute_seconds=3600)
    assert await cache.resolve(database, "x" * 5000) is None
    assert await cache.resolve(database, "not-a-session") is None
    assert await cache.resolve(database, None) is None


async def test_tenant_admin_lands_on_their_tenant_and_sees_only_it(database: Database) -> None:
    app = build_test_app(database.url)
    async with database.transaction() as session:
        alpha = await create_tenant(session, "alpha", actor="test")
        await create_tenant(session, "beta", actor="test")
    await create_admin(database)
    await create_admin(database, "lead", ADMIN_PASSWORD, role="tenant-admin", tenants=["alpha"])
    async with AsyncTestClient(app=app, base_url="http://router.test") as http:
        client = AdminClient(http, database)
        await client.get("/admin/login")
        response = await client.post("/admin/login", {"username": "lead", "password": ADMIN_PASSWORD})
        assert response.status_code == 303
        dashboard = await http.get("/admin")
        assert dashboard.status_code == 303 and dashboard.headers["location"] == "/admin/tenants"
        listing = await client.get("/admin/tenants")
        assert "alpha" in listing.text and "beta" not in listing.text
        usage = await http.get("/admin/usage.csv")
        assert usage.status_code == 303 and f"tenant_id={alpha.id}" in usage.headers["location"]
        issued = await client.post(f"/admin/tenants/{alpha.id}/keys", {"member": "dev@alpha"})
        assert issued.status_code == 303
        revealed = await client.get(issued.headers["location"])
        assert "sk-rt-" in revealed.text
