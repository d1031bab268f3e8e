"""Price overrides per target (USD per million tokens) for models LiteLLM's cost map does not know."""

from __future__ import annotations

from types import EllipsisType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.drafts import PriceDraft
from router.config.validate import PRICE_FIELDS, price_issues
from router.store.catalog._base import CatalogConflict, CatalogError, changed, known_names, raise_first
from router.store.db import NotFoundError
from router.store.models import ModelPrice


def price_state(p: ModelPrice) -> dict[str, Any]:
    return {"target": p.target, **{f: getattr(p, f) for f in PRICE_FIELDS}}


async def list_prices(session: AsyncSession) -> list[ModelPrice]:
    return list((await session.scalars(select(ModelPrice).order_by(ModelPrice.target))).all())


async def get_price(session: AsyncSession, price_id: int) -> ModelPrice:
    row = await session.get(ModelPrice, price_id)
    if row is None:
        raise NotFoundError(f"no price with id {price_id}")
    return row


async def find_price(session: AsyncSession, target: str) -> ModelPrice | None:
    return await session.scalar(select(ModelPrice).where(ModelPrice.target == target))


async def create_price(
    session: AsyncSession,
    *,
    target: str,
    input_per_mtok: float = 0.0,
    output_per_mtok: float = 0.0,
    cache_read_per_mtok: float | None = None,
    cache_write_per_mtok: float | None = None,
    actor: str = "cli",
) -> ModelPrice:
    amounts = {
        "input_per_mtok": input_per_mtok,
        "output_per_mtok": output_per_mtok,
        "cache_read_per_mtok": cache_read_per_mtok,
        "cache_write_per_mtok": cache_write_per_mtok,
    }
    draft = PriceDraft(target, input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok)
    raise_first(price_issues(draft, await known_names(session)), whole="target")
    if await find_price(session, target) is not None:
        raise CatalogConflict(f"a price for {target!r} already exists", field="target")
    row = ModelPrice(target=target, **amounts)
    session.add(row)
    await session.flush()
    await changed(session, actor, "create", "price", row.id, target, None, price_state(row))
    return row


async def update_price(
    session: AsyncSession,
    price_id: int,
    *,
    input_per_mtok: float | EllipsisType = ...,
    output_per_mtok: float | EllipsisType = ...,
    cache_read_per_mtok: float | EllipsisType | None = ...,
    cache_write_per_mtok: float | EllipsisType | None = ...,
    actor: str = "cli",
) -> ModelPrice:
    row = await get_price(session, price_id)
    before = price_state(row)
    given = {
        "input_per_mtok": input_per_mtok,
        "output_per_mtok": output_per_mtok,
        "cache_read_per_mtok": cache_read_per_mtok,
        "cache_write_per_mtok": cache_write_per_mtok,
    }
    values = {k: v for k, v in given.items() if not isinstance(v, EllipsisType)}
    merged = {**price_state(row), **values}
    raise_first(price_issues(PriceDraft(**merged), None), whole="target")
    if values.get("input_per_mtok", 0) is None or values.get("output_per_mtok", 0) is None:
        raise CatalogError("input and output prices may not be empty", field="input_per_mtok")
    for key, value in values.items():
        setattr(row, key, value)
    after = price_state(row)
    if after != before:
        await changed(session, actor, "update", "price", row.id, row.target, before, after)
    return row


async def set_price(
    session: AsyncSession,
    *,
    target: str,
    input_per_mtok: float,
    output_per_mtok: float,
    cache_read_per_mtok: float | None = None,
    cache_write_per_mtok: float | None = None,
    actor: str = "cli",
) -> ModelPrice:
    """Create or replace the price for `target`."""
    existing = await find_price(session, target)
    if existing is None:
        return await create_price(
            session,
            target=target,
            input_per_mtok=input_per_mtok,
            output_per_mtok=output_per_mtok,
            cache_read_per_mtok=cache_read_per_mtok,
            cache_write_per_mtok=cache_write_per_mtok,
            actor=actor,
        )
    return await update_price(
        session,
        existing.id,
        input_per_mtok=input_per_mtok,
        output_per_mtok=output_per_mtok,
        cache_read_per_mtok=cache_read_per_mtok,
        cache_write_per_mtok=cache_write_per_mtok,
        actor=actor,
    )


async def delete_price(session: AsyncSession, price_id: int, *, actor: str = "cli") -> None:
    row = await get_price(session, price_id)
    await changed(session, actor, "delete", "price", row.id, row.target, price_state(row), None)
    await session.delete(row)
    await session.flush()
