"""Providers, deployments and chains through the admin page."""

from __future__ import annotations

import re
from typing import Any

from router.config.rules import written_rule
from router.store import catalog
from router.store.crypto import CredentialCipher
from router.store.models import Provider
from tests.admin.conftest import ADMIN_PASSWORD, SECRET, AdminClient, create_admin

SECRET_CREDENTIAL = "sk-very-secret-credential-123"


def location_id(response: Any, kind: str) -> int:
    match = re.match(rf"/admin/{kind}/(\d+)", response.headers["location"])
    assert match, response.headers.get("location")
    return int(match.group(1))


async def make_provider(client: AdminClient, name: str = "oa", **extra: str) -> int:
    await client.get("/admin/providers")
    response = await client.post(
        "/admin/providers",
        {
            "name": name,
            "kind": "openai",
            "api_base": "http://127.0.0.1:9/v1",
            "api_key": SECRET_CREDENTIAL,
            **extra,
        },
    )
    assert response.status_code == 303, response.text
    return location_id(response, "providers")


async def test_provider_credential_is_write_only(admin: AdminClient) -> None:
    provider_id = await make_provider(admin)
    page = await admin.get(f"/admin/providers/{provider_id}")
    assert page.status_code == 200
    assert SECRET_CREDENTIAL not in page.text and "A credential is stored" in page.text
    assert SECRET_CREDENTIAL not in (await admin.get("/admin/providers")).text
    # Blank keeps it, a value replaces it, "remove" clears it.
    await admin.post(f"/admin/providers/{provider_id}", {"name": "oa", "kind": "openai", "api_key": ""})
    async with admin.db.session() as session:
        row = await catalog.get_provider(session, provider_id)
    cipher = admin.http.app.state.cipher
    assert cipher.decrypt(row.credential_encrypted) == SECRET_CREDENTIAL
    await admin.post(f"/admin/providers/{provider_id}", {"name": "oa", "kind": "openai", "api_key": "sk-new"})
    async with admin.db.session() as session:
        row = await catalog.get_provider(session, provider_id)
    assert cipher.decrypt(row.credential_encrypted) == "sk-new"
    await admin.post(
        f"/admin/providers/{provider_id}", {"name": "oa", "kind": "openai", "remove_credential": "on"}
    )
    async with admin.db.session() as session:
        row = await catalog.get_provider(session, provider_id)
    assert row.credential_encrypted is None


async def test_provider_errors_do_not_echo_the_credential(admin: AdminClient) -> None:
    await make_provider(admin)
    response = await admin.post(
        "/admin/providers",
        {
            "name": "oa",
            "kind": "Open AI!",
            "api_base": "ftp://x",
            "api_key": SECRET_CREDENTIAL,
            "extra_params": "[1",
        },
    )
    assert response.status_code == 422
    assert SECRET_CREDENTIAL not in response.text
    assert "must be an http:// or https:// URL" in response.text
    assert "JSON object" in response.text
    dup = await admin.post("/admin/providers", {"name": "oa", "kind": "openai"})
    assert dup.status_code == 422 and "already exists" in dup.text
    bad_kind = await admin.post("/admin/providers", {"name": "oa2", "kind": "Open AI!"})
    assert bad_kind.status_code == 422 and "Unknown provider kind &#39;Open AI!&#39;" in bad_kind.text
    # A well-formed name that is no provider kind at all is refused too, alongside the other fields' problems.
    unknown = await admin.post(
        "/admin/providers", {"name": "-bad", "kind": "openia", "api_base": "http://user:pw@x.example"}
    )
    assert unknown.status_code == 422, unknown.text
    assert "Unknown provider kind &#39;openia&#39;" in unknown.text
    assert (
        "Name &#39;-bad&#39;" in unknown.text and "Must not contain a user name or password" in unknown.text
    )


async def test_test_connection_reports_failure_readably(admin: AdminClient) -> None:
    provider_id = await make_provider(admin)
    await admin.get(f"/admin/providers/{provider_id}")
    response = await admin.htmx("POST", f"/admin/providers/{provider_id}/test", {"model": "gpt-4.1-mini"})
    assert response.status_code == 200
    assert "flash" in response.text and SECRET_CREDENTIAL not in response.text
    missing = await admin.htmx("POST", f"/admin/providers/{provider_id}/test", {"model": ""})
    assert "Model is required" in missing.text


async def test_deployment_create_edit_and_unknown_provider(admin: AdminClient) -> None:
    await make_provider(admin, "az", kind="azure")
    bad = await admin.post(
        "/admin/deployments", {"name": "eu", "provider": "nope", "deployment": "d", "model": "m"}
    )
    assert bad.status_code == 422 and "unknown provider" in bad.text.lower()
    await make_provider(admin, "oa", kind="openai")
    not_azure = await admin.post(
        "/admin/deployments", {"name": "-x", "provider": "oa", "deployment": "d", "model": "m"}
    )
    # Both problems at once: the name, and a provider that is not of kind azure.
    assert not_azure.status_code == 422
    assert "a deployment needs an azure provider" in not_azure.text and "Name &#39;-x&#39;" in not_azure.text
    ok = await admin.post(
        "/admin/deployments", {"name": "eu", "provider": "az", "deployment": "gpt4o-eu", "model": "gpt-4o"}
    )
    assert ok.status_code == 303
    async with admin.db.session() as session:
        (dep,) = await catalog.list_deployments(session)
    page = await admin.get(f"/admin/deployments/{dep.id}")
    assert page.status_code == 200 and "gpt4o-eu" in page.text
    saved = await admin.post(
        f"/admin/deployments/{dep.id}",
        {"name": "eu", "provider": "az", "deployment": "gpt4o-eu2", "model": "gpt-4o"},
    )
    assert saved.status_code == 303
    moved = await admin.post(
        f"/admin/deployments/{dep.id}", {"name": "eu", "provider": "oa", "deployment": "d", "model": "m"}
    )
    assert moved.status_code == 422 and "a deployment needs an azure provider" in moved.text
    assert (await admin.get("/admin/deployments/99999")).status_code == 404


