"""Fallback chains and their ordered targets."""

from __future__ import annotations

from collections.abc import Sequence
from types import EllipsisType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from router.config.drafts import ChainDraft
from router.config.validate import MAX_CHAIN_BACKOFF_MS, MAX_CHAIN_RETRIES, chain_issues
from router.store.catalog._base import (
    CatalogConflict,
    CatalogError,
    Direction,
    changed,
    known_names,
    raise_first,
)
from router.store.db import NotFoundError
from router.store.models import Chain, ChainTarget, Rule

MAX_RETRIES = MAX_CHAIN_RETRIES
MAX_BACKOFF_MS = MAX_CHAIN_BACKOFF_MS


def chain_state(c: Chain) -> dict[str, Any]:
    return {
        "name": c.name,
        "targets": chain_refs(c),
        "retries": c.retries,
        "backoff_ms": c.backoff_ms,
    }


def chain_refs(c: Chain) -> list[str]:
    """The chain's targets in the order they are tried."""
    return [t.target for t in sorted(c.targets, key=lambda t: t.position)]


async def list_chains(session: AsyncSession) -> list[Chain]:
    query = select(Chain).options(selectinload(Chain.targets)).order_by(Chain.name)
    return list((await session.scalars(query)).all())


async def get_chain(session: AsyncSession, chain_id: int) -> Chain:
    query = select(Chain).where(Chain.id == chain_id).options(selectinload(Chain.targets))
    row = await session.scalar(query)
    if row is None:
        raise NotFoundError(f"no chain with id {chain_id}")
    return row


async def find_chain(session: AsyncSession, name: str) -> Chain | None:
    query = select(Chain).where(Chain.name == name).options(selectinload(Chain.targets))
    return await session.scalar(query)


async def _check_chain_fields(
    session: AsyncSession, name: str, targets: Sequence[str], retries: int, backoff_ms: int
) -> None:
    draft = ChainDraft(name, tuple(targets), retries=retries, backoff_ms=backoff_ms)
    raise_first(chain_issues(draft, await known_names(session)), whole="name")


def _set_targets(chain: Chain, refs: Sequence[str]) -> None:
    """Rewrite the targets in place, positions 0..n-1, so the (chain, position) unique key never collides."""
    rows = sorted(chain.targets, key=lambda t: t.position)
    for position, ref in enumerate(refs):
        if position < len(rows):
            rows[position].position, rows[position].target = position, ref
        else:
            chain.targets.append(ChainTarget(position=position, target=ref))
    for extra in rows[len(refs) :]:
        chain.targets.remove(extra)


async def create_chain(
    session: AsyncSession,
    *,
    name: str,
    targets: Sequence[str],
    retries: int = 0,
    backoff_ms: int = 250,
    actor: str = "cli",
) -> Chain:
    refs = list(targets)
    await _check_chain_fields(session, name, refs, retries, backoff_ms)
    if await find_chain(session, name) is not None:
        raise CatalogConflict(f"a chain named {name!r} already exists", field="name")
    row = Chain(
        name=name,
        retries=retries,
        backoff_ms=backoff_ms,
        targets=[ChainTarget(position=i, target=ref) for i, ref in enumerate(refs)],
    )
    session.add(row)
    await session.flush()
    await changed(session, actor, "create", "chain", row.id, name, None, chain_state(row))
    return row


async def update_chain(
    session: AsyncSession,
    chain_id: int,
    *,
    name: str | EllipsisType = ...,
    targets: Sequence[str] | EllipsisType = ...,
    retries: int | EllipsisType = ...,
    backoff_ms: int | EllipsisType = ...,
    actor: str = "cli",
) -> Chain:
    """Rules name chains by id, so a rename needs no rewriting."""
    row = await get_chain(session, chain_id)
    before = chain_state(row)
    new_name = row.name if isinstance(name, EllipsisType) else name
    refs = chain_refs(row) if isinstance(targets, EllipsisType) else list(targets)
    new_retries = row.retries if isinstance(retries, EllipsisType) else retries
    new_backoff = row.backoff_ms if isinstance(backoff_ms, EllipsisType) else backoff_ms
    await _check_chain_fields(session, new_name, refs, new_retries, new_backoff)
    if new_name != row.name and await find_chain(session, new_name) is not None:
        raise CatalogConflict(f"a chain named {new_name!r} already exists", field="name")
    row.name, row.retries, row.backoff_ms = new_name, new_retries, new_backoff
    if refs != chain_refs(row):
        _set_targets(row, refs)
    after = chain_state(row)
    if after != before:
        await changed(session, actor, "update", "chain", row.id, row.name, before, after)
    return row


async def delete_chain(session: AsyncSession, chain_id: int, *, actor: str = "cli") -> None:
    """Refused while a rule points at the chain."""
    row = await get_chain(session, chain_id)
    users = (await session.scalars(select(Rule).where(Rule.chain_id == row.id).order_by(Rule.id))).all()
    if users:
        named = ", ".join(f"rule {r.id} ({r.match!r})" for r in users)
        raise CatalogError(f"chain {row.name!r} is used by {named}: point those rules elsewhere first")
    await changed(session, actor, "delete", "chain", row.id, row.name, chain_state(row), None)
    await session.delete(row)
    await session.flush()


async def add_chain_target(
    session: AsyncSession, chain_id: int, target: str, *, position: int | None = None, actor: str = "cli"
) -> Chain:
    """Insert `target` at `position` (0 = tried first; None = last)."""
    row = await get_chain(session, chain_id)
    refs = chain_refs(row)
    at = len(refs) if position is None else max(0, min(position, len(refs)))
    refs.insert(at, target)
    return await update_chain(session, chain_id, targets=refs, actor=actor)


async def remove_chain_target(
    session: AsyncSession, chain_id: int, position: int, *, actor: str = "cli"
) -> Chain:
    """Remove the target at `position`; a chain keeps at least one target."""
    row = await get_chain(session, chain_id)
    refs = chain_refs(row)
    if not 0 <= position < len(refs):
        raise NotFoundError(f"chain {row.name!r} has no target at position {position}")
    del refs[position]
    return await update_chain(session, chain_id, targets=refs, actor=actor)


async def move_chain_target(
    session: AsyncSession, chain_id: int, position: int, direction: Direction, *, actor: str = "cli"
) -> Chain:
    """Swap the target at `position` with its neighbour (up = tried earlier); at either end, nothing moves."""
    row = await get_chain(session, chain_id)
    refs = chain_refs(row)
    if not 0 <= position < len(refs):
        raise NotFoundError(f"chain {row.name!r} has no target at position {position}")
    other = position - 1 if direction == "up" else position + 1
    if not 0 <= other < len(refs):
        return row
    refs[position], refs[other] = refs[other], refs[position]
    return await update_chain(session, chain_id, targets=refs, actor=actor)
