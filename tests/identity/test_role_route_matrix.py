"""Every registered admin route, walked programmatically, for every role: the status each role gets.

A route without a line in router/admin/access.py fails the first test, so a new page, fragment or export
cannot ship unguarded. The walk then signs in as each role and calls each route (for tenant routes: on the
role's own tenant and on another one) and checks the guard's answer: 404 for a tenant the role cannot see,
403 beyond the role, and for allowed state-changing requests the CSRF refusal that comes *after* the role
check (so the walk proves the decision without changing anything).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import BaseRoute, HTTPRoute
from litestar.testing import AsyncTestClient

from router.admin.access import ROUTE_ACCESS, TENANT_FILTERED, route_access
from router.identity.roles import Access, Decision, Principal, decide
from router.store.config_file import apply_config_text
from router.store.crypto import CredentialCipher
from router.store.db import Database
from router.store.keys import create_key
from router.store.models import Chain, Deployment, Provider, Rule, Tenant
from tests.admin.conftest import (
    SECRET,
    AdminClient,
    build_test_app,
    create_admin,
    every_route,
    every_route_served,
)

PASSWORD = "correct horse battery"
CONFIG = """
providers:
  - {name: openai, kind: openai, api_base: "http://127.0.0.1:9/v1", api_key: "sk-test"}
  - {name: azure-eu, kind: azure, api_base: "http://127.0.0.1:9", api_key: "az", api_version: "2024-10-21"}
deployments:
  - {name: gpt4o-eu, provider: azure-eu, deployment: gpt-4o-prod, model: gpt-4o}
chains:
  - {name: big, targets: [openai/gpt-4.1, deployment/gpt4o-eu]}
rules:
  - {match: "*", chain: big}
tenants:
  - name: alpha
    rules:
      - {match: "claude-opus-*", target: openai/gpt-4.1}
  - name: beta
    rules:
      - {match: "claude-opus-*", target: openai/gpt-4.1}
