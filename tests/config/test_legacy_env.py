"""Importing claude-code-proxy's environment into an empty database."""

from __future__ import annotations

from router.routing.model import RequestFacts
from router.routing.resolve import Resolver
from router.store import catalog
from router.store.crypto import CredentialCipher
from router.store.db import Database
from router.store.legacy_env import import_legacy_env
from router.store.snapshot import ModelFacts, load_routing_config
from router.store.tenants import create_tenant


async def imported_routes(
    db: Database, cipher: CredentialCipher, env: dict[str, str]
) -> dict[str, list[str]]:
    async with db.transaction() as s:
        await import_legacy_env(s, env, cipher)
        tenant = await create_tenant(s, "t")
    async with db.session() as s:
        config = await load_routing_config(s, cipher, lambda kind, model: ModelFacts())
    resolver = Resolver(config)
    return {
        family: [t.ref for t in resolver.resolve(tenant.id, RequestFacts(model)).targets]
        for family, model in (
            ("haiku", "claude-3-5-haiku-20241022"),
            ("sonnet", "claude-sonnet-4-20250514"),
            ("opus", "claude-opus-4-1-20250805"),
        )
    }


async def test_openai_defaults_map_haiku_small_and_sonnet_opus_big(
    database: Database, cipher: CredentialCipher
) -> None:
    routes = await imported_routes(database, cipher, {"OPENAI_API_KEY": "sk-1"})
    assert routes == {
        "haiku": ["openai/gpt-4.1-mini"],
        "sonnet": ["openai/gpt-4.1"],
        "opus": ["openai/gpt-4.1"],
    }


async def test_custom_models_and_base_url_are_kept(database: Database, cipher: CredentialCipher) -> None:
    env = {
        "OPENAI_API_KEY": "sk-1",
        "OPENAI_BASE_URL": "http://127.0.0.1:9100/v1",
        "BIG_MODEL": "gpt-4o",
        "SMALL_MODEL": "gpt-4o-mini",
    }
    routes = await imported_routes(database, cipher, env)
    assert routes["haiku"] == ["openai/gpt-4o-mini"] and routes["opus"] == ["openai/gpt-4o"]
    async with database.session() as s:
        provider = await catalog.find_provider(s, "openai")
    assert provider is not None
    assert provider.api_base == "http://127.0.0.1:9100/v1" and provider.credential_ref == "OPENAI_API_KEY"
    assert provider.credential_encrypted and cipher.decrypt(provider.credential_encrypted) == "sk-1"


async def test_google_preferred_falls_back_to_openai(database: Database, cipher: CredentialCipher) -> None:
    env = {
        "OPENAI_API_KEY": "sk-1",
        "GEMINI_API_KEY": "g-1",
        "PREFERRED_PROVIDER": "google",
        "BIG_MODEL": "gemini-2.5-pro",
        "SMALL_MODEL": "gemini-2.5-flash",
    }
    routes = await imported_routes(database, cipher, env)
    assert routes["sonnet"] == ["gemini/gemini-2.5-pro", "openai/gpt-4.1"]
    assert routes["opus"] == ["gemini/gemini-2.5-pro", "openai/gpt-4.1"]
    assert routes["haiku"] == ["gemini/gemini-2.5-flash", "openai/gpt-4.1-mini"]


async def test_anthropic_preferred_keeps_each_family_on_claude(
    database: Database, cipher: CredentialCipher
) -> None:
    routes = await imported_routes(
        database, cipher, {"ANTHROPIC_API_KEY": "sk-ant", "PREFERRED_PROVIDER": "anthropic"}
    )
    assert all(refs[0].startswith("anthropic/claude-") for refs in routes.values())
    assert "opus" in routes["opus"][0] and "haiku" in routes["haiku"][0]


async def test_nothing_happens_on_a_configured_database_or_without_keys(
    database: Database, cipher: CredentialCipher
) -> None:
    async with database.transaction() as s:
        assert await import_legacy_env(s, {"PREFERRED_PROVIDER": "openai"}, cipher) == []
        await catalog.create_provider(s, cipher=cipher, name="mine", kind="openai")
        assert await import_legacy_env(s, {"OPENAI_API_KEY": "sk-1"}, cipher) == []
        assert [p.name for p in await catalog.list_providers(s)] == ["mine"]


async def test_lines_say_what_was_created(database: Database, cipher: CredentialCipher) -> None:
    async with database.transaction() as s:
        lines = await import_legacy_env(s, {"OPENAI_API_KEY": "sk-1", "AZURE_API_KEY": "az"}, cipher)
    assert "+ provider openai (openai, key from OPENAI_API_KEY)" in lines
    assert "skipped provider azure: AZURE_API_KEY is set but AZURE_API_BASE is not" in lines
    assert "+ rule *haiku* -> openai/gpt-4.1-mini" in lines
    assert not any("sk-1" in line for line in lines)
