"""The admin page's Sign-in section: IdP groups that may sign in, tenants' managed settings, live sign-ins."""

from __future__ import annotations

from datetime import timedelta

from router.store.member_signin import create_signin_session, list_signin_sessions, member_key
from router.store.signin import MemberMapping, list_sso_mappings
from router.store.tenants import create_tenant, get_tenant_by_name
from tests.admin.conftest import AdminClient


async def test_groups_are_added_and_removed_in_the_page(admin: AdminClient) -> None:
    async with admin.db.transaction() as session:
        await create_tenant(session, "eng", actor="test")
    page = await admin.get("/admin/sign-in")
    assert page.status_code == 200
    assert "No group may sign in yet." in page.text
    added = await admin.post("/admin/sign-in/members", {"group": "engineering", "tenant": "eng"})
    assert added.status_code == 303
    async with admin.db.session() as session:
        assert (await list_sso_mappings(session))[0] == [MemberMapping("engineering", "eng")]
    page = await admin.get("/admin/sign-in")
    assert "engineering" in page.text
    # A tenant that does not exist and a duplicate are form errors, nothing stored.
    unknown = await admin.post("/admin/sign-in/members", {"group": "sales", "tenant": "nope"})
    assert unknown.status_code == 422
    assert "No tenant named" in unknown.text
    twice = await admin.post("/admin/sign-in/members", {"group": "engineering", "tenant": "eng"})
    assert twice.status_code == 422
    # The group's own settings, layered over the tenant's for people in it.
    layered = await admin.post(
        "/admin/sign-in/members/0/managed-settings", {"managed_settings": '{"env": {"B": "2"}}'}
    )
    assert layered.status_code == 303
    async with admin.db.session() as session:
        assert (await list_sso_mappings(session))[0] == [
            MemberMapping("engineering", "eng", {"env": {"B": "2"}})
        ]
    bad = await admin.post("/admin/sign-in/members/0/managed-settings", {"managed_settings": "nope"})
    assert bad.status_code == 422 and "Not valid JSON" in bad.text
    removed = await admin.post("/admin/sign-in/members/0/delete")
    assert removed.status_code == 303
    async with admin.db.session() as session:
        assert (await list_sso_mappings(session))[0] == []


async def test_a_tenants_managed_settings_are_edited_as_json(admin: AdminClient) -> None:
    async with admin.db.transaction() as session:
        tenant = await create_tenant(session, "eng", actor="test")
    url = f"/admin/sign-in/tenants/{tenant.id}/managed-settings"
    await admin.get("/admin/sign-in")
    saved = await admin.post(url, {"managed_settings": '{"model": "claude-sonnet-4-5", "env": {"A": "1"}}'})
    assert saved.status_code == 303
    async with admin.db.session() as session:
        stored = await get_tenant_by_name(session, "eng")
        assert stored is not None and stored.managed_settings == {
            "model": "claude-sonnet-4-5",
            "env": {"A": "1"},
        }
    broken = await admin.post(url, {"managed_settings": '{"model": '})
    assert broken.status_code == 422
    assert "Not valid JSON" in broken.text
    not_a_mapping = await admin.post(url, {"managed_settings": "[1, 2]"})
    assert not_a_mapping.status_code == 422
    # Emptying the box removes the policy (members then get 404: no managed settings).
    cleared = await admin.post(url, {"managed_settings": ""})
    assert cleared.status_code == 303
    async with admin.db.session() as session:
        stored = await get_tenant_by_name(session, "eng")
        assert stored is not None and stored.managed_settings is None


async def test_an_admin_signs_a_member_out_in_the_page(admin: AdminClient) -> None:
    async with admin.db.transaction() as session:
        tenant = await create_tenant(session, "eng", actor="test")
        key = await member_key(session, tenant.id, "alice@example.com", actor="test")
        signin = await create_signin_session(
            session,
            tenant_id=tenant.id,
            key_id=key.id,
            member="alice@example.com",
            subject="alice",
            groups=["engineering"],
            surface="claude_code",
            idp_refresh_token_encrypted=None,
            refresh_ttl=timedelta(days=1),
        )
    page = await admin.get("/admin/sign-in")
    assert "alice@example.com" in page.text
    out = await admin.post(f"/admin/sign-in/sessions/{signin.id}/revoke")
    assert out.status_code == 303
    async with admin.db.session() as session:
        assert await list_signin_sessions(session) == []
