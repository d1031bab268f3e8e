"""Tenants and proxy keys: creation, hashing, prefixes, expiry, revocation, limits, audit, version bumps."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from router.store.db import AlreadyExistsError, Database, NotFoundError, StoreError
from router.store.keys import (
    create_key,
    find_key_by_hash,
    hash_key,
    is_expired,
    list_keys,
    parse_duration,
    revoke_key,
    set_key_limits,
)
from router.store.models import ApiKey, AuditEntry, Tenant
from router.store.tenants import (
    create_tenant,
    delete_tenant,
    get_tenant,
    list_tenants,
    rename_tenant,
    set_tenant_enabled,
    set_tenant_limits,
)
from router.store.version import get_config_version


async def _count(db: Database, model: type[object]) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_tenant_lifecycle_bumps_the_version_and_audits_each_change(database: Database) -> None:
    async with database.transaction() as session:
        tenant = await create_tenant(session, "team-a", rpm=60, actor="alice")
        await set_tenant_limits(session, "team-a", tpm=1000, budget_usd=None)
        await rename_tenant(session, "team-a", "team-b")
        await set_tenant_enabled(session, "team-b", False)
    async with database.session() as session:
        assert await get_config_version(session) == 5
        found = await get_tenant(session, "team-b")
        assert (found.id, found.rpm, found.tpm, found.enabled) == (tenant.id, 60, 1000, False)
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
        assert actions == ["create", "update", "rename", "disable"]
        first = await session.scalar(select(AuditEntry).order_by(AuditEntry.id))
        assert (
            first is not None
            and first.actor == "alice"
            and first.after
            == {
                "name": "team-a",
                "enabled": True,
                "allowed_targets": None,
                "rpm": 60,
                "tpm": None,
                "budget_usd": None,
            }
        )


async def test_duplicate_tenant_is_refused(database: Database) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "team-a")
    with pytest.raises(AlreadyExistsError, match="team-a"):
        async with database.transaction() as session:
            await create_tenant(session, "team-a")
    assert await _count(database, Tenant) == 1


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", r"tenant name .* must be 1-100 letters"),
        ("has space", r"tenant name .* must be 1-100 letters"),
        ("-dash", r"tenant name .* must be 1-100 letters"),
        ("x" * 101, r"^tenant name must be at most 100 characters$"),
    ],
)
async def test_invalid_tenant_names_are_refused(database: Database, name: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        async with database.transaction() as session:
            await create_tenant(session, name)


async def test_key_is_stored_only_as_hash_and_prefix(database: Database) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "team-a")
        key, plaintext = await create_key(session, "team-a", "bob", rpm=10, allowed_models=["claude-*"])
    assert re.fullmatch(r"sk-rt-[A-Za-z0-9_-]{40}", plaintext)
    assert key.prefix == plaintext[:12] and key.prefix.startswith("sk-rt-")
    assert key.key_hash == hashlib.sha256(plaintext.encode()).hexdigest() == hash_key(plaintext)
    async with database.session() as session:
        row = await session.scalar(select(ApiKey))
        assert row is not None and plaintext not in (row.key_hash, row.prefix)
        audit = (await session.scalars(select(AuditEntry))).all()
        assert all(
            plaintext not in str(entry.after) and key.key_hash not in str(entry.after) for entry in audit
        )
        spec = await find_key_by_hash(session, hash_key(plaintext))
        assert spec is not None
        assert (spec.member, spec.prefix, spec.revoked, spec.expires_at) == ("bob", key.prefix, False, None)
        assert spec.allowed_models == ("claude-*",) and spec.limits.rpm == 10
        assert await find_key_by_hash(session, hash_key(plaintext + "x")) is None


async def test_two_keys_never_share_a_prefix_or_plaintext(database: Database) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "team-a")
        made = [await create_key(session, "team-a", f"m{i}") for i in range(5)]
    assert len({key.prefix for key, _ in made}) == 5 and len({text for _, text in made}) == 5


async def test_key_expiry_is_stored_and_detected(database: Database) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "team-a")
        key, plaintext = await create_key(session, "team-a", "bob", timedelta(days=30))
    async with database.session() as session:
        spec = await find_key_by_hash(session, hash_key(plaintext))
    assert spec is not None and spec.expires_at is not None and spec.expires_at.tzinfo is not None
    assert timedelta(days=29, hours=23) < spec.expires_at - key.created_at <= timedelta(days=30, seconds=5)
    assert not is_expired(spec)
    assert is_expired(spec, now=spec.expires_at + timedelta(seconds=1))


async def test_key_for_unknown_tenant_writes_nothing(database: Database) -> None:
    with pytest.raises(NotFoundError, match="no tenant named 'ghost'"):
        async with database.transaction() as session:
            await create_key(session, "ghost", "bob")
    assert await _count(database, ApiKey) == 0 and await _count(database, AuditEntry) == 0
    async with database.session() as session:
        assert await get_config_version(session) == 1


async def test_revoke_marks_the_key_and_keeps_it_findable_as_revoked(database: Database) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "team-a")
        key, plaintext = await create_key(session, "team-a", "bob")
    async with database.transaction() as session:
        await revoke_key(session, key.prefix)
        version = await get_config_version(session)
    async with database.transaction() as session:
        await revoke_key(session, key.prefix)  # again: nothing changes
        assert await get_config_version(session) == version
        spec = await find_key_by_hash(session, hash_key(plaintext))
        assert spec is not None and spec.revoked
        assert [k.prefix for k in await list_keys(session, include_revoked=False)] == []
        with pytest.raises(StoreError, match="revoked"):
            await set_key_limits(session, key.prefix, rpm=5)
    with pytest.raises(NotFoundError, match="no key with prefix"):
        async with database.transaction() as session:
            await revoke_key(session, "sk-rt-nothere")


async def test_set_key_limits_changes_only_what_is_given(database: Database) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "team-a")
        key, _ = await create_key(session, "team-a", "bob", rpm=10, tpm=500)
    async with database.transaction() as session:
        await set_key_limits(session, key.prefix, tpm=None, budget_usd=2.5, allowed_models=["a*", "b"])
    async with database.session() as session:
        (row,) = await list_keys(session, "team-a")
        assert (row.rpm, row.tpm, row.budget_usd, row.allowed_models) == (10, None, 2.5, ["a*", "b"])
        assert row.tenant.name == "team-a"
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "update"))
        assert entry is not None and entry.before is not None and entry.after is not None
        assert (entry.before["tpm"], entry.after["tpm"]) == (500, None)
        with pytest.raises(ValueError, match="rpm must be a number >= 0"):
            await set_key_limits(session, key.prefix, rpm=-1)


async def test_list_keys_filters_by_tenant(database: Database) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "team-a")
        await create_tenant(session, "team-b")
        a, _ = await create_key(session, "team-a", "bob")
        b, _ = await create_key(session, "team-b", "eve")
    async with database.session() as session:
        assert [k.prefix for k in await list_keys(session, "team-a")] == [a.prefix]
        assert {k.prefix for k in await list_keys(session)} == {a.prefix, b.prefix}
        assert [t.name for t in await list_tenants(session)] == ["team-a", "team-b"]


async def test_deleting_a_tenant_deletes_its_keys(database: Database) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "team-a")
        await create_key(session, "team-a", "bob")
    async with database.transaction() as session:
        await delete_tenant(session, "team-a")
    assert await _count(database, Tenant) == 0 and await _count(database, ApiKey) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        (" 7d ", timedelta(days=7)),
    ],
)
def test_parse_duration_accepts_minutes_hours_days_weeks(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d", "1y", "-1d", "1.5d", "0d", "30 days"])
def test_parse_duration_rejects_bad_syntax(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
