"""Mapping rules, global or a tenant's, and their order: (priority, position) within a level."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import EllipsisType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from router.config.drafts import RuleDraft
from router.config.fields import OVERRIDE_KEYS
from router.config.validate import rule_issues
from router.routing.conditions import CONDITION_KEYS
from router.routing.patterns import format_match, parse_match
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


def normalise_match(match: str, match_kind: str | None) -> tuple[str, str]:
    """(pattern, kind): kind None infers it (`re:` prefix, glob characters, else exact) and strips `re:`."""
    if match_kind is None:
        return parse_match(match.strip())
    return match, match_kind


async def _chain_named(session: AsyncSession, name: str) -> Chain:
    chain = await session.scalar(select(Chain).where(Chain.name == name))
    if chain is None:
        raise CatalogError(f"unknown chain {name!r}", field="chain")
    return chain


async def _check_rule_fields(
    session: AsyncSession,
    match: str,
    kind: str,
    conditions: Mapping[str, Any],
    target: str | None,
    chain: str | None,
    overrides: Mapping[str, Any],
) -> None:
    draft = RuleDraft(match, kind, conditions, target=target, chain=chain, overrides=overrides)
    raise_first(rule_issues(draft, await known_names(session)), whole="target")


def _clean(raw: Mapping[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    """Drop unset values and keep the canonical key order (so equal rules store equal JSON)."""
    raw = raw or {}
    cleaned = {k: raw[k] for k in keys if raw.get(k) is not None}
    cleaned.update({k: v for k, v in raw.items() if k not in keys})  # unknown keys: rejected by validation
    return cleaned


async def create_rule(
    session: AsyncSession,
    *,
    match: str,
    match_kind: str | None = None,
    tenant_id: int | None = None,
    conditions: Mapping[str, Any] | None = None,
    target: str | None = None,
    chain: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    priority: int = 0,
    position: int | None = None,
    description: str | None = None,
    enabled: bool = True,
    actor: str = "cli",
) -> Rule:
    """A rule at the end of its level (or at `position`). `chain` is a chain name; give it or `target`."""
    await hold_config_writes(session)
    pattern, kind = normalise_match(match, match_kind)
    conds, overs = _clean(conditions, CONDITION_KEYS), _clean(overrides, OVERRIDE_KEYS)
    await _check_rule_fields(session, pattern, kind, conds, target or None, chain or None, overs)
    if tenant_id is not None and await session.get(Tenant, tenant_id) is None:
        raise CatalogError(f"unknown tenant id {tenant_id}", field="tenant_id")
    if position is None:
        last = await session.scalar(select(func.max(Rule.position)).where(_level(tenant_id)))
        position = 0 if last is None else last + 1
    row = Rule(
        tenant_id=tenant_id,
        match=pattern,
        match_kind=kind,
        conditions=conds,
        priority=priority,
        position=position,
        target=target or None,
        chain=await _chain_named(session, chain) if chain else None,
        overrides=overs,
        enabled=enabled,
        description=description or None,
    )
    session.add(row)
    await session.flush()
    await changed(session, actor, "create", "rule", row.id, row.match, None, _state(row), tenant_id)
    return row


async def update_rule(
    session: AsyncSession,
    rule_id: int,
    *,
    match: str | EllipsisType = ...,
    match_kind: str | EllipsisType | None = ...,
    conditions: Mapping[str, Any] | EllipsisType = ...,
    target: str | EllipsisType | None = ...,
    chain: str | EllipsisType | None = ...,
    overrides: Mapping[str, Any] | EllipsisType = ...,
    priority: int | EllipsisType = ...,
    position: int | EllipsisType = ...,
    description: str | EllipsisType | None = ...,
    enabled: bool | EllipsisType = ...,
    actor: str = "cli",
) -> Rule:
    """Setting a target clears the chain and the reverse; a new `match` without a kind infers it."""
    row = await get_rule(session, rule_id)
    before = _state(row)
    if isinstance(match, EllipsisType):
        pattern, kind = row.match, row.match_kind if isinstance(match_kind, EllipsisType) else match_kind
        if kind is None:
            pattern, kind = parse_match(format_match(row.match, row.match_kind))
    else:
        pattern, kind = normalise_match(match, None if isinstance(match_kind, EllipsisType) else match_kind)
    conds = (
        dict(row.conditions or {})
        if isinstance(conditions, EllipsisType)
        else _clean(conditions, CONDITION_KEYS)
    )
    overs = (
        dict(row.overrides or {}) if isinstance(overrides, EllipsisType) else _clean(overrides, OVERRIDE_KEYS)
    )
    new_target = row.target if isinstance(target, EllipsisType) else (target or None)
    new_chain = (
        (row.chain.name if row.chain else None) if isinstance(chain, EllipsisType) else (chain or None)
    )
    if not isinstance(target, EllipsisType) and new_target and isinstance(chain, EllipsisType):
        new_chain = None
    if not isinstance(chain, EllipsisType) and new_chain and isinstance(target, EllipsisType):
        new_target = None
    await _check_rule_fields(session, pattern, kind, conds, new_target, new_chain, overs)
    row.match, row.match_kind, row.conditions, row.overrides = pattern, kind, conds, overs
    row.target = new_target
    row.chain = await _chain_named(session, new_chain) if new_chain else None
    if not isinstance(priority, EllipsisType):
        row.priority = priority
    if not isinstance(position, EllipsisType):
        row.position = position
    if not isinstance(description, EllipsisType):
        row.description = description or None
    if not isinstance(enabled, EllipsisType):
        row.enabled = enabled
    after = _state(row)
    if after != before:
        await changed(session, actor, "update", "rule", row.id, row.match, before, after, row.tenant_id)
    return row


async def delete_rule(session: AsyncSession, rule_id: int, *, actor: str = "cli") -> None:
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