"""

ROLES: dict[str, tuple[str, list[str]]] = {
    "owner": ("owner", []),
    "admin": ("admin", []),
    "tenant-admin(alpha)": ("tenant-admin", ["alpha"]),
    "viewer": ("viewer", []),
    "viewer(alpha)": ("viewer", ["alpha"]),
}
PARAM = re.compile(r"\{(\w+):\w+\}")


def admin_routes(routes: Sequence[BaseRoute]) -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, HTTPRoute) and route.path.startswith("/admin"):
            for method in route.route_handler_map:
                if method != "OPTIONS":
                    yield method, route.path


def test_every_admin_route_has_an_access_level(tmp_path: Any) -> None:
    app = build_test_app(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    registered = set(admin_routes(every_route(app)))
    missing = sorted(r for r in registered if route_access(*r) is None)
    assert missing == [], f"routes without a line in router/admin/access.py: {missing}"
    assert sorted(set(ROUTE_ACCESS) - registered) == [], "lines for routes that no longer exist"


@dataclass
class World:
    tenants: dict[str, Tenant]
    keys: dict[str, int]
    rules: dict[str, int]  # level ("global" or tenant id) -> a rule id at that level
    provider_id: int
    deployment_id: int
    chain_id: int


async def build_world(db: Database) -> World:
    async with db.transaction() as session:
        await apply_config_text(session, CONFIG, env={}, cipher=CredentialCipher(SECRET), actor="test")
    async with db.transaction() as session:
        from sqlalchemy import select

        tenants = {t.name: t for t in await session.scalars(select(Tenant))}
        keys = {}
        for name in ("alpha", "beta"):
            key, _ = await create_key(session, name, f"dev@{name}", None, actor="test")
            keys[name] = key.id
        rules: dict[str, int] = {}
        for rule in await session.scalars(select(Rule)):
            rules[str(rule.tenant_id) if rule.tenant_id else "global"] = rule.id
        provider = await session.scalar(select(Provider.id).where(Provider.name == "openai"))
        deployment = await session.scalar(select(Deployment.id))
        chain = await session.scalar(select(Chain.id))
    assert provider and deployment and chain
    return World(tenants, keys, rules, provider, deployment, chain)


def concrete_paths(path: str, world: World) -> Iterator[tuple[str, str | None]]:
    """The path with real ids: (url, tenant it names: "alpha", "beta", "global" or None)."""
    params = set(PARAM.findall(path))
    variants: list[str | None]
    if "tenant_id" in params:
        variants = ["alpha", "beta"]
    elif "level" in params:
        variants = ["global", "alpha", "beta"]
    else:
        variants = [None]
    for variant in variants:
        tenant = world.tenants[variant] if variant in ("alpha", "beta") else None
        level = str(tenant.id) if tenant else "global"
        values = {
            "tenant_id": str(tenant.id) if tenant else "",
            "key_id": str(world.keys.get(variant or "", 0)),
            "level": level,
            "rule_id": str(world.rules.get(level, 0)),
            "provider_id": str(world.provider_id),
            "deployment_id": str(world.deployment_id),
            "chain_id": str(world.chain_id),
            # No pool or alert in the world: their routes answer 404 past the guard, which the matrix checks.
            "pool_id": "999",
            "alert_id": "999",
            "budget_id": "999",
            "position": "0",
            "rest": "no/such/page",
            "file_path": "admin.css",
            "user_id": "1",
            "record_id": "1",
            "session_id": "0" * 32,
        }
        yield fill(path, values), variant


def fill(path: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: values[m.group(1)], path)


def expected(principal: Principal, method: str, path: str, variant: str | None, world: World) -> str:
    access = route_access(method, path)
    assert access is not None
    tenant_id = world.tenants[variant].id if variant in ("alpha", "beta") else None
    decision = decide(principal, access, tenant_id)
    if access is Access.PUBLIC:
        return "public"
    if path == "/admin/{rest:path}":
        return "404"  # the admin's own not-found page, for everyone signed in
    if decision is Decision.NOT_FOUND:
        return "404"
    if (
        method == "GET"
        and principal.scoped
        and tenant_id is None
        and (path == "/admin" or path in TENANT_FILTERED)
    ):
        return "303"
    if decision is Decision.FORBIDDEN:
        return "403"
    return "allowed"


def observed(method: str, response: Any) -> str:
    status = response.status_code
    if status == 403 and "security token" in response.text:
        return "allowed"  # the role check passed; the bogus CSRF token stopped it before the handler
    if status == 403:
        return "403"
    if method == "GET" and status == 404 and "There is no such page." not in response.text:
        return "allowed"  # a handler's own not-found (e.g. the /admin/{rest} page)
    if status in (200, 422) or (status == 303 and method != "GET"):
        return "allowed"
    return str(status)


@pytest.fixture
async def world_app(database: Database) -> AsyncIterator[tuple[Litestar, World]]:
    world = await build_world(database)
    for name, (role, tenants) in ROLES.items():
        await create_admin(database, re.sub(r"\W", "-", name), PASSWORD, role=role, tenants=tenants)
    yield build_test_app(database.url), world


async def test_role_by_route_matrix(world_app: tuple[Litestar, World], database: Database) -> None:
    app, world = world_app
    table: dict[tuple[str, str, str | None], dict[str, str]] = {}
    mismatches: list[str] = []
    async with AsyncTestClient(app=app, base_url="http://router.test") as http:
        client = AdminClient(http, database)
        for name, (role, tenant_names) in ROLES.items():
            http.cookies.clear()
            await client.sign_in(re.sub(r"\W", "-", name), PASSWORD)
            tenant_ids = [world.tenants[t].id for t in tenant_names] or None
            principal = Principal.of(name, role, tenant_ids)
            for method, path in sorted(set(admin_routes(await every_route_served(http)))):
                if route_access(method, path) is Access.PUBLIC:
                    continue
                for url, variant in concrete_paths(path, world):
                    want = expected(principal, method, path, variant, world)
                    if method in ("GET", "HEAD"):
                        response = await http.request(method, url)
                    else:
                        response = await http.request(method, url, data={"_csrf": "bogus"})
                    got = observed(method, response)
                    if want == "303" and response.status_code == 303:
                        got = "303"
                    table.setdefault((method, path, variant), {})[name] = got
                    if got != want:
                        mismatches.append(f"{name} {method} {url}: expected {want}, got {got}")
    assert mismatches == [], "\n".join(mismatches)
    # The essentials, spelled out: a tenant-admin of alpha cannot even see beta, nor touch providers.
    ta = "tenant-admin(alpha)"
    assert table[("POST", "/admin/tenants/{tenant_id:int}/keys", "beta")][ta] == "404"
    assert table[("POST", "/admin/tenants/{tenant_id:int}/keys", "alpha")][ta] == "allowed"
    assert table[("POST", "/admin/tenants/{tenant_id:int}/limits", "alpha")][ta] == "403"
    assert table[("POST", "/admin/providers", None)]["admin"] == "allowed"
    assert table[("POST", "/admin/providers/{provider_id:int}/delete", None)]["admin"] == "403"
    assert table[("POST", "/admin/chains", None)]["viewer"] == "403"
    assert table[("GET", "/admin/usage.csv", None)]["viewer(alpha)"] == "303"
    print_matrix(table)


def print_matrix(table: dict[tuple[str, str, str | None], dict[str, str]]) -> None:
    """The role x route table (pytest -s shows it; the report quotes it)."""
    names = list(ROLES)
    print("\n| route | tenant | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for (method, path, variant), row in sorted(
        table.items(), key=lambda item: (item[0][1], item[0][0], str(item[0][2]))
    ):
        cells = " | ".join(row.get(n, "") for n in names)
        print(f"| {method} {path} | {variant or ''} | {cells} |")
