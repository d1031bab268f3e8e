"""The admin-users page (owners only) and tenant-admin delegation of their members' keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from router.store import admins
from router.store.db import Database
from router.store.identity_models import AdminUser
from router.store.models import ApiKey, Tenant
from router.store.tenants import create_tenant
from tests.admin.conftest import ADMIN_PASSWORD, AdminClient, build_test_app, create_admin


@pytest.fixture
async def owner(database: Database) -> AsyncIterator[AdminClient]:
    async with database.transaction() as session:
        await create_tenant(session, "alpha", rpm=100, budget_usd=50.0, actor="test")
        await create_tenant(session, "beta", actor="test")
    await create_admin(database)
    async with AsyncTestClient(app=build_test_app(database.url), base_url="http://router.test") as http:
        client = AdminClient(http, database)
        await client.sign_in()
        yield client


async def _user(database: Database, name: str) -> AdminUser | None:
    async with database.session() as session:
        return await admins.find_user(session, name)


async def test_owner_creates_a_tenant_admin_who_then_signs_in(owner: AdminClient, database: Database) -> None:
    page = await owner.get("/admin/users")
    assert page.status_code == 200 and "New admin user" in page.text
    bad = await owner.post(
        "/admin/users", {"username": "lead", "role": "tenant-admin", "password": ADMIN_PASSWORD}
    )
    assert bad.status_code == 422 and "needs at least one tenant" in bad.text
    made = await owner.post(
        "/admin/users",
        {"username": "lead", "role": "tenant-admin", "tenants": "alpha", "password": ADMIN_PASSWORD},
    )
    assert made.status_code == 303
    user = await _user(database, "lead")
    assert user is not None and user.role == "tenant-admin" and len(user.tenant_ids) == 1
    listing = await owner.get("/admin/users")
    assert "lead" in listing.text


async def test_owner_changes_role_disables_and_deletes(owner: AdminClient, database: Database) -> None:
    await create_admin(database, "ops", ADMIN_PASSWORD, role="admin")
    user = await _user(database, "ops")
    assert user is not None
    await owner.get("/admin/users")
    changed = await owner.post(f"/admin/users/{user.id}", {"role": "viewer", "tenants": "beta"})
    assert changed.status_code == 303
    user = await _user(database, "ops")
    assert user is not None and user.role == "viewer" and user.disabled
    await owner.get("/admin/users")
    assert (await owner.post(f"/admin/users/{user.id}/password", {"password": "short"})).status_code == 422
    assert (await owner.post(f"/admin/users/{user.id}/delete", {})).status_code == 303
    assert await _user(database, "ops") is None


async def test_the_last_owner_cannot_delete_themselves(owner: AdminClient, database: Database) -> None:
    me = await _user(database, "root")
    assert me is not None
    await owner.get("/admin/users")
    response = await owner.post(f"/admin/users/{me.id}/delete", {})
    assert response.status_code == 422 and "last enabled owner" in response.text


async def test_a_tenant_admin_delegates_keys_within_the_tenants_limits(
    owner: AdminClient, database: Database
) -> None:
    await create_admin(database, "lead", ADMIN_PASSWORD, role="tenant-admin", tenants=["alpha"])
    async with database.session() as session:
        alpha = await session.scalar(select(Tenant).where(Tenant.name == "alpha"))
        beta = await session.scalar(select(Tenant).where(Tenant.name == "beta"))
    assert alpha is not None and beta is not None
    owner.http.cookies.clear()
    lead = owner
    await lead.sign_in("lead", ADMIN_PASSWORD)
    await lead.get(f"/admin/tenants/{alpha.id}")
    too_much = await lead.post(f"/admin/tenants/{alpha.id}/keys", {"member": "dev@alpha", "rpm": "500"})
    assert too_much.status_code == 422 and "more than tenant alpha" in too_much.text
    issued = await lead.post(f"/admin/tenants/{alpha.id}/keys", {"member": "dev@alpha", "rpm": "60"})
    assert issued.status_code == 303
    revealed = await lead.get(issued.headers["location"])
    assert "sk-rt-" in revealed.text
    async with database.session() as session:
        key = await session.scalar(select(ApiKey).where(ApiKey.member == "dev@alpha"))
    assert key is not None and key.rpm == 60
    await lead.get(f"/admin/tenants/{alpha.id}/keys/{key.id}")
    raised = await lead.post(f"/admin/tenants/{alpha.id}/keys/{key.id}/limits", {"budget_usd": "80"})
    assert raised.status_code == 422
    assert (await lead.post(f"/admin/tenants/{alpha.id}/keys/{key.id}/revoke", {})).status_code == 303
    # The tenant itself, and anything of beta, are out of reach.
    assert (await lead.post(f"/admin/tenants/{alpha.id}/limits", {"rpm": "1000"})).status_code == 403
    assert (await lead.post(f"/admin/tenants/{beta.id}/keys", {"member": "x"})).status_code == 404
    assert (await lead.http.get(f"/admin/tenants/{beta.id}")).status_code == 404
    assert (await lead.http.get("/admin/users")).status_code == 403
