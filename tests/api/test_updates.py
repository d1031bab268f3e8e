"""The management API's update calls (rules, providers, deployments, chains) and rule moves: the catalog's
validators answer 422 with the field, roles decide as on the pages, and the order stays whole under
concurrent moves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from router.store.models import Provider, Rule
from tests.api.conftest import Api


async def ids_of(api: Api, path: str, h: dict[str, str]) -> dict[str, int]:
    return {
        item.get("name") or item["match"]: item["id"] for item in (await api.http.get(path, headers=h)).json()
    }


def field_of(response: Any) -> str | None:
    assert response.status_code == 422, response.text
    field: str | None = response.json()["error"].get("field")
    return field


async def test_rules_are_updated_with_the_pages_validators_and_the_field_named(api: Api) -> None:
    h = await api.token("admin")
    rules = (await api.http.get("/api/v1/rules", headers=h)).json()
    opus = next(r for r in rules if r["match"] == "claude-opus-*" and r["tenant_id"] is None)
    moved = await api.http.patch(
        f"/api/v1/rules/{opus['id']}",
        json={"target": "deployment/gpt4o-eu", "when": {"min_input_tokens": 1000}, "description": "big"},
        headers=h,
    )
    assert moved.status_code == 200, moved.text
    body = moved.json()
    # A target replaces the chain; the fields not sent stay.
    assert (body["target"], body["chain"], body["match"]) == ("deployment/gpt4o-eu", None, "claude-opus-*")
    assert body["when"] == {"min_input_tokens": 1000} and body["description"] == "big"
    back = await api.http.patch(f"/api/v1/rules/{opus['id']}", json={"chain": "big"}, headers=h)
    assert (back.json()["chain"], back.json()["target"]) == ("big", None)
    for change1, field in (
        ({"target": "nowhere/x"}, "target"),
        ({"chain": "no-such-chain"}, "chain"),
        ({"when": {"colour": "red"}}, "when.colour"),
        ({"overrides": {"temperature": 9}}, "overrides.temperature"),
        ({"match": "re:(unclosed"}, "match"),
        ({"match": None}, "match"),
        ({"enabled": "perhaps"}, "enabled"),
        ({"priority": 3}, "priority"),
    ):
        bad = await api.http.patch(f"/api/v1/rules/{opus['id']}", json=change1, headers=h)
        assert field_of(bad) == field, (change1, bad.json())
    async with api.db.session() as session:
        stored = await session.get(Rule, opus["id"])
    assert stored is not None and stored.target is None and stored.match == "claude-opus-*"
    assert (await api.http.patch("/api/v1/rules/999999", json={}, headers=h)).status_code == 404


async def test_providers_deployments_and_chains_are_updated_and_refused_with_the_field(api: Api) -> None:
    h = await api.token("admin")
    providers = await ids_of(api, "/api/v1/providers", h)
    changed = await api.http.patch(
        f"/api/v1/providers/{providers['openai']}",
        json={"api_base": "http://127.0.0.1:9/v2", "extra_params": {"timeout": 30}},
        headers=h,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["api_base"] == "http://127.0.0.1:9/v2"
    assert changed.json()["extra_params"] == {"timeout": 30} and changed.json()["has_credential"] is True
    for change2, field in (
        ({"kind": "no such kind!"}, "kind"),
        ({"api_base": "ftp://x"}, "api_base"),
        ({"extra_params": {"aws_secret_access_key": "x"}}, "extra_params.aws_secret_access_key"),
        ({"name": None}, "name"),
    ):
        bad = await api.http.patch(f"/api/v1/providers/{providers['openai']}", json=change2, headers=h)
        assert field_of(bad) == field, (change2, bad.json())

    deployments = await ids_of(api, "/api/v1/deployments", h)
    dep = await api.http.patch(
        f"/api/v1/deployments/{deployments['gpt4o-eu']}", json={"model": "gpt-4o-mini"}, headers=h
    )
    assert dep.status_code == 200 and dep.json()["model"] == "gpt-4o-mini"
    wrong_kind = await api.http.patch(
        f"/api/v1/deployments/{deployments['gpt4o-eu']}", json={"provider": "openai"}, headers=h
    )
    assert field_of(wrong_kind) == "provider"
    renamed = await api.http.patch(
        f"/api/v1/deployments/{deployments['gpt4o-eu']}", json={"name": "gpt4o-west"}, headers=h
    )
    assert renamed.status_code == 200
    # A rename rewrites the refs that name it (here: the chain and beta's rule).
    chains = (await api.http.get("/api/v1/chains", headers=h)).json()
    assert chains[0]["targets"] == ["openai/gpt-4.1", "deployment/gpt4o-west"]

    chain = await api.http.patch(
        f"/api/v1/chains/{chains[0]['id']}",
        json={"targets": ["deployment/gpt4o-west", "openai/gpt-4.1"], "retries": 2},
        headers=h,
    )
    assert chain.status_code == 200
    assert (chain.json()["targets"], chain.json()["retries"]) == (
        ["deployment/gpt4o-west", "openai/gpt-4.1"],
        2,
    )
    for change3, field in (
        ({"targets": []}, "targets"),
        ({"targets": ["openai/gpt-4.1", "nowhere/x"]}, "targets[1]"),
        ({"retries": 99}, "retries"),
        ({"backoff_ms": -1}, "backoff_ms"),
        ({"colour": "red"}, "colour"),
    ):
        bad = await api.http.patch(f"/api/v1/chains/{chains[0]['id']}", json=change3, headers=h)
        assert field_of(bad) == field, (change3, bad.json())


async def test_only_owners_set_replace_or_remove_a_providers_credential(api: Api) -> None:
    admin, owner = await api.token("admin"), await api.token("owner")
    providers = await ids_of(api, "/api/v1/providers", admin)
    url = f"/api/v1/providers/{providers['openai']}"
    for body in ({"api_key": "sk-from-an-admin"}, {"api_key": None}, {"api_key": "x", "api_base": None}):
        refused = await api.http.patch(url, json=body, headers=admin)
        assert refused.status_code == 403, body
        assert refused.json()["error"]["type"] == "permission_error"
    created = await api.http.post(
        "/api/v1/providers", json={"name": "groq", "kind": "groq", "api_key": "gsk"}, headers=admin
    )
    assert created.status_code == 403
    bare = await api.http.post("/api/v1/providers", json={"name": "groq", "kind": "groq"}, headers=admin)
    assert bare.status_code == 201 and bare.json()["has_credential"] is False
    async with api.db.session() as session:
        before = (await session.get(Provider, providers["openai"])).credential_encrypted  # type: ignore[union-attr]
    replaced = await api.http.patch(url, json={"api_key": "sk-new-secret"}, headers=owner)
    assert replaced.status_code == 200 and "sk-new-secret" not in replaced.text
    async with api.db.session() as session:
        row = await session.get(Provider, providers["openai"])
    assert row is not None and row.credential_encrypted not in (None, before)
    removed = await api.http.patch(url, json={"api_key": None}, headers=owner)
    assert removed.json()["has_credential"] is False
    tenant_admin = await api.token("tenant-admin", ["alpha"])
    assert (await api.http.patch(url, json={"api_base": None}, headers=tenant_admin)).status_code == 403


async def test_tenant_admins_update_and_move_their_tenants_rules_only(api: Api) -> None:
    h = await api.token("tenant-admin", ["alpha"])
    alpha, beta = api.tenants["alpha"], api.tenants["beta"]
    mine = (await api.http.get(f"/api/v1/tenants/{alpha}/rules", headers=h)).json()
    assert [r["match"] for r in mine] == ["claude-opus-*", "*"]
    ok = await api.http.patch(
        f"/api/v1/tenants/{alpha}/rules/{mine[1]['id']}", json={"match": "claude-*"}, headers=h
    )
    assert ok.status_code == 200 and ok.json()["match"] == "claude-*"
    moved = await api.http.post(
        f"/api/v1/tenants/{alpha}/rules/{mine[1]['id']}/move", json={"position": 1}, headers=h
    )
    assert moved.status_code == 200
    assert [r["id"] for r in moved.json()] == [mine[1]["id"], mine[0]["id"]]
    bad = await api.http.post(
        f"/api/v1/tenants/{alpha}/rules/{mine[1]['id']}/move", json={"position": 3}, headers=h
    )
    assert field_of(bad) == "position"
    # Another tenant's rules: not found, whether the rule id is real or not.
    owner = await api.token("owner")
    theirs = (await api.http.get(f"/api/v1/tenants/{beta}/rules", headers=owner)).json()[0]["id"]
    for url in (f"/api/v1/tenants/{beta}/rules/{theirs}", f"/api/v1/tenants/{beta}/rules/999999"):
        assert (await api.http.patch(url, json={"match": "x"}, headers=h)).status_code == 404
        assert (await api.http.post(url + "/move", json={"position": 1}, headers=h)).status_code == 404
    # Beta's rule through alpha's URL is no rule of alpha's.
    crossed = await api.http.patch(f"/api/v1/tenants/{alpha}/rules/{theirs}", json={"match": "x"}, headers=h)
    assert crossed.status_code == 404
    glob = (await api.http.get("/api/v1/rules", headers=h)).json()
    global_id = next(r["id"] for r in glob if r["tenant_id"] is None)
    assert (await api.http.patch(f"/api/v1/rules/{global_id}", json={}, headers=h)).status_code == 403
    move = await api.http.post(f"/api/v1/rules/{global_id}/move", json={"position": 1}, headers=h)
    assert move.status_code == 403
    viewer = await api.token("viewer")
    assert (await api.http.patch(f"/api/v1/rules/{global_id}", json={}, headers=viewer)).status_code == 403


async def test_moves_put_a_rule_at_a_place_and_keep_one_whole_order(api: Api) -> None:
    h = await api.token("admin")
    for i in range(5):
        made = await api.http.post(
            "/api/v1/rules", json={"match": f"model-{i}", "target": "openai/gpt-4.1"}, headers=h
        )
        assert made.status_code == 201
    ids = [r["id"] for r in (await api.http.get("/api/v1/rules", headers=h)).json() if r["tenant_id"] is None]
    assert len(ids) == 8
    expected = list(ids)
    for rule_id, place in ((ids[7], 1), (ids[0], 8), (ids[3], 4), (ids[5], 2)):
        answer = await api.http.post(f"/api/v1/rules/{rule_id}/move", json={"position": place}, headers=h)
        assert answer.status_code == 200
        expected.remove(rule_id)
        expected.insert(place - 1, rule_id)
        assert [r["id"] for r in answer.json()] == expected
    listed = [
        r["id"] for r in (await api.http.get("/api/v1/rules", headers=h)).json() if r["tenant_id"] is None
    ]
    assert listed == expected
    async with api.db.session() as session:
        rows = (
            await session.scalars(
                select(Rule).where(Rule.tenant_id.is_(None)).order_by(Rule.priority, Rule.position, Rule.id)
            )
        ).all()
    assert [r.id for r in rows] == expected and [r.position for r in rows] == list(range(8))
    places: tuple[object, ...] = (0, 9, "first", None)
    for bad_place in places:
        bad = await api.http.post(f"/api/v1/rules/{ids[0]}/move", json={"position": bad_place}, headers=h)
        assert field_of(bad) == "position", (bad_place, bad.json())


async def test_the_openapi_document_describes_the_update_and_move_calls(api: Api) -> None:
    document = (await api.http.get("/schema/openapi.json")).json()
    paths = document["paths"]
    for path, method in (
        ("/api/v1/rules/{rule_id}", "patch"),
        ("/api/v1/rules/{rule_id}/move", "post"),
        ("/api/v1/tenants/{tenant_id}/rules/{rule_id}", "patch"),
        ("/api/v1/tenants/{tenant_id}/rules/{rule_id}/move", "post"),
        ("/api/v1/providers/{provider_id}", "patch"),
        ("/api/v1/deployments/{deployment_id}", "patch"),
        ("/api/v1/chains/{chain_id}", "patch"),
    ):
        assert method in paths.get(path, {}), (path, method)
    schemas = document["components"]["schemas"]
    for name in ("RulePatch", "RuleMove", "ProviderPatch", "DeploymentPatch", "ChainPatch"):
        assert name in schemas, name
    assert "api_key" not in schemas["ProviderOut"]["properties"]
