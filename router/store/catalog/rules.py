"""Mapping rules, global or a tenant's, and their order: (priority, position) within a level."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from router.config.drafts import RuleDraft
from router.config.rules import changed_rule, normalised_rule
from router.config.validate import rule_issues
from router.routing.patterns import format_match
from router.store.catalog._base import CatalogError, Direction, changed, known_names, raise_first
from router.store.db import NotFoundError
from router.store.models import Chain, Rule, Tenant
from router.store.version import hold_config_writes


def rule_state(r: Rule, chain: str | None) -> dict[str, Any]:
    return {
        "tenant_id": r.tenant_id,
        "match": format_match(r.match, r.match_kind),
        "match_kind": r.match_kind,
        "conditions": dict(r.conditions or {}),
        "priority": r.priority,
        "position": r.position,
        "target": r.target,
        "chain": chain,
        "overrides": dict(r.overrides or {}),
        "enabled": r.enabled,
        "description": r.description,
    }


def _state(r: Rule) -> dict[str, Any]:
    return rule_state(r, r.chain.name if r.chain is not None else None)


def _level(tenant_id: int | None) -> Any:
    return Rule.tenant_id.is_(None) if tenant_id is None else Rule.tenant_id == tenant_id


async def list_rules(session: AsyncSession, tenant_id: int | None = None) -> list[Rule]:
    """One level's rules (global when `tenant_id` is None) in evaluation order."""
    query = (
        select(Rule)
        .where(_level(tenant_id))
        .options(selectinload(Rule.chain))
        .order_by(Rule.priority, Rule.position, Rule.id)
    )
    return list((await session.scalars(query)).all())


async def list_all_rules(session: AsyncSession) -> list[Rule]:
    """Every rule, global ones first, each level in evaluation order."""
    query = (
        select(Rule)
        .options(selectinload(Rule.chain))
        .order_by(Rule.tenant_id.is_not(None), Rule.tenant_id, Rule.priority, Rule.position, Rule.id)
    )
    return list((await session.scalars(query)).all())


async def get_rule(session: AsyncSession, rule_id: int) -> Rule:
    row = await session.scalar(select(Rule).where(Rule.id == rule_id).options(selectinload(Rule.chain)))
    if row is None:
        raise NotFoundError(f"no rule with id {rule_id}")
    return row


def rule_draft(row: Rule) -> RuleDraft:
    """A stored rule (its `chain` loaded) as its draft: what the forms show, the API patches and a config
    file is compared with."""
    return RuleDraft(
        match=row.match,
        match_kind=row.match_kind,
        conditions=dict(row.conditions or {}),
        target=row.target,
        chain=row.chain.name if row.chain is not None else None,
        overrides=dict(row.overrides or {}),
        priority=row.priority,
        description=row.description,
        enabled=row.enabled,
    )


async def _chain_named(session: AsyncSession, name: str) -> Chain:
    chain = await session.scalar(select(Chain).where(Chain.name == name))
    if chain is None:
        raise CatalogError(f"unknown chain {name!r}", field="chain")
    return chain


async def _store(session: AsyncSession, row: Rule, draft: RuleDraft) -> None:
    """Check `draft` with the one rule validator (config/validate/) and write it onto `row`."""
    draft = normalised_rule(draft)
    raise_first(rule_issues(draft, await known_names(session)), whole="target")
    row.match, row.match_kind = draft.match, draft.match_kind
    row.conditions, row.overrides = dict(draft.conditions), dict(draft.overrides)
    row.target = draft.target
    row.chain = await _chain_named(session, draft.chain) if draft.chain else None
    row.priority, row.description, row.enabled = draft.priority, draft.description, draft.enabled


async def create_rule(
    session: AsyncSession,
    draft: RuleDraft,
    *,
    tenant_id: int | None = None,
    position: int | None = None,
    actor: str = "cli",
) -> Rule:
    """The rule at the end of its level (or at `position`); drafts come from config/rules.py."""
    await hold_config_writes(session)
    row = Rule(tenant_id=tenant_id)
    await _store(session, row, draft)
    if tenant_id is not None and await session.get(Tenant, tenant_id) is None:
        raise CatalogError(f"unknown tenant id {tenant_id}", field="tenant_id")
    if position is None:
        last = await session.scalar(select(func.max(Rule.position)).where(_level(tenant_id)))
        position = 0 if last is None else last + 1
    row.position = position
    session.add(row)
    await session.flush()
    await changed(session, actor, "create", "rule", row.id, row.match, None, _state(row), tenant_id)
    return row


async def update_rule(
    session: AsyncSession, rule_id: int, draft: RuleDraft, *, position: int | None = None, actor: str = "cli"
) -> Rule:
    """The rule becomes `draft` (build it with config/rules.py's changed_rule from `rule_draft(row)` to
    change some fields); `position` None keeps its place."""
    # Every rule writer takes the config version row first: one lock order, so a move and an edit of the
    # same level wait for each other instead of deadlocking.
    await hold_config_writes(session)
    row = await get_rule(session, rule_id)
    before = _state(row)
    await _store(session, row, draft)
    if position is not None:
        row.position = position
    after = _state(row)
    if after != before:
        await changed(session, actor, "update", "rule", row.id, row.match, before, after, row.tenant_id)
    return row


