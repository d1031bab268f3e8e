"""Over-long text through the management API, on both databases: one character past a column's width is
refused with 422 naming the field, and what was stored stays as it was; a value of exactly the width is
stored (PostgreSQL refuses what does not fit, SQLite would keep anything)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from router.config import lengths as L
from tests.api.conftest import Api

Body = Callable[[int], dict[str, Any]]


def url(n: int) -> str:
    head = "https://api.example.com/"
    return head + "a" * (n - len(head))


def ref(n: int) -> str:
    return "openai/" + "m" * (n - 7)


def hook_host(n: int) -> str:
    """A webhook whose host is `n` characters (URL parsing does not bound a label's length)."""
    return f"https://{'h' * n}/hook"


@dataclass(frozen=True)
class Case:
    """One field of one call: `listing` is read before and after to show a refusal changed nothing."""

    method: str
    path: str
    listing: str
    body: Body
    field: str
    width: int


WEBHOOK = "https://hooks.example.com/T0"
CASES = {
    "provider api_base": Case(
        "PATCH",
        "/api/v1/providers/{openai}",
        "/api/v1/providers",
        lambda n: {"api_base": url(n)},
        "api_base",
        L.API_BASE_CHARS,
    ),
    "provider api_version": Case(
        "PATCH",
        "/api/v1/providers/{azure-eu}",
        "/api/v1/providers",
        lambda n: {"api_version": "v" * n},
        "api_version",
        L.API_VERSION_CHARS,
    ),
    "provider name": Case(
        "POST",
        "/api/v1/providers",
        "/api/v1/providers",
        lambda n: {"name": "p" * n, "kind": "openai"},
        "name",
        L.NAME_CHARS,
    ),
    "deployment deployment": Case(
        "PATCH",
        "/api/v1/deployments/{gpt4o-eu}",
        "/api/v1/deployments",
        lambda n: {"deployment": "d" * n},
        "deployment",
        L.DEPLOYMENT_CHARS,
    ),
    "deployment model": Case(
        "PATCH",
        "/api/v1/deployments/{gpt4o-eu}",
        "/api/v1/deployments",
        lambda n: {"model": "m" * n},
        "model",
        L.MODEL_CHARS,
    ),
    "deployment api_version": Case(
        "PATCH",
        "/api/v1/deployments/{gpt4o-eu}",
        "/api/v1/deployments",
        lambda n: {"api_version": "v" * n},
        "api_version",
        L.API_VERSION_CHARS,
    ),
    "chain target": Case(
        "PATCH",
        "/api/v1/chains/{big}",
        "/api/v1/chains",
        lambda n: {"targets": [ref(n)]},
        "targets[0]",
        L.TARGET_CHARS,
    ),
    "rule match": Case(
        "PATCH",
        "/api/v1/rules/{claude-haiku-*}",
        "/api/v1/rules",
        lambda n: {"match": "c" * n},
        "match",
        L.MATCH_CHARS,
    ),
    "rule target": Case(
        "PATCH",
        "/api/v1/rules/{claude-haiku-*}",
        "/api/v1/rules",
        lambda n: {"target": ref(n)},
        "target",
        L.TARGET_CHARS,
    ),
    "rule description": Case(
        "PATCH",
        "/api/v1/rules/{claude-haiku-*}",
        "/api/v1/rules",
        lambda n: {"description": "d" * n},
        "description",
        L.DESCRIPTION_CHARS,
    ),
    "tenant name": Case(
        "POST", "/api/v1/tenants", "/api/v1/tenants", lambda n: {"name": "t" * n}, "name", L.NAME_CHARS
    ),
    "key member": Case(
        "POST",
        "/api/v1/tenants/{tenant:alpha}/keys",
        "/api/v1/tenants/{tenant:alpha}/keys",
        lambda n: {"member": "m" * n},
        "member",
        L.MEMBER_CHARS,
    ),
    "alert webhook host": Case(
        "POST",
        "/api/v1/alerts",
        "/api/v1/alerts",
        lambda n: {"name": "hook", "watch": "cooldown", "webhook": hook_host(n)},
        "webhook",
        L.WEBHOOK_HOST_CHARS,
    ),
    "alert name": Case(
        "POST",
        "/api/v1/alerts",
        "/api/v1/alerts",
        lambda n: {"name": "a" * n, "watch": "cooldown", "webhook": WEBHOOK},
        "name",
        L.NAME_CHARS,
    ),
}


async def resolve(api: Api, path: str, h: dict[str, str]) -> str:
    """`{NAME}` in a path becomes that provider's, deployment's, chain's or global rule's id."""
    if "{tenant:" in path:
        name = path.split("{tenant:", 1)[1].split("}", 1)[0]
        return path.replace(f"{{tenant:{name}}}", str(api.tenants[name]))
    if "{" not in path:
        return path
    head, rest = path.split("{", 1)
    name, tail = rest.split("}", 1)
    items = (await api.http.get(head.rstrip("/"), headers=h)).json()
    match = next(
        i for i in items if i.get("name") == name or (i.get("match") == name and i["tenant_id"] is None)
    )
    return f"{head}{match['id']}{tail}"


async def send(api: Api, case: Case, value_width: int, h: dict[str, str]) -> Any:
    path = await resolve(api, case.path, h)
    return await api.http.request(case.method, path, json=case.body(value_width), headers=h)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_one_character_too_many_is_refused_with_the_field_and_nothing_changes(
    api: Api, case: Case
) -> None:
    h = await api.token("owner")
    listing = await resolve(api, case.listing, h)
    before = (await api.http.get(listing, headers=h)).json()
    refused = await send(api, case, case.width + 1, h)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error.get("field") == case.field, error
    assert f"at most {case.width}" in error["message"] or str(case.width) in error["message"], error
    assert (await api.http.get(listing, headers=h)).json() == before


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_a_value_of_the_full_width_is_stored(api: Api, case: Case) -> None:
    h = await api.token("owner")
    stored = await send(api, case, case.width, h)
    assert stored.status_code in (200, 201), stored.text
