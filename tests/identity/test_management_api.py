"""The management API (/api/v1): admin API tokens, the same role checks as the pages, 422 naming the field,
and the served OpenAPI document; plus the role x route walk over every registered /api/v1 route."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.routes import BaseRoute, HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from router.api.auth import route_access
from router.cli import main
from router.identity import users
from router.identity.roles import Decision, Principal, decide
from router.store import api_tokens
from router.store.db import Database
from router.store.identity_models import AdminApiToken
from router.store.tenants import create_tenant
from tests.admin.conftest import build_test_app, create_admin, every_route, every_route_served

ROLES: dict[str, tuple[str, list[str]]] = {
    "owner": ("owner", []),
    "admin": ("admin", []),
    "tenant-admin(alpha)": ("tenant-admin", ["alpha"]),
    "viewer": ("viewer", []),
    "viewer(alpha)": ("viewer", ["alpha"]),
}
PARAM = re.compile(r"\{(\w+):\w+\}")


async def token(
    db: Database, role: str, tenants: list[str] | None = None, expires: timedelta | None = None
) -> str:
    async with db.transaction() as session:
        _row, plaintext = await users.create_api_token(
            session, name="t", role=role, tenants=tenants or [], expires=expires, actor="test"
        )
    return plaintext


@pytest.fixture
async def api(database: Database) -> AsyncIterator[tuple[AsyncTestClient[Litestar], dict[str, int]]]:
    async with database.transaction() as session:
        alpha = await create_tenant(session, "alpha", rpm=100, actor="test")
        beta = await create_tenant(session, "beta", actor="test")
        ids = {"alpha": alpha.id, "beta": beta.id}
    await create_admin(database)
    async with AsyncTestClient(app=build_test_app(database.url), base_url="http://router.test") as http:
        yield http, ids


def auth(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_token_create_prints_the_token_once_and_stores_only_its_hash(db_url: str) -> None:
    env = {"ROUTER_DATABASE_URL": db_url, "ROUTER_SECRET_KEY": "cli-test-secret"}
    runner = CliRunner(env=env)
    bad = runner.invoke(main, ["admin", "token", "create", "--role", "tenant-admin"])
    assert bad.exit_code == 1 and "needs at least one tenant" in bad.stderr
    made = runner.invoke(main, ["admin", "token", "create", "--role", "viewer", "--expires", "30d"])
    assert made.exit_code == 0, made.output
    plaintext = made.stdout.strip()
    assert plaintext.startswith("rt-admin-")
    listing = runner.invoke(main, ["admin", "token", "list"])
    assert plaintext[:17] in listing.stdout and plaintext not in listing.stdout

    async def stored() -> list[str]:
        db = Database(db_url)
        try:
            async with db.session() as session:
                return [row.token_hash for row in await session.scalars(select(AdminApiToken))]
        finally:
            await db.dispose()

    from tests.fixtures.db import run_async

    hashes = run_async(stored())
    assert hashes == [api_tokens.token_hash(plaintext)]
    revoked = runner.invoke(main, ["admin", "token", "revoke", plaintext[:17]])
    assert revoked.exit_code == 0, revoked.output


async def test_no_bad_revoked_or_expired_token_gets_in(api: Any, database: Database) -> None:
    http, _ids = api
    assert (await http.get("/api/v1/tenants")).status_code == 401
    assert (await http.get("/api/v1/tenants", headers=auth("rt-admin-forged"))).status_code == 401
    expired = await token(database, "owner", expires=timedelta(seconds=-1))
    assert (await http.get("/api/v1/tenants", headers=auth(expired))).status_code == 401
    live = await token(database, "owner")
    assert (await http.get("/api/v1/tenants", headers=auth(live))).status_code == 200
    async with database.transaction() as session:
        await api_tokens.revoke_api_token(session, live[:17], actor="test")
    refused = await http.get("/api/v1/tenants", headers=auth(live))
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"


async def test_owner_manages_tenants_keys_and_rules_with_fields_named_on_bad_input(
    api: Any, database: Database
) -> None:
    http, ids = api
    h = auth(await token(database, "owner"))
    made = await http.post("/api/v1/tenants", json={"name": "gamma", "rpm": 10}, headers=h)
    assert made.status_code == 201 and made.json()["name"] == "gamma"
    for body, field in (
        ({"name": "bad name!"}, "name"),
        ({"name": "delta", "rpm": -1}, "rpm"),
        ({"name": "delta", "rpm": "many"}, "rpm"),
        ({"name": "delta", "colour": "red"}, "colour"),
    ):
        bad = await http.post("/api/v1/tenants", json=body, headers=h)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.json()["error"].get("field") == field, (body, bad.json())
    assert (await http.post("/api/v1/tenants", json={"name": "gamma"}, headers=h)).status_code == 409
    key = await http.post(
        f"/api/v1/tenants/{ids['alpha']}/keys", json={"member": "dev", "rpm": 50}, headers=h
    )
    assert key.status_code == 201 and key.json()["key"].startswith("sk-rt-")
    listed = await http.get(f"/api/v1/tenants/{ids['alpha']}/keys", headers=h)
    assert "key" not in listed.json()[0] and listed.json()[0]["prefix"] == key.json()["prefix"]
    over = await http.patch(
        f"/api/v1/tenants/{ids['alpha']}/keys/{key.json()['id']}", json={"rpm": 500}, headers=h
    )
    assert over.status_code == 422 and over.json()["error"]["field"] == "rpm"
    rule = await http.post(
        f"/api/v1/tenants/{ids['alpha']}/rules", json={"match": "*", "target": "nowhere/x"}, headers=h
    )
    assert rule.status_code == 422 and rule.json()["error"].get("field")
    patched = await http.patch(f"/api/v1/tenants/{ids['beta']}", json={"enabled": False}, headers=h)
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    providers = await http.get("/api/v1/providers", headers=h)
    assert providers.status_code == 200
    users_list = await http.get("/api/v1/users", headers=h)
    assert [u["username"] for u in users_list.json()] == ["root"]


async def test_a_tenant_admin_token_reaches_its_tenant_only(api: Any, database: Database) -> None:
    http, ids = api
    h = auth(await token(database, "tenant-admin", ["alpha"]))
    assert [t["name"] for t in (await http.get("/api/v1/tenants", headers=h)).json()] == ["alpha"]
    assert (await http.get(f"/api/v1/tenants/{ids['beta']}", headers=h)).status_code == 404
    assert (await http.get(f"/api/v1/tenants/{ids['beta']}/keys", headers=h)).status_code == 404
    assert (await http.get("/api/v1/tenants/999999", headers=h)).json() == (
        await http.get(f"/api/v1/tenants/{ids['beta']}", headers=h)
    ).json()
    assert (await http.post("/api/v1/tenants", json={"name": "x"}, headers=h)).status_code == 403
    assert (
        await http.patch(f"/api/v1/tenants/{ids['alpha']}", json={"rpm": 1}, headers=h)
    ).status_code == 403
    issued = await http.post(f"/api/v1/tenants/{ids['alpha']}/keys", json={"member": "dev"}, headers=h)
    assert issued.status_code == 201
    assert (await http.get("/api/v1/users", headers=h)).status_code == 403
    needs_tenant = await http.get("/api/v1/usage", headers=h)
    assert needs_tenant.status_code == 422 and needs_tenant.json()["error"]["field"] == "tenant_id"
    assert (await http.get(f"/api/v1/usage?tenant_id={ids['alpha']}", headers=h)).status_code == 200
    assert (await http.get(f"/api/v1/usage?tenant_id={ids['beta']}", headers=h)).status_code == 404


async def test_the_served_openapi_document_describes_the_management_api(api: Any) -> None:
    http, _ids = api
    document = (await http.get("/schema/openapi.json")).json()
    for path in (
        "/api/v1/tenants",
        "/api/v1/tenants/{tenant_id}/keys",
        "/api/v1/rules",
        "/api/v1/providers",
        "/api/v1/deployments",
        "/api/v1/chains",
        "/api/v1/users",
        "/api/v1/usage",
        "/api/v1/alerts",
        "/api/v1/alerts/{alert_id}/test",
    ):
        assert path in document["paths"], path
    assert document["components"]["securitySchemes"]["AdminApiToken"]["scheme"] == "bearer"
    assert "TenantIn" in document["components"]["schemas"]


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, HTTPRoute) and route.path.startswith("/api/v1/"):
            for method in route.route_handler_map:
                if method not in ("OPTIONS", "HEAD"):
                    yield method, route.path


def test_every_api_route_has_an_access_level(tmp_path: Any) -> None:
    app = build_test_app(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    routes = every_route(app)
    assert any(route.path.startswith("/api/v1/") for route in routes)
    missing = sorted(r for r in set(api_routes(routes)) if route_access(*r) is None)
    assert missing == [], f"routes without a line in router/api/access.py: {missing}"


def fill(path: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: values[m.group(1)], path)


API_TABLE: dict[tuple[str, str, str | None], dict[str, str]] = {}


async def test_api_role_by_route_matrix(api: Any, database: Database) -> None:
    """Allowed writes are sent a body the schema refuses (422) or an id that does not exist (404 from the
    handler, "no such object"): the guard's decision is proven without changing anything."""
    http, ids = api
    mismatches: list[str] = []
    for name, (role, tenants) in ROLES.items():
        h = auth(await token(database, role, tenants))
        principal = Principal.of(name, role, [ids[t] for t in tenants] or None)
        for method, path in sorted(set(api_routes(await every_route_served(http)))):
            variants = ["alpha", "beta"] if "{tenant_id" in path else [None]
            for variant in variants:
                tenant_id = ids[variant] if variant else None
                if method == "DELETE" and path == "/api/v1/tenants/{tenant_id:int}" and not principal.scoped:
                    async with database.transaction() as session:
                        tenant_id = (await create_tenant(session, f"tmp-{name[:5]}-{variant}", actor="t")).id
                values = {
                    "tenant_id": str(tenant_id),
                    "key_id": "999999",
                    "rule_id": "999999",
                    "provider_id": "999999",
                    "deployment_id": "999999",
                    "chain_id": "999999",
                    "alert_id": "999999",
                    "username": "nobody",
                }
                url = fill(path, values)
                if method == "GET" and path == "/api/v1/usage":
                    url += f"?tenant_id={ids['alpha']}"
                    tenant_id = ids["alpha"]
                access = route_access(method, path)
                assert access is not None
                decision = decide(principal, access, tenant_id)
                want = {Decision.ALLOW: "allowed", Decision.FORBIDDEN: "403", Decision.NOT_FOUND: "404"}[
                    decision
                ]
                if method in ("POST", "PATCH"):
                    response = await http.request(method, url, json={"__not_a_field__": 1}, headers=h)
                else:
                    response = await http.request(method, url, headers=h)
                status = response.status_code
                if status in (200, 201, 204, 422) or (status == 404 and "no such object" in response.text):
                    got = "allowed"
                else:
                    got = str(status)
                API_TABLE.setdefault((method, path, variant), {})[name] = got
                if got != want:
                    mismatches.append(
                        f"{name} {method} {url}: expected {want}, got {got} {response.text[:120]}"
                    )
    assert mismatches == [], "\n".join(mismatches)
    assert API_TABLE[("POST", "/api/v1/tenants/{tenant_id:int}/keys", "beta")]["tenant-admin(alpha)"] == "404"
    assert API_TABLE[("POST", "/api/v1/providers", None)]["admin"] == "allowed"
    assert API_TABLE[("DELETE", "/api/v1/providers/{provider_id:int}", None)]["admin"] == "403"
    assert API_TABLE[("POST", "/api/v1/alerts/{alert_id:int}/test", None)]["tenant-admin(alpha)"] == "403"
    assert API_TABLE[("GET", "/api/v1/alerts", None)]["viewer"] == "allowed"
    names = list(ROLES)
    print("\n| route | tenant | " + " | ".join(names) + " |")
    for (method, path, variant), row in sorted(
        API_TABLE.items(), key=lambda i: (i[0][1], i[0][0], str(i[0][2]))
    ):
        print(f"| {method} {path} | {variant or ''} | " + " | ".join(row.get(n, "") for n in names) + " |")
