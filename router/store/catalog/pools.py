"""Pools: several targets serving as one (`pool/NAME`), with per-member weights and quotas."""

from __future__ import annotations

from collections.abc import Sequence
from types import EllipsisType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from router.config.drafts import PoolDraft, PoolMemberDraft
from router.config.validate import pool_issues
from router.store.catalog._base import (
    CatalogConflict,
    CatalogError,
    changed,
    known_names,
    raise_first,
    target_users,
)
from router.store.db import NotFoundError
from router.store.models import Pool, PoolMember

POOL_PREFIX = "pool/"


def pool_members(p: Pool) -> list[PoolMemberDraft]:
    """The pool's members in their stored order."""
    return [
        PoolMemberDraft(m.target, m.weight, m.rpm, m.tpm) for m in sorted(p.members, key=lambda m: m.position)
    ]


def pool_draft(p: Pool) -> PoolDraft:
    return PoolDraft(name=p.name, members=tuple(pool_members(p)), strategy=p.strategy, sticky=p.sticky)


def pool_state(p: Pool) -> dict[str, Any]:
    return {
        "name": p.name,
        "strategy": p.strategy,
        "sticky": p.sticky,
        "members": [
            {"target": m.target, "weight": m.weight, "rpm": m.rpm, "tpm": m.tpm} for m in pool_members(p)
        ],
    }


async def list_pools(session: AsyncSession) -> list[Pool]:
    query = select(Pool).options(selectinload(Pool.members)).order_by(Pool.name)
    return list((await session.scalars(query)).all())


async def get_pool(session: AsyncSession, pool_id: int) -> Pool:
    row = await session.scalar(select(Pool).where(Pool.id == pool_id).options(selectinload(Pool.members)))
    if row is None:
        raise NotFoundError(f"no pool with id {pool_id}")
    return row


async def find_pool(session: AsyncSession, name: str) -> Pool | None:
    return await session.scalar(select(Pool).where(Pool.name == name).options(selectinload(Pool.members)))


async def _check(session: AsyncSession, draft: PoolDraft) -> None:
    raise_first(pool_issues(draft, await known_names(session)), whole="name")


def _set_members(row: Pool, members: Sequence[PoolMemberDraft]) -> None:
    """Rewrite members in place, positions 0..n-1, so the (pool, position) unique key never collides."""
    rows = sorted(row.members, key=lambda m: m.position)
    for position, m in enumerate(members):
        if position < len(rows):
            r = rows[position]
            r.position, r.target, r.weight, r.rpm, r.tpm = position, m.target, m.weight, m.rpm, m.tpm
        else:
            row.members.append(
                PoolMember(position=position, target=m.target, weight=m.weight, rpm=m.rpm, tpm=m.tpm)
            )
    for extra in rows[len(members) :]:
        row.members.remove(extra)


async def create_pool(
    session: AsyncSession,
    *,
    name: str,
    members: Sequence[PoolMemberDraft],
    strategy: str = "weighted",
    sticky: bool = True,
    actor: str = "cli",
) -> Pool:
    draft = PoolDraft(name=name, members=tuple(members), strategy=strategy, sticky=sticky)
    await _check(session, draft)
    if await find_pool(session, name) is not None:
        raise CatalogConflict(f"a pool named {name!r} already exists", field="name")
    row = Pool(name=name, strategy=strategy, sticky=sticky, members=[])
    _set_members(row, draft.members)
    session.add(row)
    await session.flush()
    await changed(session, actor, "create", "pool", row.id, name, None, pool_state(row))
    return row


async def update_pool(
    session: AsyncSession,
    pool_id: int,
    *,
    members: Sequence[PoolMemberDraft] | EllipsisType = ...,
    strategy: str | EllipsisType = ...,
    sticky: bool | EllipsisType = ...,
    actor: str = "cli",
) -> Pool:
    """A pool keeps its name: rules and chains name it (`pool/NAME`)."""
    row = await get_pool(session, pool_id)
    before = pool_state(row)
    draft = PoolDraft(
        name=row.name,
        members=tuple(pool_members(row) if isinstance(members, EllipsisType) else members),
        strategy=row.strategy if isinstance(strategy, EllipsisType) else strategy,
        sticky=row.sticky if isinstance(sticky, EllipsisType) else sticky,
    )
    await _check(session, draft)
    row.strategy, row.sticky = draft.strategy, draft.sticky
    if list(draft.members) != pool_members(row):
        _set_members(row, draft.members)
    await session.flush()
    after = pool_state(row)
    if after != before:
        await changed(session, actor, "update", "pool", row.id, row.name, before, after)
    return row


async def delete_pool(session: AsyncSession, pool_id: int, *, actor: str = "cli") -> None:
    """Refused while a rule, chain or tenant's allowed list still names the pool."""
    row = await get_pool(session, pool_id)
    ref = POOL_PREFIX + row.name
    users = await target_users(session, lambda r: r == ref)
    if users:
        raise CatalogError(f"pool {row.name!r} is used by {', '.join(users)}: point those elsewhere first")
    await changed(session, actor, "delete", "pool", row.id, row.name, pool_state(row), None)
    await session.delete(row)
    await session.flush()
