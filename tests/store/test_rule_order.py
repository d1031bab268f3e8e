"""A level's rule order under concurrent changes: each move or new rule is taken in turn (none computed from
an order another change has since replaced), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from router.config.rules import written_rule
from router.store import catalog
from router.store.crypto import CredentialCipher
from router.store.db import Database, NotFoundError
from router.store.models import Rule
from router.store.tenants import create_tenant, delete_tenant
from router.store.version import hold_config_writes


async def _level(database: Database, tenant_id: int | None = None) -> list[tuple[int, int]]:
    async with database.session() as session:
        return [(r.id, r.position) for r in await catalog.list_rules(session, tenant_id)]


async def test_concurrent_moves_to_the_top_each_take_effect(database: Database) -> None:
    async with database.transaction() as session:
        await catalog.create_provider(
            session, cipher=CredentialCipher("k" * 32), name="openai", kind="openai", api_key="sk"
        )
        for i in range(12):
            await catalog.create_rule(session, written_rule(f"model-{i}", target="openai/gpt-4.1"))
    ids = [rule_id for rule_id, _ in await _level(database)]
    movers = ids[-8:]

    async def to_the_top(rule_id: int) -> None:
        async with database.transaction() as session:
            await catalog.move_rule_to(session, rule_id, 1, actor="test")

    await asyncio.gather(*(to_the_top(rule_id) for rule_id in movers))
    level = await _level(database)
    order = [rule_id for rule_id, _ in level]
    # Taken in turn, every moved rule ends above every rule not moved; a move made from a stale order
    # would have pushed an earlier-moved rule back down.
    assert set(order[: len(movers)]) == set(movers), order
    assert order[len(movers) :] == ids[: -len(movers)]
    assert [position for _, position in level] == list(range(len(ids)))


async def test_rules_added_at_once_get_places_of_their_own(database: Database) -> None:
    async with database.transaction() as session:
        await catalog.create_provider(
            session, cipher=CredentialCipher("k" * 32), name="openai", kind="openai", api_key="sk"
        )

    async def add(i: int) -> None:
        async with database.transaction() as session:
            await catalog.create_rule(
                session, written_rule(f"model-{i}", target="openai/gpt-4.1"), actor="test"
            )

    await asyncio.gather(*(add(i) for i in range(8)))
    assert sorted(position for _, position in await _level(database)) == list(range(8))


async def test_concurrent_edits_deletions_and_moves_of_one_level_all_go_through(database: Database) -> None:
    """Every rule writer takes the config version row first, so none waits on another in a cycle (a
    deadlock PostgreSQL would break by failing one of them)."""
    async with database.transaction() as session:
        await catalog.create_provider(
            session, cipher=CredentialCipher("k" * 32), name="openai", kind="openai", api_key="sk"
        )
        for i in range(12):
            await catalog.create_rule(session, written_rule(f"model-{i}", target="openai/gpt-4.1"))
    ids = [rule_id for rule_id, _ in await _level(database)]

    async def move(rule_id: int, place: int) -> None:
        async with database.transaction() as session:
            await catalog.move_rule_to(session, rule_id, place, actor="test")

    async def edit(rule_id: int) -> None:
        async with database.transaction() as session:
            await catalog.patch_rule(session, rule_id, {"description": "edited"}, actor="test")

    async def drop(rule_id: int) -> None:
        async with database.transaction() as session:
            await catalog.delete_rule(session, rule_id, actor="test")

    await asyncio.gather(
        *(move(rule_id, 1) for rule_id in ids[6:10]),
        *(edit(rule_id) for rule_id in ids[:6]),
        drop(ids[11]),
    )
    level = await _level(database)
    assert sorted(rule_id for rule_id, _ in level) == sorted(ids[:11])
    assert [position for _, position in level] == list(range(11))


async def _tenant_with_rules(database: Database, name: str, count: int) -> list[int]:
    """A tenant with `count` rules of its own; their ids in evaluation order."""
    async with database.transaction() as session:
        tenant = await create_tenant(session, name)
        await catalog.create_provider(
            session, cipher=CredentialCipher("k" * 32), name="openai", kind="openai", api_key="sk"
        )
        for i in range(count):
            await catalog.create_rule(
                session, written_rule(f"model-{i}", target="openai/gpt-4.1"), tenant_id=tenant.id
            )
    return [rule_id for rule_id, _ in await _level(database, tenant.id)]


async def test_deleting_a_tenant_and_moving_its_rules_at_once_cannot_deadlock(database: Database) -> None:
    """A tenant's deletion removes its rules, so it takes the config version row first like every rule
    writer. Taken later (its rules first, the version row when it bumps), a move holding the version row and
    waiting for those rules would deadlock with it; PostgreSQL would fail one of the two."""
    ids = await _tenant_with_rules(database, "acme", 4)

    async def delete() -> None:
        async with database.transaction() as session:
            await delete_tenant(session, "acme", actor="test")

    async with database.transaction() as mover:
        await hold_config_writes(mover)
        deletion = asyncio.create_task(delete())
        await asyncio.sleep(0.3)  # the deletion goes as far as it can before the move touches the rules
        await catalog.move_rule_to(mover, ids[-1], 1, actor="test")
    await deletion
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Rule)) == 0


async def test_a_tenant_deleted_while_its_rules_move_goes_through(database: Database) -> None:
    ids = await _tenant_with_rules(database, "acme", 8)

    async def move(rule_id: int) -> None:
        try:
            async with database.transaction() as session:
                await catalog.move_rule_to(session, rule_id, 1, actor="test")
        except NotFoundError:
            pass  # the tenant's deletion came first

    async def delete() -> None:
        async with database.transaction() as session:
            await delete_tenant(session, "acme", actor="test")

    await asyncio.gather(
        *(move(rule_id) for rule_id in ids[4:]), delete(), *(move(rule_id) for rule_id in ids[:2])
    )
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Rule)) == 0
