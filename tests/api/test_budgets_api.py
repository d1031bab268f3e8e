"""Budgets over the management API: several windows per tenant, member and key, each with this window's
spend; bad input is a 422 naming the field; a tenant-admin sets members' and keys' budgets, not the
tenant's own."""

from __future__ import annotations

from tests.api.conftest import Api


async def test_budgets_by_window_for_the_tenant_a_member_and_a_key(api: Api) -> None:
    h = await api.token("admin")
    alpha = api.tenants["alpha"]
    key = (await api.http.post(f"/api/v1/tenants/{alpha}/keys", json={"member": "ann"}, headers=h)).json()
    for body in (
        {"window": "day", "amount_usd": 100},
        {"window": "month", "amount_usd": 2000},
        {"member": "ann", "window": "week", "amount_usd": 50},
        {"key_id": key["id"], "window": "day", "amount_usd": 5},
    ):
        answer = await api.http.put(f"/api/v1/tenants/{alpha}/budgets", json=body, headers=h)
        assert answer.status_code == 200, answer.text
    listed = (await api.http.get(f"/api/v1/tenants/{alpha}/budgets", headers=h)).json()
    assert [(b["subject"], b["member"], b["key_prefix"], b["window"], b["amount_usd"]) for b in listed] == [
        ("tenant", None, None, "day", 100.0),
        ("tenant", None, None, "month", 2000.0),
        ("member", "ann", None, "week", 50.0),
        ("key", None, key["prefix"], "day", 5.0),
    ]
    assert all(b["spent_usd"] == 0.0 and b["remaining_usd"] == b["amount_usd"] for b in listed)
    tenant = (await api.http.get(f"/api/v1/tenants/{alpha}", headers=h)).json()
    assert tenant["budgets"] == {"day": 100.0, "month": 2000.0} and tenant["budget_usd"] == 2000.0
    keys = (await api.http.get(f"/api/v1/tenants/{alpha}/keys", headers=h)).json()
    assert keys[0]["budgets"] == {"day": 5.0}
    removed = await api.http.put(
        f"/api/v1/tenants/{alpha}/budgets", json={"window": "day", "amount_usd": None}, headers=h
    )
    assert [b["window"] for b in removed.json() if b["subject"] == "tenant"] == ["month"]


async def test_bad_budgets_are_422_with_the_field_and_tenant_admins_keep_to_their_members(api: Api) -> None:
    h = await api.token("admin")
    alpha, beta = api.tenants["alpha"], api.tenants["beta"]
    url = f"/api/v1/tenants/{alpha}/budgets"
    await api.http.put(url, json={"window": "day", "amount_usd": 10}, headers=h)
    for body, field in (
        ({"window": "hour", "amount_usd": 1}, "window"),
        ({"window": "day", "amount_usd": -1}, "amount_usd"),
        ({"member": "ann", "window": "day", "amount_usd": 11}, "member"),
        ({"member": "ann", "key_id": 1, "window": "day", "amount_usd": 1}, "member"),
    ):
        bad = await api.http.put(url, json=body, headers=h)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == field, (body, bad.text)
    lead = await api.token("tenant-admin", ["alpha"])
    own = await api.http.put(url, json={"window": "day", "amount_usd": 99}, headers=lead)
    assert own.status_code == 403
    member = await api.http.put(url, json={"member": "ann", "window": "day", "amount_usd": 3}, headers=lead)
    assert member.status_code == 200, member.text
    other = await api.http.put(
        f"/api/v1/tenants/{beta}/budgets",
        json={"member": "ann", "window": "day", "amount_usd": 3},
        headers=lead,
    )
    assert other.status_code in (403, 404)
    listed = (await api.http.get(url, headers=h)).json()
    assert [(b["subject"], b["window"], b["amount_usd"]) for b in listed] == [
        ("tenant", "day", 10.0),
        ("member", "day", 3.0),
    ]
