"""The routing snapshot is built from the tables, and every holder follows a version bump made elsewhere."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest
from sqlalchemy import event

from router.routing.model import Price, RoutingConfig
from router.store.crypto import CredentialCipher, CredentialDecryptError
from router.store.db import Database
from router.store.keys import create_key, revoke_key
from router.store.models import Chain, ChainTarget, Deployment, ModelPrice, Provider, Rule
from router.store.snapshot import ModelFacts, SnapshotHolder, load_routing_config, split_ref
from router.store.tenants import create_tenant
from router.store.version import bump_config_version

CIPHER = CredentialCipher("snapshot-test-secret")
DESCRIBED = Price(input=1e-6, output=2e-6, cache_read=1e-7, cache_write=3e-6)


def describe(kind: str, model: str) -> ModelFacts:
    if model == "unknown-model":
        raise LookupError(model)
    return ModelFacts(max_input_tokens=len(model) * 1000, max_output_tokens=4096, price=DESCRIBED)


async def _seed(db: Database) -> dict[str, int]:
    async with db.transaction() as session:
        team = await create_tenant(session, "team-a", rpm=100, allowed_targets=["openai/gpt-4.1"])
        _, live = await create_key(session, "team-a", "bob", tpm=900)
        revoked, _ = await create_key(session, "team-a", "eve")
        await revoke_key(session, revoked.prefix)
        openai = Provider(name="openai", kind="openai", credential_encrypted=CIPHER.encrypt("sk-openai"))
        azure = Provider(
            name="az", kind="azure", api_version="2024-10-21", credential_encrypted=CIPHER.encrypt("az")
        )
        router_ = Provider(name="openrouter", kind="openrouter")
        session.add_all([openai, azure, router_])
        await session.flush()
        session.add(
            Deployment(name="gpt4o-eu", provider_id=azure.id, deployment="gpt4o-prod", model="gpt-4o")
        )
        chain = Chain(name="fast", retries=1, backoff_ms=100)
        chain.targets = [
            ChainTarget(position=1, target="deployment/gpt4o-eu"),
            ChainTarget(position=0, target="openrouter/anthropic/claude-3.5"),
            ChainTarget(position=2, target="nowhere/model"),
        ]
        session.add(chain)
        await session.flush()
        session.add_all(
            [
                Rule(match="claude-*", priority=10, position=1, target="openai/gpt-4.1"),
                Rule(match="claude-haiku*", priority=10, position=0, chain_id=chain.id),
                Rule(
                    match="x",
                    priority=0,
                    position=5,
                    target="openai/unknown-model",
                    conditions={"tools": True},
                ),
                Rule(match="off", target="openai/gpt-4.1", enabled=False),
                Rule(tenant_id=team.id, match="*", match_kind="exact", target="openai/gpt-4.1-mini"),
            ]
        )
        session.add(ModelPrice(target="openai/gpt-4.1", input_per_mtok=2.0, output_per_mtok=8.0))
        await bump_config_version(session)
    assert live.startswith("sk-rt-")
    return {"tenant": team.id}


async def test_load_builds_every_part_of_the_config(database: Database) -> None:
    ids = await _seed(database)
    async with database.session() as session:
        config = await load_routing_config(session, CIPHER, describe)

    assert config.version == 6  # five mutations (tenant, 2 keys, revoke, explicit bump) after the seed row
    tenant = config.tenants[ids["tenant"]]
    assert tenant.name == "team-a" and tenant.limits.rpm == 100
    assert tenant.allowed_targets == frozenset({"openai/gpt-4.1"})
    assert [k.member for k in config.keys.values()] == ["bob"]
    ((key_hash, key),) = config.keys.items()
    assert key.limits.tpm == 900 and len(key_hash) == 64

    assert [r.match for r in config.global_rules] == ["x", "claude-haiku*", "claude-*"]
    assert config.global_rules[0].conditions.tools is True
    assert config.global_rules[1].chain == "fast" and config.global_rules[1].target is None
    assert [r.match for r in config.tenant_rules[ids["tenant"]]] == ["*"]
    assert config.chains["fast"].targets == (
        "openrouter/anthropic/claude-3.5",
        "deployment/gpt4o-eu",
        "nowhere/model",
    )
    assert (config.chains["fast"].retries, config.chains["fast"].backoff_ms) == (1, 100)

    # Unknown providers are skipped; the disabled rule's target is not needed but is harmless either way.
    assert set(config.targets) == {
        "openai/gpt-4.1",
        "openai/unknown-model",
        "openai/gpt-4.1-mini",
        "deployment/gpt4o-eu",
        "openrouter/anthropic/claude-3.5",
    }
    gpt = config.targets["openai/gpt-4.1"]
    assert gpt.provider.credential == "sk-openai" and gpt.upstream_model == "gpt-4.1"
    assert gpt.price == Price(
        input=2e-6, output=8e-6, cache_read=DESCRIBED.cache_read, cache_write=DESCRIBED.cache_write
    )
    assert gpt.max_output_tokens == 4096 and gpt.max_input_tokens == len("gpt-4.1") * 1000
    assert config.targets["openai/gpt-4.1-mini"].price == DESCRIBED
    assert (
        config.targets["openai/unknown-model"].price == Price()
        and config.targets["openai/unknown-model"].max_output_tokens is None
    )

    azure = config.targets["deployment/gpt4o-eu"]
    assert (azure.upstream_model, azure.base_model, azure.provider.name) == ("gpt4o-prod", "gpt-4o", "az")
    assert (
        azure.deployment is not None
        and azure.api_version == "2024-10-21"
        and azure.provider.credential == "az"
    )
    routed = config.targets["openrouter/anthropic/claude-3.5"]
    assert (routed.provider.name, routed.upstream_model, routed.provider.credential) == (
        "openrouter",
        "anthropic/claude-3.5",
        None,
    )


async def test_a_load_without_keys_is_the_same_config_less_its_keys_and_never_reads_them(
    database: Database,
) -> None:
    """What `router route explain` loads: every part it resolves with, and not the table that grows with the
    organisation (20,000 keys took the command from 0.4 to 1.0 s)."""
    await _seed(database)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with database.session() as session:
            lean = await load_routing_config(session, CIPHER, describe, with_keys=False)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", seen)
    async with database.session() as session:
        full = await load_routing_config(session, CIPHER, describe)
    assert lean.keys == {} and len(full.keys) == 1
    assert replace(full, keys={}) == lean
    assert statements and not any("api_keys" in s for s in statements), statements


def test_split_ref_splits_on_the_first_slash() -> None:
    assert split_ref("openrouter/anthropic/claude-3.5") == ("openrouter", "anthropic/claude-3.5")
    assert split_ref("openai/gpt-4.1") == ("openai", "gpt-4.1")


async def _wait_for(holder: SnapshotHolder, version: int, limit: float) -> float:
    start = time.monotonic()
    while holder.current is None or holder.current.version < version:
        if time.monotonic() - start > limit:
            raise AssertionError(f"holder stayed at {holder.version}, wanted {version}")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_holder_follows_a_bump_made_through_another_database(database: Database) -> None:
    seen: list[int] = []
    holder = SnapshotHolder(database, CIPHER, describe, poll_interval=0.1)
    holder.on_change(lambda config: seen.append(config.version))
    await holder.start()
    try:
        assert holder.current is not None and holder.current.tenants == {}
        other = Database(database.url)
        try:
            async with other.transaction() as session:
                await create_tenant(session, "late", actor="elsewhere")
        finally:
            await other.dispose()
        waited = await _wait_for(holder, 2, limit=3)
        assert waited < 1.0
        assert holder.current is not None and [t.name for t in holder.current.tenants.values()] == ["late"]
        assert seen == [1, 2]
    finally:
        await holder.stop()


async def test_refresh_rebuilds_only_when_the_version_moved(database: Database) -> None:
    holder = SnapshotHolder(database, CIPHER, describe)
    assert holder.current is None
    assert await holder.refresh()
    first = holder.current
    assert not await holder.refresh() and holder.current is first
    async with database.transaction() as session:
        await create_tenant(session, "t")
    assert await holder.refresh() and holder.current is not first


async def test_a_failed_load_keeps_the_last_good_snapshot(database: Database) -> None:
    holder = SnapshotHolder(database, CIPHER, describe)
    good: RoutingConfig = await holder.load()
    async with database.transaction() as session:
        session.add(Provider(name="broken", kind="openai", credential_encrypted="garbage"))
        await bump_config_version(session)
    assert not await holder.refresh()
    assert holder.current is good
    with pytest.raises(CredentialDecryptError, match="'broken'"):
        await holder.load()
    assert holder.current is good
