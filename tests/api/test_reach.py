"""/api/v1/tenants/{id}/reach: a tenant-admin reads the global rules and the targets its tenant can reach
(after its allowed targets, minus rules its own rules always catch first), nothing of other tenants and no
base URL or credential."""

from __future__ import annotations

from tests.api.conftest import Api


async def test_a_tenant_admin_reads_its_tenants_reach_and_nothing_else(api: Api) -> None:
    h = await api.token("tenant-admin", ["alpha"])
    alpha, beta = api.tenants["alpha"], api.tenants["beta"]
    answer = await api.http.get(f"/api/v1/tenants/{alpha}/reach", headers=h)
    assert answer.status_code == 200, answer.text
    reach = answer.json()
    assert reach["tenant"] == "alpha" and reach["allowed_targets"] == ["openai/*"]
    assert [(r["level"], r["number"], r["match"]) for r in reach["rules"]] == [
        ("tenant", 1, "claude-opus-*"),
        ("tenant", 2, "*"),
        ("global", 1, "claude-opus-*"),
        ("global", 2, "claude-haiku-*"),
        ("global", 3, "*"),
    ]
    # alpha's own catch-all answers every request first: no global rule is ever reached.
    assert [r["unreachable"] for r in reach["rules"]] == [
        None,
        None,
        "tenant rule #1 (claude-opus-*) matches first",
        "tenant rule #2 (*) matches first",
        "tenant rule #2 (*) matches first",
    ]
    assert [(t["ref"], t["provider"], t["kind"], t["model"], t["via"]) for t in reach["targets"]] == [
        ("openai/gpt-4.1", "openai", "openai", "gpt-4.1", ["tenant #1"]),
        ("openai/gpt-4.1-mini", "openai", "openai", "gpt-4.1-mini", ["tenant #2"]),
    ]
    text = answer.text
    for leak in ("beta", "127.0.0.1", "sk-test-secret", "az-secret", "api_base"):
        assert leak not in text, leak
    assert (await api.http.get(f"/api/v1/tenants/{beta}/reach", headers=h)).status_code == 404
    assert (await api.http.get("/api/v1/tenants/999999/reach", headers=h)).status_code == 404
    # The global rules and targets of the catalog stay closed to a tenant-admin.
    assert (await api.http.get("/api/v1/providers", headers=h)).status_code == 403


async def test_global_rules_reach_a_tenant_through_its_allowed_targets(api: Api) -> None:
    owner = await api.token("owner")
    alpha = api.tenants["alpha"]
    mine = (await api.http.get(f"/api/v1/tenants/{alpha}/rules", headers=owner)).json()
    catch_all = next(r["id"] for r in mine if r["match"] == "*")
    assert (
        await api.http.delete(f"/api/v1/tenants/{alpha}/rules/{catch_all}", headers=owner)
    ).status_code == 204
    sonnet = await api.http.post(
        "/api/v1/rules", json={"match": "claude-sonnet-*", "chain": "big"}, headers=owner
    )
    moved = await api.http.post(
        f"/api/v1/rules/{sonnet.json()['id']}/move", json={"position": 1}, headers=owner
    )
    assert moved.status_code == 200
    viewer = await api.token("viewer", ["alpha"])
    reach = (await api.http.get(f"/api/v1/tenants/{alpha}/reach", headers=viewer)).json()
    by_match = {(r["level"], r["match"]): r for r in reach["rules"]}
    # The chain's Azure deployment is outside alpha's allowed targets: named, marked, not reachable.
    assert by_match[("global", "claude-sonnet-*")]["targets"] == [
        {"ref": "openai/gpt-4.1", "allowed": True},
        {"ref": "deployment/gpt4o-eu", "allowed": False},
    ]
    assert by_match[("global", "claude-sonnet-*")]["unreachable"] is None
    targets = {t["ref"]: t["via"] for t in reach["targets"]}
    assert targets == {
        "openai/gpt-4.1": ["tenant #1", "global #1", "global #4"],
        "openai/gpt-4.1-mini": ["global #3"],
    }
    beta = (await api.http.get(f"/api/v1/tenants/{api.tenants['beta']}/reach", headers=owner)).json()
    assert [(t["ref"], t["provider"], t["kind"], t["model"]) for t in beta["targets"]] == [
        ("deployment/gpt4o-eu", "azure-eu", "azure", "gpt-4o")
    ]
