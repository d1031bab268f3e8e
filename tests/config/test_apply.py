"""`config apply` and `config export` against SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import func, select, text

from router.config.drafts import ConfigInvalid
from router.config.schema import ConfigFileError
from router.routing.model import RequestFacts, Target
from router.routing.resolve import Resolver
from router.store.crypto import CredentialCipher
from router.store.db import Database
from router.store.models import AuditEntry, Chain, Provider, Rule, Tenant
from router.store.snapshot import ModelFacts, load_routing_config
from router.store.tenants import create_tenant
from router.store.version import get_config_version
from tests.config.conftest import ENV, EXAMPLE, SECRETS, apply, export


async def counts(db: Database) -> dict[str, int]:
    async with db.session() as s:
        return {
            m.__tablename__: int(await s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Provider, Chain, Rule, Tenant)
        }


async def test_the_example_applies_and_routes_as_written(
    database: Database, cipher: CredentialCipher
) -> None:
    result = await apply(database, EXAMPLE, cipher)
    lines = result.lines()
    assert "+ provider openai" in lines
    assert "+ deployment gpt4o-eu" in lines
    assert "+ chain big: openai/gpt-4.1 -> deployment/gpt4o-eu -> gemini/gemini-2.5-pro" in lines
    assert "+ rule[0] *haiku* -> openai/gpt-4.1-mini" in lines
    assert "+ tenant acme" in lines
    assert "+ tenant acme rule[0] claude-opus-* -> deployment/gpt4o-eu" in lines
    async with database.session() as s:
        config = await load_routing_config(s, cipher, lambda kind, model: ModelFacts())
    resolver = Resolver(config)
    acme = next(t.id for t in config.tenants.values() if t.name == "acme")
    route = resolver.resolve(acme, RequestFacts("claude-opus-4-1"))
    assert [t.ref for t in route.targets] == ["deployment/gpt4o-eu"]
    first = route.targets[0]
    assert isinstance(first, Target) and first.upstream_model == "gpt-4o-prod"
    assert first.provider.credential == "azure-secret-value"
    route = resolver.resolve(acme, RequestFacts("claude-sonnet-4"))
    assert [t.ref for t in route.targets] == [
        "openai/gpt-4.1",
        "deployment/gpt4o-eu",
        "gemini/gemini-2.5-pro",
    ]
    route = resolver.resolve(acme, RequestFacts("claude-sonnet-4", thinking=True))
    assert [t.ref for t in route.targets] == ["gemini/gemini-2.5-pro"]


async def test_applying_the_same_file_again_changes_nothing(
    database: Database, cipher: CredentialCipher
) -> None:
    await apply(database, EXAMPLE, cipher)
    async with database.session() as s:
        version = await get_config_version(s)
    again = await apply(database, EXAMPLE, cipher)
    assert again.lines() == ["no changes"]
    async with database.session() as s:
        assert await get_config_version(s) == version


async def test_export_then_apply_is_a_no_op_and_export_holds_no_credential(
    database: Database, cipher: CredentialCipher
) -> None:
    await apply(database, EXAMPLE, cipher)
    exported = await export(database)
    for secret in SECRETS:
        assert secret not in exported.text
    doc = yaml.safe_load(exported.text)
    assert [p["api_key"] for p in doc["providers"]] == [
        "${AZURE_API_KEY}",
        "${GEMINI_API_KEY}",
        "${OPENAI_API_KEY}",
    ]
    assert set(exported.env_vars) == set(ENV)
    assert (await apply(database, exported.text, cipher)).lines() == ["no changes"]


async def test_credentials_are_stored_encrypted_with_their_reference(
    database: Database, cipher: CredentialCipher
) -> None:
    await apply(database, EXAMPLE, cipher)
    async with database.session() as s:
        rows = (
            await s.execute(text("SELECT name, credential_encrypted, credential_ref FROM providers"))
        ).all()
    for name, stored, ref in rows:
        assert stored and all(secret not in stored for secret in SECRETS)
        assert (
            ref == {"openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY", "azure-eu": "AZURE_API_KEY"}[name]
        )
        assert cipher.decrypt(stored) == ENV[ref]


async def test_a_credential_without_reference_exports_as_name_api_key(
    database: Database, cipher: CredentialCipher
) -> None:
    literal = EXAMPLE.replace('"${AZURE_API_KEY}"', '"azure-literal-secret"')
    await apply(database, literal, cipher)
    exported = await export(database)
    assert "azure-literal-secret" not in exported.text
    assert "${AZURE_EU_API_KEY}" in exported.text
    assert "AZURE_EU_API_KEY" in exported.env_vars


async def test_dry_run_reports_but_writes_nothing(database: Database, cipher: CredentialCipher) -> None:
    before = await counts(database)
    result = await apply(database, EXAMPLE, cipher, dry_run=True)
    assert not result.applied and "+ provider openai" in result.lines()
    assert await counts(database) == before
    async with database.session() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry)) == 0


async def test_things_left_out_are_removed_but_tenants_only_lose_their_rules(
    database: Database, cipher: CredentialCipher
) -> None:
    await apply(database, EXAMPLE, cipher)
    smaller = """
