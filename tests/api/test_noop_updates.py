"""An update that changes nothing is no change: a PATCH sent empty or with the values already stored (a
budget PUT of the amount it has, or removing one it has not) writes no audit entry and leaves the config
version where it is, for every kind the management API updates. A real change still writes one entry and
moves the version, including a new secret the audited view cannot show (a provider's key, an alert's
webhook)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from router.store.models import AuditEntry
from router.store.version import get_config_version
from tests.api.conftest import Api


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    nothing: dict[str, Any]  # a body that names no change
    same: dict[str, Any]  # the values already stored
    change: dict[str, Any]  # a real change


def _pick(body: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: body[name] for name in names}


async def _one(api: Api, h: dict[str, str], path: str, name: str, key: str = "name") -> dict[str, Any]:
    items: list[dict[str, Any]] = (await api.http.get(path, headers=h)).json()
    return next(item for item in items if item[key] == name)


async def tenant(api: Api, h: dict[str, str]) -> Case:
    path = f"/api/v1/tenants/{api.tenants['alpha']}"
    body = (await api.http.get(path, headers=h)).json()
    fields = ("rpm", "tpm", "budget_usd", "allowed_targets", "enabled", "member_self_service")
    return Case("PATCH", path, {}, _pick(body, *fields), {"rpm": 77})


async def key(api: Api, h: dict[str, str]) -> Case:
    made = await api.http.post(
        f"/api/v1/tenants/{api.tenants['alpha']}/keys", json={"member": "ann", "rpm": 10}, headers=h
    )
    assert made.status_code == 201, made.text
    path = f"/api/v1/tenants/{api.tenants['alpha']}/keys/{made.json()['id']}"
    same = _pick(made.json(), "rpm", "tpm", "budget_usd", "allowed_models")
    return Case("PATCH", path, {}, same, {"rpm": 5})


RULE_FIELDS = ("match", "match_kind", "when", "target", "chain", "overrides", "description", "enabled")


async def global_rule(api: Api, h: dict[str, str]) -> Case:
    rule = await _one(api, h, "/api/v1/rules", "claude-opus-*", key="match")
    return Case("PATCH", f"/api/v1/rules/{rule['id']}", {}, _pick(rule, *RULE_FIELDS), {"description": "big"})


async def tenant_rule(api: Api, h: dict[str, str]) -> Case:
    base = f"/api/v1/tenants/{api.tenants['alpha']}/rules"
    rule = await _one(api, h, base, "*", key="match")
    return Case("PATCH", f"{base}/{rule['id']}", {}, _pick(rule, *RULE_FIELDS), {"enabled": False})


async def provider(api: Api, h: dict[str, str]) -> Case:
    row = await _one(api, h, "/api/v1/providers", "openai")
    same = {
        **_pick(row, "name", "kind", "api_base", "api_version", "extra_params"),
        "api_key": "sk-test-secret",
    }
    return Case("PATCH", f"/api/v1/providers/{row['id']}", {}, same, {"api_key": "sk-another-secret"})


async def deployment(api: Api, h: dict[str, str]) -> Case:
    row = await _one(api, h, "/api/v1/deployments", "gpt4o-eu")
    same = _pick(row, "name", "provider", "deployment", "model", "api_version")
    return Case("PATCH", f"/api/v1/deployments/{row['id']}", {}, same, {"model": "gpt-4o-mini"})


async def chain(api: Api, h: dict[str, str]) -> Case:
    row = await _one(api, h, "/api/v1/chains", "big")
    same = _pick(row, "name", "targets", "retries", "backoff_ms")
    return Case("PATCH", f"/api/v1/chains/{row['id']}", {}, same, {"retries": 3})


async def budget(api: Api, h: dict[str, str]) -> Case:
    path = f"/api/v1/tenants/{api.tenants['alpha']}/budgets"
    day = {"window": "day", "amount_usd": 10.0}
    assert (await api.http.put(path, json=day, headers=h)).status_code == 200
    # Removing a budget the tenant does not have names no change.
    nothing = {"window": "week", "amount_usd": None}
    return Case("PUT", path, nothing, day, {"window": "day", "amount_usd": 12.5})


async def alert(api: Api, h: dict[str, str]) -> Case:
    body = {
        "name": "spend",
        "watch": "budget",
        "webhook": "https://hooks.example.com/services/T0/B0/abc",
        "secret": "signing-secret-1",
        "thresholds": [50, 80, 100],
        "subjects": ["tenant"],
    }
    made = await api.http.post("/api/v1/alerts", json=body, headers=h)
    assert made.status_code == 201, made.text
    same = {
        **body,
        "tenants": None,
        "targets": None,
        "window_minutes": 5,
        "min_requests": 10,
        "enabled": True,
    }
    # The same host: the audited view is the same, the webhook is not.
    change = {"webhook": "https://hooks.example.com/services/T0/B0/xyz"}
    return Case("PATCH", f"/api/v1/alerts/{made.json()['id']}", {}, same, change)


async def user(api: Api, h: dict[str, str]) -> Case:
    made = await api.http.post(
        "/api/v1/users", json={"username": "vera", "role": "viewer", "tenants": ["alpha"]}, headers=h
    )
    assert made.status_code == 201, made.text
    same = {"role": "viewer", "tenants": ["alpha"], "disabled": False}
    return Case("PATCH", "/api/v1/users/vera", {}, same, {"tenants": ["alpha", "beta"]})


KINDS: dict[str, Callable[[Api, dict[str, str]], Awaitable[Case]]] = {
    "tenant": tenant,
    "key": key,
    "global rule": global_rule,
    "tenant rule": tenant_rule,
    "provider": provider,
    "deployment": deployment,
    "chain": chain,
    "budget": budget,
    "alert": alert,
    "user": user,
}


async def _audit_and_version(api: Api) -> tuple[int, int]:
    async with api.db.session() as session:
        entries = await session.scalar(select(func.count()).select_from(AuditEntry))
        return int(entries or 0), await get_config_version(session)


@pytest.mark.parametrize("kind", KINDS)
async def test_an_update_that_changes_nothing_writes_no_audit_entry_and_bumps_nothing(
    api: Api, kind: str
) -> None:
    h = await api.token("owner")  # owners may send a provider's api_key
    case = await KINDS[kind](api, h)
    for body in (case.nothing, case.same):
        entries, version = await _audit_and_version(api)
        answer = await api.http.request(case.method, case.path, json=body, headers=h)
        assert answer.status_code == 200, (body, answer.text)
        assert await _audit_and_version(api) == (entries, version), body
    entries, version = await _audit_and_version(api)
    answer = await api.http.request(case.method, case.path, json=case.change, headers=h)
    assert answer.status_code == 200, answer.text
    after_entries, after_version = await _audit_and_version(api)
    assert after_entries == entries + 1 and after_version > version