async def test_provider_in_use_cannot_be_deleted(admin: AdminClient) -> None:
    provider_id = await make_provider(admin)
    async with admin.db.transaction() as session:
        await catalog.create_rule(session, written_rule("claude-*", target="oa/gpt-4.1"), actor="test")
    await admin.get(f"/admin/providers/{provider_id}")
    response = await admin.post(f"/admin/providers/{provider_id}/delete", {})
    assert response.status_code == 422 and "still used by" in response.text


async def test_chain_create_and_edit_targets(admin: AdminClient) -> None:
    await make_provider(admin)
    await admin.get("/admin/chains")
    bad = await admin.post("/admin/chains", {"name": "main", "targets": "ghost/x", "retries": "99"})
    assert bad.status_code == 422 and 'value="main"' in bad.text
    created = await admin.post(
        "/admin/chains",
        {"name": "main", "targets": "oa/gpt-4.1\noa/gpt-4.1-mini", "retries": "1", "backoff_ms": "100"},
    )
    assert created.status_code == 303, created.text
    chain_id = location_id(created, "chains")
    await admin.get(f"/admin/chains/{chain_id}")
    added = await admin.htmx("POST", f"/admin/chains/{chain_id}/targets", {"target": "oa/o3"})
    assert added.status_code == 200 and "oa/o3" in added.text
    unknown = await admin.htmx("POST", f"/admin/chains/{chain_id}/targets", {"target": "nope/x"})
    assert unknown.status_code == 422 and "unknown provider" in unknown.text.lower()
    moved = await admin.htmx("POST", f"/admin/chains/{chain_id}/targets/2/move", {"direction": "up"})
    assert moved.status_code == 200
    removed = await admin.htmx("POST", f"/admin/chains/{chain_id}/targets/0/remove")
    assert removed.status_code == 200
    async with admin.db.session() as session:
        chain = await catalog.get_chain(session, chain_id)
    assert catalog.chain_refs(chain) == ["oa/o3", "oa/gpt-4.1-mini"]
    assert (await admin.htmx("POST", f"/admin/chains/{chain_id}/targets/9/remove")).status_code == 404
    settings = await admin.post(
        f"/admin/chains/{chain_id}", {"name": "main", "retries": "abc", "backoff_ms": "5"}
    )
    assert settings.status_code == 422 and "Retries must be a whole number" in settings.text


async def test_missing_objects_are_404(admin: AdminClient) -> None:
    for url in ("/admin/providers/999", "/admin/chains/999", "/admin/tenants/999/keys/1"):
        assert (await admin.get(url)).status_code == 404, url
    assert SECRET  # the module's constants stay in use


async def test_admins_edit_a_providers_settings_but_only_owners_touch_its_credential(
    anon: AdminClient,
) -> None:
    async with anon.db.transaction() as session:
        made = await catalog.create_provider(
            session,
            cipher=CredentialCipher(SECRET),
            name="oa",
            kind="openai",
            api_base="http://127.0.0.1:9/v1",
            api_key=SECRET_CREDENTIAL,
        )
    provider_id = made.id
    stored = made.credential_encrypted
    await create_admin(anon.db, "editor", role="admin")
    await anon.sign_in("editor", ADMIN_PASSWORD)

    page = await anon.get(f"/admin/providers/{provider_id}")
    assert page.status_code == 200
    assert 'name="api_key"' not in page.text and "Only an owner sets, replaces or removes it" in page.text
    assert "Delete provider" not in page.text
    saved = await anon.post(
        f"/admin/providers/{provider_id}",
        {
            "name": "oa",
            "kind": "openai",
            "api_base": "http://127.0.0.1:9/v2",
            "extra_params": '{"timeout": 30}',
        },
    )
    assert saved.status_code == 303, saved.text

    for credential in ({"api_key": "sk-admin-tries"}, {"remove_credential": "on"}):
        refused = await anon.post(
            f"/admin/providers/{provider_id}",
            {"name": "oa", "kind": "openai", "api_base": "http://127.0.0.1:9/v3", **credential},
        )
        assert refused.status_code == 403 and "Only an owner" in refused.text, credential
    async with anon.db.session() as session:
        row = await session.get(Provider, provider_id)
    # The settings the admin may change changed; the refused forms saved nothing, credential included.
    assert row is not None and row.api_base == "http://127.0.0.1:9/v2" and row.extra_params == {"timeout": 30}
    assert row.credential_encrypted == stored

    await anon.get("/admin/providers")
    bare = await anon.post("/admin/providers", {"name": "groq", "kind": "groq"})
    assert bare.status_code == 303, bare.text
    keyed = await anon.post("/admin/providers", {"name": "mistral", "kind": "mistral", "api_key": "m-key"})
    assert keyed.status_code == 403
    async with anon.db.session() as session:
        assert await catalog.find_provider(session, "mistral") is None
    assert (await anon.post(f"/admin/providers/{provider_id}/delete")).status_code == 403