providers:
  - {name: openai, kind: openai, api_base: "http://127.0.0.1:9100/v1", api_key: "${OPENAI_API_KEY}"}
rules:
  - {match: "*haiku*", target: openai/gpt-4.1-mini}
  - {match: "*", target: openai/gpt-4.1}
"""
    lines = (await apply(database, smaller, cipher)).lines()
    for expected in (
        "- provider gemini",
        "- provider azure-eu",
        "- deployment gpt4o-eu",
        "- chain big",
        "- tenant acme rule[0] claude-opus-* -> deployment/gpt4o-eu",
        "~ rule[1] * -> openai/gpt-4.1",
        "- rule[2] * -> chain big",
    ):
        assert expected in lines, lines
    assert await counts(database) == {"providers": 1, "chains": 0, "rules": 2, "tenants": 1}


async def test_rules_are_stored_in_file_order_and_reordering_is_a_change(
    database: Database, cipher: CredentialCipher
) -> None:
    await apply(database, EXAMPLE, cipher)
    haiku = '  - {match: "*haiku*", target: openai/gpt-4.1-mini}\n'
    thinking = '  - {match: "*", when: {thinking: true}, target: gemini/gemini-2.5-pro}\n'
    swapped = EXAMPLE.replace(haiku + thinking, thinking + haiku)
    assert swapped != EXAMPLE
    lines = (await apply(database, swapped, cipher)).lines()
    assert lines == [
        "~ rule[0] * -> gemini/gemini-2.5-pro when thinking=True",
        "~ rule[1] *haiku* -> openai/gpt-4.1-mini",
    ]
    assert (await apply(database, swapped, cipher)).lines() == ["no changes"]


async def test_an_unknown_key_is_an_error_naming_its_path_and_nothing_is_applied(
    database: Database, cipher: CredentialCipher
) -> None:
    bad = EXAMPLE.replace('{match: "claude-opus-*", target', '{match: "claude-opus-*", taget')
    with pytest.raises(ConfigFileError) as exc:
        await apply(database, bad, cipher)
    assert "tenants[0].rules[0].taget: unknown key" in str(exc.value)
    assert await counts(database) == {"providers": 0, "chains": 0, "rules": 0, "tenants": 0}


async def test_a_missing_env_var_is_an_error_naming_it(database: Database, cipher: CredentialCipher) -> None:
    env = {k: v for k, v in ENV.items() if k != "GEMINI_API_KEY"}
    with pytest.raises(
        ConfigFileError, match=r"providers\[1\]\.api_key: environment variable GEMINI_API_KEY"
    ):
        await apply(database, EXAMPLE, cipher, env=env)
    assert (await counts(database))["providers"] == 0


async def test_an_invalid_config_lists_every_problem_and_applies_nothing(
    database: Database, cipher: CredentialCipher
) -> None:
    bad = EXAMPLE.replace("target: openai/gpt-4.1-mini", "target: opnai/gpt-4.1-mini").replace(
        '"claude-opus-*"', '"re:claude-(opus"'
    )
    with pytest.raises(ConfigInvalid) as exc:
        await apply(database, bad, cipher)
    messages = [str(i) for i in exc.value.issues]
    assert "rules[0].target: unknown provider 'opnai' in 'opnai/gpt-4.1-mini'" in messages
    assert any(m.startswith("tenants[0].rules[0].match: invalid regex 'claude-(opus'") for m in messages)
    assert (await counts(database))["providers"] == 0


async def test_a_tenant_absent_from_the_file_keeps_its_limits(
    database: Database, cipher: CredentialCipher
) -> None:
    async with database.transaction() as s:
        await create_tenant(s, "beta", rpm=5)
    await apply(database, EXAMPLE, cipher)
    async with database.session() as s:
        beta = await s.scalar(select(Tenant).where(Tenant.name == "beta"))
    assert beta is not None and beta.rpm == 5


async def test_tenant_limits_and_allowed_targets_round_trip(
    database: Database, cipher: CredentialCipher
) -> None:
    with_limits = EXAMPLE.replace(
        "  - name: acme\n",
        "  - name: acme\n    limits: {rpm: 60, tpm: 100000, budget_usd: 25.5}\n"
        "    allowed_targets: [deployment/gpt4o-eu, 'openai/*']\n",
    )
    await apply(database, with_limits, cipher)
    async with database.session() as s:
        acme = await s.scalar(select(Tenant).where(Tenant.name == "acme"))
    assert acme is not None and (acme.rpm, acme.tpm, acme.budget_usd) == (60, 100000, 25.5)
    assert acme.allowed_targets == ["deployment/gpt4o-eu", "openai/*"]
    exported = await export(database)
    assert (await apply(database, exported.text, cipher)).lines() == ["no changes"]
    lines = (await apply(database, EXAMPLE, cipher)).lines()
    assert lines == ["~ tenant acme (rpm, tpm, budget_usd, allowed_targets)"]


async def test_a_changed_credential_is_reported_without_its_value(
    database: Database, cipher: CredentialCipher
) -> None:
    await apply(database, EXAMPLE, cipher)
    result = await apply(database, EXAMPLE, cipher, env={**ENV, "OPENAI_API_KEY": "sk-rotated"})
    assert result.lines() == ["~ provider openai (credential)"]
    async with database.session() as s:
        audit = (await s.scalars(select(AuditEntry))).all()
    assert all("sk-rotated" not in str(a.before) + str(a.after) for a in audit)


async def test_member_self_service_round_trips_through_apply_and_export(
    database: Database, cipher: CredentialCipher
) -> None:
    allowed = EXAMPLE.replace("  - name: acme\n", "  - name: acme\n    member_self_service: true\n")
    await apply(database, allowed, cipher)
    async with database.session() as s:
        acme = await s.scalar(select(Tenant).where(Tenant.name == "acme"))
    assert acme is not None and acme.member_self_service is True
    exported = await export(database)
    assert yaml.safe_load(exported.text)["tenants"][0]["member_self_service"] is True
    assert (await apply(database, exported.text, cipher)).lines() == ["no changes"]
    assert (await apply(database, EXAMPLE, cipher)).lines() == ["~ tenant acme (member_self_service)"]
    async with database.session() as s:
        acme = await s.scalar(select(Tenant).where(Tenant.name == "acme"))
    assert acme is not None and acme.member_self_service is False
    assert "member_self_service" not in yaml.safe_load((await export(database)).text)["tenants"][0]
    with pytest.raises(ConfigFileError, match="member_self_service"):
        await apply(database, allowed.replace("member_self_service: true", "member_self_service: 3"), cipher)
