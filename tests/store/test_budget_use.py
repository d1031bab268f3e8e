"""What budget alerts read: every budget (tenant, member, key; any window) with its spend since the start of
its current window, from the rollups; revoked keys' budgets left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from router.store.budget_use import budget_uses
from router.store.budgets import set_key_budget, set_member_budget, set_tenant_budget
from router.store.db import Database
from router.store.keys import create_key, revoke_key
from router.store.tenants import create_tenant
from router.store.usage_writes import insert_usage_batch
from tests.usage.helpers import event

MONDAY = datetime(2026, 12, 7, tzinfo=UTC)
STARTS = {"day": MONDAY + timedelta(days=2), "week": MONDAY, "month": datetime(2026, 12, 1, tzinfo=UTC)}


async def test_every_window_of_every_subject_is_read_with_its_own_windows_spend(database: Database) -> None:
    async with database.transaction() as session:
        tenant = await create_tenant(session, "acme", budget_usd=1000.0)
        await set_tenant_budget(session, "acme", "day", 50.0)
        await set_member_budget(session, "acme", "ann", "week", 30.0)
        laptop, _ = await create_key(session, "acme", "ann", budget_usd=20.0)
        gone, _ = await create_key(session, "acme", "bob")
        await set_key_budget(session, gone, "day", 5.0)
        await revoke_key(session, gone.prefix)
        await create_tenant(session, "other", budget_usd=7.0)
        ids = (tenant.id, laptop.id, laptop.prefix)
    tenant_id, key_id, prefix = ids
    async with database.transaction() as session:
        await insert_usage_batch(
            session,
            [
                event(
                    created_at=STARTS["month"], tenant_id=tenant_id, key_id=key_id, member="ann", cost_usd=4.0
                ),
                event(created_at=MONDAY, tenant_id=tenant_id, key_id=key_id, member="ann", cost_usd=2.0),
                event(
                    created_at=STARTS["day"], tenant_id=tenant_id, key_id=key_id, member="ann", cost_usd=1.0
                ),
            ],
        )
    async with database.session() as session:
        uses = await budget_uses(session, STARTS, {"acme"})
    assert [(u.kind, u.ident, u.window, u.amount_usd, round(u.spent_usd, 6), u.member) for u in uses] == [
        ("tenant", "", "day", 50.0, 1.0, None),
        ("tenant", "", "month", 1000.0, 7.0, None),
        ("member", "ann", "week", 30.0, 3.0, None),
        ("key", prefix, "month", 20.0, 7.0, "ann"),
    ]
    assert [u.window_start for u in uses] == [STARTS["day"], STARTS["month"], STARTS["week"], STARTS["month"]]
