"""Alert deliveries: the firing claim, the delivery lease, the outcome, the history.

`claim_firings` inserts one row per firing with ON CONFLICT DO NOTHING on the unique
(alert, subject, threshold, window start) and returns the rows it inserted: whoever's insert lands owns the
firing. `lease_delivery` takes a pending row for one attempt with a conditional UPDATE (only one replica's
lands), and `finish_delivery` records the outcome: delivered, retry later, or failed for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.lengths import DELIVERY_ERROR_CHARS, bounded
from router.store.db import NotFoundError, as_utc, conflict_insert
from router.store.models import Alert, AlertDelivery, utcnow

__all__ = [
    "DeliveryJob",
    "claim_firings",
    "due_deliveries",
    "enqueue_test",
    "finish_delivery",
    "get_delivery",
    "lease_delivery",
    "list_deliveries",
    "prune_deliveries",
]

DELIVERIES = cast(Table, AlertDelivery.__table__)


async def claim_firings(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """Insert the firings not yet claimed (one statement; ON CONFLICT DO NOTHING) and return (id, status)
    of those this call inserted. Each row: alert_id, alert_name, subject, threshold, window_start, value,
    payload, status. The caller's order is the insert order: keep it stable across replicas."""
    if not rows:
        return []
    now = utcnow()
    values = [{**row, "attempts": 0, "created_at": now, "next_attempt_at": now} for row in rows]
    stmt = conflict_insert(session, DELIVERIES).values(values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["alert_id", "subject", "threshold", "window_start"])
    result = await session.execute(stmt.returning(DELIVERIES.c.id, DELIVERIES.c.status))
    return [(int(i), str(s)) for i, s in result.all()]


async def enqueue_test(
    session: AsyncSession, alert: Alert, payload: Mapping[str, Any], now: datetime | None = None
) -> int:
    """A test message (the page's button, the API, the CLI): a delivery like any other (its own subject)."""
    now = now or utcnow()
    row = AlertDelivery(
        alert_id=alert.id,
        alert_name=alert.name,
        subject="test",
        threshold=0.0,
        window_start=now,
        value=0.0,
        payload=dict(payload),
        status="pending",
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    await session.flush()
    return row.id


async def due_deliveries(session: AsyncSession, now: datetime, limit: int = 20) -> list[int]:
    """Pending deliveries whose time has come and that no replica holds a lease on."""
    query = (
        select(AlertDelivery.id)
        .where(
            AlertDelivery.status == "pending",
            AlertDelivery.next_attempt_at <= now,
            or_(AlertDelivery.lease_until.is_(None), AlertDelivery.lease_until < now),
        )
        .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
        .limit(limit)
    )
    return [int(i) for i in (await session.scalars(query)).all()]


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """One leased attempt: what to send and where (still encrypted)."""

    id: int
    alert_name: str
    attempt: int
    payload: dict[str, Any]
    webhook_encrypted: str | None
    webhook_host: str | None
    secret_encrypted: str | None


async def lease_delivery(
    session: AsyncSession, delivery_id: int, now: datetime, seconds: float
) -> DeliveryJob | None:
    """Take the delivery for one attempt until now + `seconds` (None: not due, or another replica has it).

    The conditional UPDATE is the lock: of several replicas only one sees its row count at 1."""
    result = await session.execute(
        update(AlertDelivery)
        .where(
            AlertDelivery.id == delivery_id,
            AlertDelivery.status == "pending",
            AlertDelivery.next_attempt_at <= now,
            or_(AlertDelivery.lease_until.is_(None), AlertDelivery.lease_until < now),
        )
        .values(lease_until=now + timedelta(seconds=seconds), attempts=AlertDelivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    row = (
        await session.execute(
            select(AlertDelivery, Alert)
            .outerjoin(Alert, Alert.id == AlertDelivery.alert_id)
            .where(AlertDelivery.id == delivery_id)
            # The row may be in this session already (send_test queues and leases in one transaction).
            .execution_options(populate_existing=True)
        )
    ).one()
    delivery, alert = row
    return DeliveryJob(
        id=delivery.id,
        alert_name=delivery.alert_name,
        attempt=delivery.attempts,
        payload=dict(delivery.payload or {}),
        webhook_encrypted=alert.webhook_encrypted if alert is not None else None,
        webhook_host=alert.webhook_host if alert is not None else None,
        secret_encrypted=alert.secret_encrypted if alert is not None else None,
    )


async def finish_delivery(
    session: AsyncSession,
    delivery_id: int,
    *,
    now: datetime,
    delivered: bool,
    http_status: int | None,
    error: str | None,
    retry_at: datetime | None,
) -> None:
    """Record one attempt: delivered; or failed, to retry at `retry_at` (None: no more tries). The error is
    cut to its column: it quotes the receiver's answer and host, which the router does not choose."""
    error = None if error is None else bounded(error, DELIVERY_ERROR_CHARS)
    if delivered:
        values: dict[str, Any] = {"status": "delivered", "delivered_at": now, "last_error": None}
    elif retry_at is not None:
        values = {"status": "pending", "next_attempt_at": retry_at, "last_error": error}
    else:
        values = {"status": "failed", "last_error": error}
    values.update(last_status=http_status, lease_until=None)
    await session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def get_delivery(session: AsyncSession, delivery_id: int) -> AlertDelivery:
    row = await session.get(AlertDelivery, delivery_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"no alert delivery with id {delivery_id}")
    row.created_at = as_utc(row.created_at)
    return row


async def list_deliveries(
    session: AsyncSession, *, limit: int = 50, alert_id: int | None = None
) -> list[AlertDelivery]:
    """The most recent deliveries, newest first (test messages included)."""
    query = select(AlertDelivery).order_by(AlertDelivery.created_at.desc(), AlertDelivery.id.desc())
    if alert_id is not None:
        query = query.where(AlertDelivery.alert_id == alert_id)
    rows = list((await session.scalars(query.limit(limit))).all())
    for row in rows:
        row.created_at = as_utc(row.created_at)
    return rows


async def prune_deliveries(session: AsyncSession, before: datetime) -> int:
    """Forget finished deliveries created before `before` (pending ones stay until they finish)."""
    result = await session.execute(
        delete(AlertDelivery)
        .where(AlertDelivery.created_at < before, AlertDelivery.status != "pending")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
