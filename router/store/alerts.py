"""Alerts and their deliveries: validated CRUD, the firing claim, the delivery lease, the history.

CRUD works like the catalog (store/catalog/): the caller's session, never a commit, an audit entry and a
config-version bump per change, `CatalogError` with the offending field. The webhook URL and the signing
secret are encrypted with the credential cipher; `alert_state()` is the view safe to show, audit or export
(the webhook's host only).

Deliveries: `claim_firings` inserts one row per firing with ON CONFLICT DO NOTHING on the unique
(alert, subject, threshold, window start) and returns the rows it inserted: whoever's insert lands owns the
firing. `lease_delivery` takes a pending row for one attempt with a conditional UPDATE (only one replica's
lands), and `finish_delivery` records the outcome: delivered, retry later, or failed for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.drafts import AlertDraft
from router.config.validate import alert_issues
from router.store.catalog._base import CatalogConflict, CatalogError, changed, raise_first
from router.store.crypto import CredentialCipher
from router.store.db import NotFoundError, as_utc
from router.store.models import Alert, AlertDelivery, Tenant, utcnow

__all__ = [
    "DeliveryJob",
    "alert_draft",
    "alert_state",
    "change_alert",
    "claim_firings",
    "create_alert",
    "delete_alert",
    "due_deliveries",
    "enabled_alerts",
    "enqueue_test",
    "find_alert",
    "finish_delivery",
    "get_alert",
    "get_delivery",
    "lease_delivery",
    "list_alerts",
    "list_deliveries",
    "prune_deliveries",
    "update_alert",
]

DELIVERIES = cast(Table, AlertDelivery.__table__)
# The placeholder validated in place of a webhook an update keeps (never stored).
_KEPT_WEBHOOK = "https://kept.invalid/"


def webhook_host(url: str) -> str:
    """What pages show of a webhook: its host (and port), never its path or query (a Slack hook's token)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def alert_state(row: Alert) -> dict[str, Any]:
    """The alert as pages, the audit log and exports may show it: no webhook path, no secret."""
    return {
        "name": row.name,
        "watch": row.watch,
        "thresholds": list(row.thresholds or []),
        "tenants": row.tenants,
        "subjects": row.subjects,
        "targets": row.targets,
        "window_minutes": row.window_minutes,
        "min_requests": row.min_requests,
        "webhook_host": row.webhook_host,
        "signed": row.secret_encrypted is not None,
        "enabled": row.enabled,
    }


def alert_draft(row: Alert, webhook_ref: str, secret_ref: str) -> AlertDraft:
    """The stored alert as a draft without secrets: the webhook and the secret by their `${ENV}` names (the
    ones it was applied from, else the defaults given)."""
    return replace(
        stored_draft(row),
        webhook_ref=row.webhook_ref or webhook_ref,
        secret_ref=(row.secret_ref or secret_ref) if row.secret_encrypted is not None else None,
    )


async def list_alerts(session: AsyncSession) -> list[Alert]:
    return list((await session.scalars(select(Alert).order_by(Alert.name))).all())


async def enabled_alerts(session: AsyncSession) -> list[Alert]:
    return list((await session.scalars(select(Alert).where(Alert.enabled).order_by(Alert.id))).all())


async def get_alert(session: AsyncSession, alert_id: int) -> Alert:
    row = await session.get(Alert, alert_id)
    if row is None:
        raise NotFoundError(f"no alert with id {alert_id}")
    return row


async def find_alert(session: AsyncSession, name: str) -> Alert | None:
    return await session.scalar(select(Alert).where(Alert.name == name))


async def _check(session: AsyncSession, draft: AlertDraft) -> None:
    raise_first(alert_issues(draft), whole="name")
    if draft.tenants:
        known = set((await session.scalars(select(Tenant.name).where(Tenant.name.in_(draft.tenants)))).all())
        for name in draft.tenants:
            if name not in known:
                raise CatalogError(f"unknown tenant {name!r}", field="tenants")


def _fields(draft: AlertDraft) -> dict[str, Any]:
    return {
        "watch": draft.watch,
        "thresholds": sorted(float(t) for t in draft.thresholds),
        "tenants": list(draft.tenants) if draft.tenants is not None else None,
        "subjects": list(draft.subjects) if draft.subjects is not None else None,
        "targets": list(draft.targets) if draft.targets is not None else None,
        "window_minutes": draft.window_minutes,
        "min_requests": draft.min_requests,
        "enabled": draft.enabled,
    }


async def create_alert(
    session: AsyncSession, draft: AlertDraft, *, cipher: CredentialCipher, actor: str = "cli"
) -> Alert:
    await _check(session, draft)
    if await find_alert(session, draft.name) is not None:
        raise CatalogConflict(f"an alert named {draft.name!r} already exists", field="name")
    row = Alert(
        name=draft.name,
        **_fields(draft),
        webhook_encrypted=cipher.encrypt(draft.webhook),
        webhook_host=webhook_host(draft.webhook),
        webhook_ref=draft.webhook_ref,
        secret_encrypted=cipher.encrypt(draft.secret) if draft.secret else None,
        secret_ref=draft.secret_ref if draft.secret else None,
    )
    session.add(row)
    await session.flush()
    await changed(session, actor, "create", "alert", row.id, row.name, None, alert_state(row))
    return row


async def update_alert(
    session: AsyncSession,
    alert_id: int,
    draft: AlertDraft,
    *,
    cipher: CredentialCipher,
    actor: str = "cli",
    keep_webhook: bool = False,
    keep_secret: bool = False,
) -> Alert:
    """Make the alert match `draft`. `keep_webhook` / `keep_secret`: leave the stored one (the page's
    blank field); otherwise `draft.secret` None removes the signature."""
    row = await get_alert(session, alert_id)
    checked = draft
    if keep_webhook:
        checked = AlertDraft(**{**_as_kwargs(draft), "webhook": _KEPT_WEBHOOK})
    await _check(session, checked)
    if draft.name != row.name:
        other = await find_alert(session, draft.name)
        if other is not None and other.id != row.id:
            raise CatalogConflict(f"an alert named {draft.name!r} already exists", field="name")
    before = alert_state(row)
    refs = (row.webhook_ref, row.secret_ref)
    row.name = draft.name
    for key, value in _fields(draft).items():
        setattr(row, key, value)
    # The webhook or the secret sent again as stored is no change (the audited view shows neither: a new
    # one is a change it cannot show).
    new_secrets = False
    if not keep_webhook:
        if not cipher.holds(row.webhook_encrypted, draft.webhook):
            new_secrets = True
            row.webhook_encrypted = cipher.encrypt(draft.webhook)
            row.webhook_host = webhook_host(draft.webhook)
        row.webhook_ref = draft.webhook_ref
    if not keep_secret:
        if not cipher.holds(row.secret_encrypted, draft.secret or None):
            new_secrets = True
            row.secret_encrypted = cipher.encrypt(draft.secret) if draft.secret else None
        row.secret_ref = draft.secret_ref if draft.secret else None
    after = alert_state(row)
    if after != before or new_secrets or (row.webhook_ref, row.secret_ref) != refs:
        await changed(session, actor, "update", "alert", row.id, row.name, before, after)
    return row


def _as_kwargs(draft: AlertDraft) -> dict[str, Any]:
    return {name: getattr(draft, name) for name in AlertDraft.__dataclass_fields__}


# What `change_alert` may change: the draft's fields.
ALERT_FIELDS = frozenset(AlertDraft.__dataclass_fields__)
_TUPLES = ("thresholds", "tenants", "subjects", "targets")


def stored_draft(row: Alert) -> AlertDraft:
    """The stored alert as a draft, without its webhook and secret (kept encrypted; `update_alert` keeps
    them when told to)."""
    return AlertDraft(
        name=row.name,
        watch=row.watch,
        thresholds=tuple(row.thresholds or ()),
        tenants=tuple(row.tenants) if row.tenants is not None else None,
        subjects=tuple(row.subjects) if row.subjects is not None else None,
        targets=tuple(row.targets) if row.targets is not None else None,
        window_minutes=row.window_minutes,
        min_requests=row.min_requests,
        enabled=row.enabled,
        webhook_ref=row.webhook_ref,
        secret_ref=row.secret_ref,
    )


def draft_from(fields: Mapping[str, Any]) -> AlertDraft:
    """A draft from plain values (the API's body, the CLI's options): lists become the draft's tuples."""
    unknown = sorted(set(fields) - ALERT_FIELDS)
    if unknown:
        raise CatalogError("is not a field of an alert", field=unknown[0])
    values = dict(fields)
    for name in _TUPLES:
        if isinstance(values.get(name), list | tuple):
            values[name] = tuple(values[name])
    return AlertDraft(**values)


async def change_alert(
    session: AsyncSession,
    alert_id: int,
    changes: Mapping[str, Any],
    *,
    cipher: CredentialCipher,
    actor: str = "cli",
) -> Alert:
    """Change only the fields named in `changes` (the API's PATCH, `router alert set`), checked as a whole
    by the same validator. `webhook` or `secret` absent keeps the stored one; `secret` None removes the
    signature. A new webhook or secret forgets the `${ENV}` name the old one came from unless one is given."""
    row = await get_alert(session, alert_id)
    base = _as_kwargs(stored_draft(row))
    if "webhook" in changes:
        base["webhook_ref"] = None
    if "secret" in changes:
        base["secret_ref"] = None
    draft = draft_from({**base, **changes})
    return await update_alert(
        session,
        alert_id,
        draft,
        cipher=cipher,
        actor=actor,
        keep_webhook="webhook" not in changes,
        keep_secret="secret" not in changes,
    )


async def delete_alert(session: AsyncSession, alert_id: int, *, actor: str = "cli") -> None:
    """Its deliveries stay as history (their alert id becomes NULL); pending ones are not sent."""
    row = await get_alert(session, alert_id)
    before = alert_state(row)
    await session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.alert_id == row.id, AlertDelivery.status == "pending")
        .values(status="failed", last_error="the alert was deleted", lease_until=None)
    )
    await session.delete(row)
    await changed(session, actor, "delete", "alert", alert_id, before["name"], before, None)


# ------------------------------------------------------------------------------------------ deliveries


async def claim_firings(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """Insert the firings not yet claimed (one statement; ON CONFLICT DO NOTHING) and return (id, status)
    of those this call inserted. Each row: alert_id, alert_name, subject, threshold, window_start, value,
    payload, status. The caller's order is the insert order: keep it stable across replicas."""
    if not rows:
        return []
    now = utcnow()
    values = [{**row, "attempts": 0, "created_at": now, "next_attempt_at": now} for row in rows]
    # Imported here: `config export` lists alerts, and loading both dialects costs the CLI ~0.1 s.
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = session.get_bind().dialect.name
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(DELIVERIES).values(values)
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
    """Record one attempt: delivered; or failed, to retry at `retry_at` (None: no more tries)."""
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
