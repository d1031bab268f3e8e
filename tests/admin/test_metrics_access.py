"""Who reads the Prometheus text: scrapers at /metrics with the metrics token only (an admin session cookie
does not open it, with or without a token set), signed-in unrestricted admins at /admin/metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from argon2 import PasswordHasher
from litestar.testing import AsyncTestClient

from router.app import create_app
from router.settings import Settings
from router.store import admins
from router.store.db import Database
from router.store.tenants import create_tenant
from tests.admin.conftest import ADMIN_PASSWORD, SECRET, AdminClient, create_admin


def client_for(database: Database, metrics_token: str | None) -> AsyncTestClient:  # type: ignore[type-arg]
    settings = Settings(
        _env_file=None,
        database_url=database.url,
        secret_key=SECRET,
        log_level="WARNING",
        metrics_token=metrics_token,
    )
    return AsyncTestClient(app=create_app(settings), base_url="http://router.test")


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admins, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
async def people(database: Database) -> AsyncIterator[None]:
    async with database.transaction() as session:
        await create_tenant(session, "alpha", actor="test")
    await create_admin(database, "boss", role="owner")
    await create_admin(database, "lead", role="tenant-admin", tenants=["alpha"])
    await create_admin(database, "watcher", role="viewer")
    yield


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize("metrics_token", [None, "scrape-token"])
async def test_metrics_open_to_the_token_and_to_unrestricted_admins_signed_in(
    database: Database, metrics_token: str | None
) -> None:
    async with client_for(database, metrics_token) as http:
        client = AdminClient(http, database)
        await client.sign_in("boss", ADMIN_PASSWORD)
        cookie = http.cookies.get("router_admin")
        assert cookie
        # The session cookie belongs to /admin; sent to /metrics by hand it still opens nothing.
        refused = await http.get("/metrics", headers={"Cookie": f"router_admin={cookie}"})
        assert refused.status_code == 401
        assert (await http.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        scraped = await http.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
        assert scraped.status_code == (200 if metrics_token else 401)
        page = await client.get("/admin/metrics")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
        assert "router_requests" in page.text
        for name, status in (("watcher", 200), ("lead", 403)):
            await client.post("/admin/logout")
            await client.sign_in(name, ADMIN_PASSWORD)
            assert (await client.get("/admin/metrics")).status_code == status, name
        await client.post("/admin/logout")
        signed_out = await client.get("/admin/metrics")
        assert signed_out.status_code == 303 and "/admin/login" in signed_out.headers["location"]
