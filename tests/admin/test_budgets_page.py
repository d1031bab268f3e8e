"""Budgets on the tenant and key pages: several windows per subject (tenant, member, key), each listed with
its spend this window; bad input comes back as a readable error beside its field, nothing saved."""

from __future__ import annotations

from router.store import keys as key_store
from router.store.budgets import list_budgets
from tests.admin.conftest import ADMIN_PASSWORD, AdminClient, create_admin
from tests.admin.test_tenants_keys import create_tenant


async def _budgets(admin: AdminClient) -> list[tuple[str, str, str, float]]:
    async with admin.db.session() as session:
        return [(b.subject_kind, b.subject, b.window, b.amount_usd) for b in await list_budgets(session)]


async def test_tenant_page_sets_lists_and_removes_tenant_and_member_budgets(admin: AdminClient) -> None:
    tenant_id = await create_tenant(admin, "acme")
    await admin.get(f"/admin/tenants/{tenant_id}")
    for form in (
        {"window": "day", "amount_usd": "100"},
        {"window": "month", "amount_usd": "2000"},
        {"member": "ann@example.com", "window": "day", "amount_usd": "20"},
        {"member": "ann@example.com", "window": "day", "amount_usd": "25"},  # replaces her day budget
    ):
        saved = await admin.post(f"/admin/tenants/{tenant_id}/budgets", form)
        assert saved.status_code == 303, saved.text
    assert await _budgets(admin) == [
        ("tenant", "", "day", 100.0),
        ("tenant", "", "month", 2000.0),
        ("member", "ann@example.com", "day", 25.0),
    ]
    page = await admin.get(f"/admin/tenants/{tenant_id}")
    assert "member ann@example.com" in page.text and "$25.00" in page.text and "UTC" in page.text
    ids = {}
    async with admin.db.session() as session:
        for b in await list_budgets(session):
            ids[(b.subject, b.window)] = b.id
    removed = await admin.post(f"/admin/tenants/{tenant_id}/budgets/{ids[('', 'day')]}/remove", {})
    assert removed.status_code == 303
    assert [b[2] for b in await _budgets(admin) if b[0] == "tenant"] == ["month"]


async def test_bad_budget_input_is_a_field_error_and_saves_nothing(admin: AdminClient) -> None:
    tenant_id = await create_tenant(admin, "acme")
    await admin.get(f"/admin/tenants/{tenant_id}")
    await admin.post(f"/admin/tenants/{tenant_id}/budgets", {"window": "day", "amount_usd": "10"})
    before = await _budgets(admin)
    for form, message in (
        ({"window": "day", "amount_usd": "-3"}, "Amount (USD) must be"),
        ({"window": "day", "amount_usd": "lots"}, "Amount (USD) must be a number"),
        ({"window": "day", "amount_usd": ""}, "Amount (USD) is required"),
        ({"window": "fortnight", "amount_usd": "5"}, "Choose a window: day, week or month."),
        ({"member": "ann", "window": "day", "amount_usd": "11"}, "is more than tenant acme"),
    ):
        bad = await admin.post(f"/admin/tenants/{tenant_id}/budgets", form)
        assert bad.status_code == 422 and message in bad.text, (form, bad.text[-2000:])
        assert 'aria-invalid="true"' in bad.text
    assert await _budgets(admin) == before


async def test_key_page_sets_several_windows_and_shows_the_member_and_tenant_budgets(
    admin: AdminClient,
) -> None:
    tenant_id = await create_tenant(admin, "acme")
    async with admin.db.transaction() as session:
        key, _ = await key_store.create_key(session, "acme", "ann")
    await admin.get(f"/admin/tenants/{tenant_id}/keys/{key.id}")
    await admin.post(
        f"/admin/tenants/{tenant_id}/budgets", {"member": "ann", "window": "week", "amount_usd": "70"}
    )
    for window, amount in (("day", "5"), ("month", "60")):
        saved = await admin.post(
            f"/admin/tenants/{tenant_id}/keys/{key.id}/budgets", {"window": window, "amount_usd": amount}
        )
        assert saved.status_code == 303, saved.text
    page = await admin.get(f"/admin/tenants/{tenant_id}/keys/{key.id}")
    assert "this key" in page.text and "member ann" in page.text and "$70.00" in page.text
    bad = await admin.post(
        f"/admin/tenants/{tenant_id}/keys/{key.id}/budgets", {"window": "day", "amount_usd": "-1"}
    )
    assert bad.status_code == 422 and "Amount (USD) must be" in bad.text
    assert [(b[2], b[3]) for b in await _budgets(admin) if b[0] == "key"] == [("day", 5.0), ("month", 60.0)]


async def test_a_tenant_admin_sets_member_budgets_but_not_the_tenants_own(admin: AdminClient) -> None:
    tenant_id = await create_tenant(admin, "acme")
    await admin.get(f"/admin/tenants/{tenant_id}")
    await admin.post(f"/admin/tenants/{tenant_id}/budgets", {"window": "month", "amount_usd": "500"})
    await create_admin(admin.db, "lead", role="tenant-admin", tenants=["acme"])
    admin.http.cookies.clear()
    await admin.sign_in("lead", ADMIN_PASSWORD)
    page = await admin.get(f"/admin/tenants/{tenant_id}")
    assert "$500.00" in page.text and "/remove" not in page.text  # the tenant's own: shown, not removable
    own = await admin.post(f"/admin/tenants/{tenant_id}/budgets", {"window": "day", "amount_usd": "5"})
    assert own.status_code == 422 and "Only an admin sets the tenant&#39;s own budgets" in own.text
    member = await admin.post(
        f"/admin/tenants/{tenant_id}/budgets", {"member": "ann", "window": "month", "amount_usd": "50"}
    )
    assert member.status_code == 303, member.text
    async with admin.db.session() as session:
        tenant_budget = next(b for b in await list_budgets(session) if b.subject_kind == "tenant")
    refused = await admin.post(f"/admin/tenants/{tenant_id}/budgets/{tenant_budget.id}/remove", {})
    assert refused.status_code == 403
    assert await _budgets(admin) == [("tenant", "", "month", 500.0), ("member", "ann", "month", 50.0)]
