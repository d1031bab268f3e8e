"""store.catalog: validated, audited CRUD shared by the admin page and config apply."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from router.config.rules import written_rule
from router.store import catalog
from router.store.catalog import CatalogConflict, CatalogError
from router.store.crypto import CredentialCipher
from router.store.db import Database, NotFoundError
from router.store.models import AuditEntry, Tenant
from router.store.tenants import create_tenant
from router.store.version import get_config_version


async def seed(db: Database, cipher: CredentialCipher) -> None:
    async with db.transaction() as s:
        await catalog.create_provider(
            s,
            cipher=cipher,
            name="openai",
            kind="openai",
            api_base="https://api.openai.com/v1",
            api_key="sk-secret",
        )
        await catalog.create_provider(
            s, cipher=cipher, name="az", kind="azure", api_base="https://az.example"
        )
        await catalog.create_deployment(
            s, name="gpt4o", provider="az", deployment="gpt-4o-prod", model="gpt-4o"
        )
        await catalog.create_chain(s, name="big", targets=["openai/gpt-4.1", "deployment/gpt4o"])


async def test_provider_credential_is_encrypted_and_never_in_the_audit(
    database: Database, cipher: CredentialCipher
) -> None:
    async with database.session() as s:
        before = await get_config_version(s)
    await seed(database, cipher)
    async with database.session() as s:
        stored = (
            await s.execute(text("SELECT credential_encrypted FROM providers WHERE name='openai'"))
        ).scalar()
        audit = (await s.scalars(select(AuditEntry))).all()
        assert await get_config_version(s) == before + 4
    assert stored and "sk-secret" not in stored and cipher.decrypt(stored) == "sk-secret"
    assert {(a.action, a.object_type) for a in audit} >= {("create", "provider"), ("create", "chain")}
    assert all("sk-secret" not in str(a.after) for a in audit)
    async with database.session() as s:
        openai = await catalog.find_provider(s, "openai")
    assert openai is not None and catalog.provider_state(openai)["has_credential"] is True


@pytest.mark.parametrize(
    ("api_base", "problem"),
    [
        ("ftp://x/v1", "http:// or https://"),
        ("https://u:p@x/v1", "user name or password"),
        ("https://x/v1?key=abc", "credential in the query string"),
    ],
)
async def test_api_base_is_refused_naming_the_field(
    database: Database, cipher: CredentialCipher, api_base: str, problem: str
) -> None:
    async with database.transaction() as s:
        with pytest.raises(CatalogError) as exc:
            await catalog.create_provider(s, cipher=cipher, name="p", kind="openai", api_base=api_base)
    assert exc.value.field == "api_base" and problem in str(exc.value)


async def test_duplicate_and_unknown_names_are_clear_errors(
    database: Database, cipher: CredentialCipher
) -> None:
    await seed(database, cipher)
    async with database.transaction() as s:
        with pytest.raises(CatalogConflict):
            await catalog.create_provider(s, cipher=cipher, name="openai", kind="openai")
        with pytest.raises(CatalogError, match="unknown provider 'opnai'"):
            await catalog.create_rule(s, written_rule("*", target="opnai/gpt-4.1"))
        with pytest.raises(CatalogError, match="unknown chain 'small'"):
            await catalog.create_rule(s, written_rule("*", chain="small"))
        with pytest.raises(CatalogError, match="invalid regex"):
            await catalog.create_rule(s, written_rule("re:(", target="openai/x"))
        with pytest.raises(NotFoundError):
            await catalog.get_rule(s, 999)


async def test_deleting_a_chain_used_by_a_rule_is_refused(
    database: Database, cipher: CredentialCipher
) -> None:
    await seed(database, cipher)
    async with database.transaction() as s:
        rule = await catalog.create_rule(s, written_rule("*", chain="big"))
        chain = await catalog.find_chain(s, "big")
        assert chain is not None
        with pytest.raises(CatalogError, match=rf"chain 'big' is used by rule {rule.id}"):
            await catalog.delete_chain(s, chain.id)
        with pytest.raises(CatalogError, match="still used by chain 'big'"):
            await catalog.delete_provider(s, (await catalog.find_provider(s, "az")).id)  # type: ignore[union-attr]
        await catalog.delete_rule(s, rule.id)
        await catalog.delete_chain(s, chain.id)
        assert await catalog.find_chain(s, "big") is None


async def test_renaming_a_provider_rewrites_its_refs(database: Database, cipher: CredentialCipher) -> None:
    await seed(database, cipher)
    async with database.transaction() as s:
        rule = await catalog.create_rule(s, written_rule("*haiku*", target="openai/gpt-4.1-mini"))
        provider = await catalog.find_provider(s, "openai")
        assert provider is not None
        await catalog.update_provider(s, provider.id, cipher=cipher, name="oai")
    async with database.session() as s:
        assert (await catalog.get_rule(s, rule.id)).target == "oai/gpt-4.1-mini"
        chain = await catalog.find_chain(s, "big")
        assert chain is not None and catalog.chain_refs(chain) == ["oai/gpt-4.1", "deployment/gpt4o"]


async def test_chain_targets_add_move_remove(database: Database, cipher: CredentialCipher) -> None:
    await seed(database, cipher)
    async with database.transaction() as s:
        chain = await catalog.find_chain(s, "big")
        assert chain is not None
        await catalog.add_chain_target(s, chain.id, "openai/gpt-4o", position=0)
        await catalog.move_chain_target(s, chain.id, 2, "up")
        refs = catalog.chain_refs(await catalog.get_chain(s, chain.id))
        assert refs == ["openai/gpt-4o", "deployment/gpt4o", "openai/gpt-4.1"]
        await catalog.remove_chain_target(s, chain.id, 0)
        assert catalog.chain_refs(await catalog.get_chain(s, chain.id)) == [
            "deployment/gpt4o",
            "openai/gpt-4.1",
        ]
        with pytest.raises(CatalogError, match="listed twice"):
            await catalog.add_chain_target(s, chain.id, "openai/gpt-4.1")


async def test_rules_move_and_reorder_change_the_evaluation_order(
    database: Database, cipher: CredentialCipher
) -> None:
    await seed(database, cipher)
    async with database.transaction() as s:
        tenant = await create_tenant(s, "acme")
        a = await catalog.create_rule(s, written_rule("a", target="openai/a"), tenant_id=tenant.id)
        b = await catalog.create_rule(
            s, written_rule("b", target="openai/b", priority=5), tenant_id=tenant.id
        )
        c = await catalog.create_rule(s, written_rule("c", target="openai/c"), tenant_id=tenant.id)
        assert [r.id for r in await catalog.list_rules(s, tenant.id)] == [a.id, c.id, b.id]
        await catalog.move_rule(s, b.id, "up")
        assert [r.id for r in await catalog.list_rules(s, tenant.id)] == [a.id, b.id, c.id]
        await catalog.reorder_rules(s, tenant.id, [c.id, a.id, b.id])
        assert [r.id for r in await catalog.list_rules(s, tenant.id)] == [c.id, a.id, b.id]
        with pytest.raises(CatalogError, match="exactly once"):
            await catalog.reorder_rules(s, tenant.id, [c.id, a.id])
        assert await catalog.list_rules(s, None) == []


async def test_patching_a_rule_switches_between_target_and_chain(
    database: Database, cipher: CredentialCipher
) -> None:
    await seed(database, cipher)
    async with database.transaction() as s:
        rule = await catalog.create_rule(
            s, written_rule("claude-*", target="openai/gpt-4.1", conditions={"thinking": True})
        )
        assert rule.match_kind == "glob"
        await catalog.patch_rule(s, rule.id, {"chain": "big"})
        got = await catalog.get_rule(s, rule.id)
        assert got.target is None and got.chain is not None and got.chain.name == "big"
        await catalog.patch_rule(s, rule.id, {"match": "re:^claude", "overrides": {"max_tokens": 100}})
        got = await catalog.get_rule(s, rule.id)
        assert (got.match, got.match_kind, got.overrides) == ("^claude", "regex", {"max_tokens": 100})
        with pytest.raises(CatalogError) as exc:
            await catalog.patch_rule(s, rule.id, {"conditions": {"thinkin": True}})
        assert exc.value.field == "conditions.thinkin"


async def test_prices_set_and_delete(database: Database, cipher: CredentialCipher) -> None:
    await seed(database, cipher)
    async with database.transaction() as s:
        price = await catalog.set_price(s, target="deployment/gpt4o", input_per_mtok=2.5, output_per_mtok=10)
        again = await catalog.set_price(s, target="deployment/gpt4o", input_per_mtok=3, output_per_mtok=12)
        assert again.id == price.id and again.input_per_mtok == 3
        with pytest.raises(CatalogError, match="unknown deployment"):
            await catalog.set_price(s, target="deployment/none", input_per_mtok=1, output_per_mtok=1)
        await catalog.delete_price(s, price.id)
        assert await catalog.list_prices(s) == []
    async with database.session() as s:
        assert (await s.scalars(select(Tenant))).all() == []