async def patch_rule(
    session: AsyncSession, rule_id: int, changes: Mapping[str, Any], *, actor: str = "cli"
) -> Rule:
    """Change only the fields named in `changes` (config/rules.py: changed_rule says how: None clears, a
    new target clears the chain and the reverse, a new match without a kind infers it)."""
    await hold_config_writes(session)  # before reading the rule it changes
    draft = changed_rule(rule_draft(await get_rule(session, rule_id)), changes)
    return await update_rule(session, rule_id, draft, actor=actor)


async def delete_rule(session: AsyncSession, rule_id: int, *, actor: str = "cli") -> None:
    await hold_config_writes(session)
    row = await get_rule(session, rule_id)
    await changed(session, actor, "delete", "rule", row.id, row.match, _state(row), None, row.tenant_id)
    await session.delete(row)
    await session.flush()


async def _apply_order(
    session: AsyncSession, rows: Sequence[Rule], actor: str, tenant_id: int | None
) -> None:
    """Make `rows` the evaluation order: positions 0..n-1, and a priority that would contradict the order
    raised to its predecessor's (priorities never go down, so rules outside this list keep their place)."""
    before = [(r.id, r.priority, r.position) for r in await list_rules(session, tenant_id)]
    floor: int | None = None
    for position, row in enumerate(rows):
        if floor is not None and row.priority < floor:
            row.priority = floor
        floor = row.priority
        row.position = position
    after = [(r.id, r.priority, r.position) for r in rows]
    if sorted(after) != sorted(before):
        order = {"order": [r.id for r in rows]}
        await changed(
            session,
            actor,
            "reorder",
            "rules",
            0,
            "global" if tenant_id is None else str(tenant_id),
            {"order": [b[0] for b in before]},
            order,
            tenant_id,
        )


async def move_rule(session: AsyncSession, rule_id: int, direction: Direction, *, actor: str = "cli") -> Rule:
    """Swap the rule with its neighbour in evaluation order (up = earlier); at either end, nothing moves."""
    await hold_config_writes(session)
    row = await get_rule(session, rule_id)
    rows = await list_rules(session, row.tenant_id)
    index = next(i for i, r in enumerate(rows) if r.id == row.id)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(rows):
        return row
    # Swapping (priority, position) swaps exactly these two, whatever their priorities.
    for i, r in enumerate(rows):
        r.position = i
    a, b = rows[index], rows[other]
    (a.priority, a.position), (b.priority, b.position) = (b.priority, b.position), (a.priority, a.position)
    await changed(
        session,
        actor,
        "move " + direction,
        "rule",
        row.id,
        row.match,
        {"position": index},
        {"position": other},
        row.tenant_id,
    )
    return row


async def reorder_rules(
    session: AsyncSession, tenant_id: int | None, ordered_ids: Sequence[int], *, actor: str = "cli"
) -> list[Rule]:
    """Put a level's rules in this order; `ordered_ids` must name exactly that level's rules."""
    await hold_config_writes(session)
    rows = await list_rules(session, tenant_id)
    by_id = {r.id: r for r in rows}
    if sorted(ordered_ids) != sorted(by_id):
        raise CatalogError("the new order must list each of this level's rules exactly once", field="order")
    ordered = [by_id[i] for i in ordered_ids]
    await _apply_order(session, ordered, actor, tenant_id)
    return ordered


async def place_rule(
    session: AsyncSession, rule_id: int, where: str, anchor_id: int | None = None, *, actor: str = "cli"
) -> list[Rule]:
    """Put one rule at the top or bottom of its level, or just before or after another rule of that level.

    `where` is "top", "bottom", "before" or "after" (the last two need `anchor_id`). Returns the level's
    rules in their new evaluation order."""
    await hold_config_writes(session)
    row = await get_rule(session, rule_id)
    rows = [r for r in await list_rules(session, row.tenant_id) if r.id != row.id]
    if where == "top":
        index = 0
    elif where == "bottom":
        index = len(rows)
    elif where in ("before", "after"):
        ids = [r.id for r in rows]
        if anchor_id not in ids:
            raise CatalogError(f"there is no other rule with id {anchor_id} at this level", field="place")
        index = ids.index(anchor_id) + (1 if where == "after" else 0)
    else:
        raise CatalogError(f"unknown placement {where!r} (top, bottom, before or after)", field="place")
    rows.insert(index, row)
    await _apply_order(session, rows, actor, row.tenant_id)
    return rows


async def move_rule_to(session: AsyncSession, rule_id: int, number: int, *, actor: str = "cli") -> list[Rule]:
    """Put one rule at place `number` (1 = evaluated first) of its level, the others keeping their order.
    Returns the level's rules in their new evaluation order."""
    await hold_config_writes(session)
    row = await get_rule(session, rule_id)
    rows = [r for r in await list_rules(session, row.tenant_id) if r.id != row.id]
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(rows) + 1:
        raise CatalogError(
            f"must be a place from 1 to {len(rows) + 1} in this level's order, not {number!r}",
            field="position",
        )
    rows.insert(number - 1, row)
    await _apply_order(session, rows, actor, row.tenant_id)
    return rows
