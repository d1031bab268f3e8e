"""Budgets with windows: several per subject (tenant, member, key), one per window, validated, audited,
within the tenant's, and gone with their tenant."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from router.store.budgets import list_budgets, set_key_budget, set_member_budget, set_tenant_budget
from router.store.db import Database
from router.store.keys import create_key, get_key
from router.store.models import AuditEntry, Budget
from router.store.tenants import create_tenant, delete_tenant, get_tenant
from router.store.version import get_config_version


async def test_a_subject_holds_one_budget_per_window_and_lists_them_tenant_member_key(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "acme", budget_usd=1000.0)
        key, _ = await create_key(session, "acme", "ann@example.com")
        await set_tenant_budget(session, "acme", "day", 100.0)
        await set_member_budget(session, "acme", "ann@example.com", "day", 20.0)
        await set_member_budget(session, "acme", "ann@example.com", "month", 300.0)
        await set_key_budget(session, key, "week", 50.0)
        await set_key_budget(session, key, "week", 60.0)  # replaces, does not add
        prefix = key.prefix
    async with database.session() as session:
        shown = [(b.subject_kind, b.subject, b.window, b.amount_usd) for b in await list_budgets(session)]
        tenant = await get_tenant(session, "acme")
        assert tenant.budget_usd == 1000.0
    assert shown == [
        ("tenant", "", "day", 100.0),
        ("tenant", "", "month", 1000.0),
        ("member", "ann@example.com", "day", 20.0),
        ("member", "ann@example.com", "month", 300.0),
        ("key", prefix, "week", 60.0),
    ]


async def test_removing_a_budget_leaves_the_subjects_other_windows(database: Database) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "acme")
        key, _ = await create_key(session, "acme", "ann", budget_usd=30.0)
        await set_key_budget(session, key, "day", 5.0)
    async with database.transaction() as session:
        key = await get_key(session, key.prefix)
        await set_key_budget(session, key, "month", None)
        await set_key_budget(session, key, "month", None)  # removing what is gone changes nothing
    async with database.session() as session:
        key = await get_key(session, key.prefix)
        assert [(b.window, b.amount_usd) for b in key.budgets] == [("day", 5.0)]
        assert key.budget_usd is None
        audited = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "budget"))).all()
        assert [(a.before, a.after) for a in audited] == [
            ({"budgets": {"month": 30.0}}, {"budgets": {"day": 5.0, "month": 30.0}}),
            ({"budgets": {"day": 5.0, "month": 30.0}}, {"budgets": {"day": 5.0}}),
        ]


@pytest.mark.parametrize(
    ("window", "amount", "reason"),
    [
        ("hour", 5.0, "window must be day, week or month, not 'hour'"),
        ("day", -1.0, "amount_usd must be a number >= 0"),
        ("day", float("inf"), "amount_usd must be a number >= 0"),
    ],
)
async def test_a_bad_window_or_amount_is_refused_with_its_reason(
    database: Database, window: str, amount: float, reason: str
) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "acme")
    with pytest.raises(ValueError, match=reason):
        async with database.transaction() as session:
            await set_tenant_budget(session, "acme", window, amount)
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Budget)) == 0


async def test_a_member_or_key_budget_above_the_tenants_same_window_is_refused(database: Database) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "acme")
        await set_tenant_budget(session, "acme", "day", 10.0)
        key, _ = await create_key(session, "acme", "ann")
        await set_key_budget(session, key, "month", 500.0)  # the tenant has no month budget
    with pytest.raises(ValueError, match="member ann's day budget 11 is more than tenant acme's 10"):
        async with database.transaction() as session:
            await set_member_budget(session, "acme", "ann", "day", 11.0)
    with pytest.raises(ValueError, match=r"day budget 12 is more than tenant acme's 10"):
        async with database.transaction() as session:
            await set_key_budget(session, await get_key(session, key.prefix), "day", 12.0)


async def test_budget_changes_bump_the_config_version_and_go_with_their_tenant(database: Database) -> None:
    async with database.transaction() as session:
        await create_tenant(session, "acme")
        key, _ = await create_key(session, "acme", "ann")
        before = await get_config_version(session)
        await set_member_budget(session, "acme", "ann", "week", 7.0)
        await set_key_budget(session, key, "day", 1.0)
        assert await get_config_version(session) == before + 2
    async with database.transaction() as session:
        await delete_tenant(session, "acme")
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Budget)) == 0
