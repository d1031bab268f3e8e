"""Over-long text through the admin page's forms, on both databases: one character past a column's width is
a form error naming the width, and nothing stored changes; exactly the width is saved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from router.config import lengths as L
from router.store.config_file import apply_config_text
from router.store.crypto import CredentialCipher
from router.store.models import (
    Alert,
    ApiKey,
    Base,
    ChainTarget,
    Deployment,
    PoolMember,
    Provider,
    Rule,
    SsoMapping,
)
from tests.admin.conftest import SECRET, AdminClient
from tests.api.conftest import CONFIG

# The tables a refused form could have written to.
WATCHED = (Provider, Deployment, ChainTarget, PoolMember, Rule, ApiKey, Alert, SsoMapping)


@dataclass(frozen=True)
class Case:
    """A form post: `url` may name `{provider}`, `{deployment}`, `{chain}`, `{rule}`, `{tenant}` ids;
    `fields(n)` is the form with the one field `n` characters long."""

    url: str
    fields: Callable[[int], dict[str, str]]
    width: int
    htmx: bool = False


def provider_form(**over: str) -> dict[str, str]:
    return {"name": "openai", "kind": "openai", "api_base": "http://127.0.0.1:9/v1", "api_key": "", **over}


def deployment_form(**over: str) -> dict[str, str]:
    base = {"name": "gpt4o-eu", "provider": "azure-eu", "deployment": "gpt-4o-prod", "model": "gpt-4o"}
    return {**base, **over}


def url(n: int) -> str:
    head = "https://api.example.com/"
    return head + "a" * (n - len(head))


CASES = {
    "provider name": Case("/admin/providers/{provider}", lambda n: provider_form(name="p" * n), L.NAME_CHARS),
    "provider api_base": Case(
        "/admin/providers/{provider}", lambda n: provider_form(api_base=url(n)), L.API_BASE_CHARS
    ),
    "provider api_version": Case(
        "/admin/providers/{provider}", lambda n: provider_form(api_version="v" * n), L.API_VERSION_CHARS
    ),
    "deployment deployment": Case(
        "/admin/deployments/{deployment}", lambda n: deployment_form(deployment="d" * n), L.DEPLOYMENT_CHARS
    ),
    "deployment model": Case(
        "/admin/deployments/{deployment}", lambda n: deployment_form(model="m" * n), L.MODEL_CHARS
    ),
    "deployment api_version": Case(
        "/admin/deployments/{deployment}", lambda n: deployment_form(api_version="v" * n), L.API_VERSION_CHARS
    ),
    "chain target": Case(
        "/admin/chains/{chain}/targets",
        lambda n: {"target": "openai/" + "m" * (n - 7)},
        L.TARGET_CHARS,
        htmx=True,
    ),
    "rule match": Case(
        "/admin/rules/global/{rule}",
        lambda n: {"match": "c" * n, "target": "openai/m", "enabled": "on"},
        L.MATCH_CHARS,
        htmx=True,
    ),
    "rule target": Case(
        "/admin/rules/global/{rule}",
        lambda n: {"match": "c*", "target": "openai/" + "m" * (n - 7), "enabled": "on"},
        L.TARGET_CHARS,
        htmx=True,
    ),
    "rule description": Case(
        "/admin/rules/global/{rule}",
        lambda n: {"match": "c*", "target": "openai/m", "description": "d" * n, "enabled": "on"},
        L.DESCRIPTION_CHARS,
        htmx=True,
    ),
    "pool member": Case(
        "/admin/pools",
        lambda n: {"name": "both", "strategy": "weighted", "members": "openai/" + "m" * (n - 7)},
        L.TARGET_CHARS,
    ),
    "pool name": Case(
        "/admin/pools",
        lambda n: {"name": "p" * n, "strategy": "weighted", "members": "openai/m"},
        L.NAME_CHARS,
    ),
    "key member": Case("/admin/tenants/{tenant}/keys", lambda n: {"member": "m" * n}, L.MEMBER_CHARS),
    "key alias": Case(
        "/admin/tenants/{tenant}/keys", lambda n: {"member": "ann", "alias": "a" * n}, L.ALIAS_CHARS
    ),
    "alert name": Case(
        "/admin/alerts",
        lambda n: {"name": "a" * n, "watch": "cooldown", "webhook": "https://hooks.example.com/T0"},
        L.NAME_CHARS,
    ),
    "alert webhook host": Case(
        "/admin/alerts",
        lambda n: {"name": "hook", "watch": "cooldown", "webhook": f"https://{'h' * n}/T0"},
        L.WEBHOOK_HOST_CHARS,
    ),
    "sign-in group": Case(
        "/admin/sign-in/members", lambda n: {"group": "g" * n, "tenant": "alpha"}, L.GROUP_CHARS
    ),
}


async def seeded(admin: AdminClient) -> dict[str, int]:
    async with admin.db.transaction() as session:
        await apply_config_text(session, CONFIG, env={}, cipher=CredentialCipher(SECRET), actor="test")
    async with admin.db.session() as session:
        provider = await session.scalar(select(Provider.id).where(Provider.name == "openai"))
        deployment = await session.scalar(select(Deployment.id).where(Deployment.name == "gpt4o-eu"))
        chain = await session.scalar(select(ChainTarget.chain_id).limit(1))
        rule = await session.scalar(
            select(Rule.id).where(Rule.match == "claude-haiku-*", Rule.tenant_id.is_(None))
        )
        tenant = await session.scalar(select(Base.metadata.tables["tenants"].c.id).limit(1))
    ids = {"provider": provider, "deployment": deployment, "chain": chain, "rule": rule, "tenant": tenant}
    assert all(ids.values()), ids
    return {k: int(v) for k, v in ids.items() if v is not None}


async def stored(admin: AdminClient) -> list[Any]:
    async with admin.db.session() as session:
        return [
            sorted((tuple(row) for row in (await session.execute(select(model.__table__))).all()), key=repr)
            for model in WATCHED
        ]


async def post(admin: AdminClient, case: Case, n: int, ids: dict[str, int]) -> Any:
    target = case.url.format(**ids)
    await admin.get("/admin/providers")  # a page, for the CSRF token
    if case.htmx:
        return await admin.htmx("POST", target, case.fields(n))
    return await admin.post(target, case.fields(n))


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_one_character_too_many_is_a_form_error_and_nothing_changes(
    admin: AdminClient, case: Case
) -> None:
    ids = await seeded(admin)
    before = await stored(admin)
    refused = await post(admin, case, case.width + 1, ids)
    assert refused.status_code == 422, refused.text[:500]
    assert f"at most {case.width} characters" in refused.text
    assert await stored(admin) == before


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_value_of_the_full_width_is_saved(admin: AdminClient, case: Case) -> None:
    ids = await seeded(admin)
    before = await stored(admin)
    saved = await post(admin, case, case.width, ids)
    assert saved.status_code in (200, 303), saved.text[:500]
    assert await stored(admin) != before
