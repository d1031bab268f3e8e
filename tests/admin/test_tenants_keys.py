"""Tenants and their keys through the admin page."""

from __future__ import annotations

import re

from router.store import keys as key_store
from router.store import tenants as tenant_store
from tests.admin.conftest import AdminClient


async def create_tenant(client: AdminClient, name: str) -> int:
    response = await client.post("/admin/tenants", {"name": name, "rpm": "60"})
    assert response.status_code == 303, response.text
    match = re.match(r"/admin/tenants/(\d+)", response.headers["location"])
    assert match
    return int(match.group(1))


async def test_create_tenant_then_list_it(admin: AdminClient) -> None:
    tenant_id = await create_tenant(admin, "acme")
    page = await admin.get("/admin/tenants")
    assert f'href="/admin/tenants/{tenant_id}">acme<' in page.text
    async with admin.db.session() as session:
        tenant = await tenant_store.get_tenant(session, "acme")
    assert tenant.rpm == 60


async def test_duplicate_and_invalid_names_are_field_errors(admin: AdminClient) -> None:
    await create_tenant(admin, "acme")
    duplicate = await admin.post("/admin/tenants", {"name": "acme"})
    assert duplicate.status_code == 422 and "already exists" in duplicate.text
    bad = await admin.post("/admin/tenants", {"name": "no spaces please", "rpm": "-1", "budget_usd": "abc"})
    assert bad.status_code == 422
    assert "Invalid tenant name" in bad.text or "must be between" in bad.text
    assert "Monthly budget must be a number" in bad.text
    assert 'value="no spaces please"' in bad.text
    too_long = await admin.post("/admin/tenants", {"name": "x" * 500})
    assert too_long.status_code == 422 and "at most 100 characters" in too_long.text


async def test_rename_disable_and_limits(admin: AdminClient) -> None:
    tenant_id = await create_tenant(admin, "acme")
    await admin.get(f"/admin/tenants/{tenant_id}")
    assert (await admin.post(f"/admin/tenants/{tenant_id}/rename", {"name": "acme-2"})).status_code == 303
    assert (await admin.post(f"/admin/tenants/{tenant_id}/enabled", {"enabled": "0"})).status_code == 303
    limits = await admin.post(
        f"/admin/tenants/{tenant_id}/limits",
        {"rpm": "", "tpm": "1000", "budget_usd": "12.5", "allowed_targets": "oa/gpt-4.1\ndeployment/eu"},
    )
    assert limits.status_code == 303
    async with admin.db.session() as session:
        tenant = await tenant_store.get_tenant(session, "acme-2")
    assert not tenant.enabled and tenant.rpm is None and tenant.tpm == 1000 and tenant.budget_usd == 12.5
    assert tenant.allowed_targets == ["oa/gpt-4.1", "deployment/eu"]
    bad = await admin.post(f"/admin/tenants/{tenant_id}/limits", {"tpm": "1e99"})
    assert bad.status_code == 422 and "whole number" in bad.text


async def test_delete_needs_the_typed_name(admin: AdminClient) -> None:
    tenant_id = await create_tenant(admin, "acme")
    confirm = await admin.get(f"/admin/tenants/{tenant_id}/delete")
    assert confirm.status_code == 200 and "Delete tenant acme?" in confirm.text
    wrong = await admin.post(f"/admin/tenants/{tenant_id}/delete", {"confirm_name": "acm"})
    assert wrong.status_code == 422
    right = await admin.post(f"/admin/tenants/{tenant_id}/delete", {"confirm_name": "acme"})
    assert right.status_code == 303
    assert (await admin.get(f"/admin/tenants/{tenant_id}")).status_code == 404


async def test_missing_tenant_is_a_404_page(admin: AdminClient) -> None:
    response = await admin.get("/admin/tenants/424242")
    assert response.status_code == 404 and "no tenant with id 424242" in response.text


async def test_issue_key_shows_it_once_with_claude_code_settings(admin: AdminClient) -> None:
    tenant_id = await create_tenant(admin, "acme")
    await admin.get(f"/admin/tenants/{tenant_id}")
    posted = await admin.post(
        f"/admin/tenants/{tenant_id}/keys",
        {"member": "ann@example.com", "expires": "30d", "allowed_models": "claude-*"},
    )
    # Post/redirect/get: the POST answers with a redirect; the page it names shows the key once.
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"] == f"/admin/tenants/{tenant_id}?notice=issued"
    assert "sk-rt-" not in posted.text
    issued = await admin.get(posted.headers["location"])
    assert issued.status_code == 200, issued.text
    key = re.search(r'id="issued-key" type="text" readonly value="(sk-rt-[^"]+)"', issued.text)
    assert key
    plaintext = key.group(1)
    assert "export ANTHROPIC_BASE_URL=http://router.test" in issued.text
    assert f"export ANTHROPIC_AUTH_TOKEN={plaintext}" in issued.text
    assert issued.headers["cache-control"] == "no-store"
    later = await admin.get(f"/admin/tenants/{tenant_id}")
    assert plaintext not in later.text and plaintext[:12] in later.text
    async with admin.db.session() as session:
        (row,) = await key_store.list_keys(session, "acme")
    assert row.key_hash not in later.text
    assert row.expires_at is not None and row.allowed_models == ["claude-*"]


async def test_key_form_errors_keep_what_was_typed(admin: AdminClient) -> None:
    tenant_id = await create_tenant(admin, "acme")
    response = await admin.post(
        f"/admin/tenants/{tenant_id}/keys", {"member": "bob", "expires": "soon", "rpm": "x"}
    )
    assert response.status_code == 422
    assert "invalid duration" in response.text.lower() and 'value="soon"' in response.text
    assert "Requests per minute must be a whole number" in response.text
    blank = await admin.post(f"/admin/tenants/{tenant_id}/keys", {"member": ""})
    assert blank.status_code == 422 and "Member is required" in blank.text


async def test_revoke_and_limits_only_through_the_owning_tenant(admin: AdminClient) -> None:
    acme = await create_tenant(admin, "acme")
    other = await create_tenant(admin, "other")
    async with admin.db.transaction() as session:
        key, _ = await key_store.create_key(session, "acme", "ann", actor="test")
    await admin.get(f"/admin/tenants/{acme}")
    assert (await admin.get(f"/admin/tenants/{other}/keys/{key.id}")).status_code == 404
    assert (await admin.post(f"/admin/tenants/{other}/keys/{key.id}/revoke", {})).status_code == 404
    limits = await admin.post(f"/admin/tenants/{other}/keys/{key.id}/limits", {"rpm": "1"})
    assert limits.status_code == 404
    async with admin.db.session() as session:
        (row,) = await key_store.list_keys(session, "acme")
    assert row.revoked_at is None and row.rpm is None

    assert (await admin.post(f"/admin/tenants/{acme}/keys/{key.id}/limits", {"rpm": "5"})).status_code == 303
    assert (await admin.post(f"/admin/tenants/{acme}/keys/{key.id}/revoke", {})).status_code == 303
    async with admin.db.session() as session:
        (row,) = await key_store.list_keys(session, "acme")
    assert row.revoked_at is not None and row.rpm == 5


async def test_tenant_mutation_without_csrf_is_refused(admin: AdminClient) -> None:
    response = await admin.post("/admin/tenants", {"name": "sneaky"}, csrf=False)
    assert response.status_code == 403
    async with admin.db.session() as session:
        assert await tenant_store.get_tenant_by_name(session, "sneaky") is None
