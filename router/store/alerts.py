"""Alerts: validated CRUD, like the catalog (store/catalog/): the caller's session, never a commit, an audit
entry and a config-version bump per change, `CatalogError` with the offending field. The webhook URL and
the signing secret are encrypted with the credential cipher; `alert_state()` is the view safe to show,
audit or export (the webhook's host only).

Their deliveries (the firing claim, the lease, the history) are store/alert_deliveries.py's; its functions
are importable from here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.drafts import AlertDraft
from router.config.validate import alert_issues
from router.store.alert_deliveries import (
    DeliveryJob,
    claim_firings,
    due_deliveries,
    enqueue_test,
    finish_delivery,
    get_delivery,
    lease_delivery,
    list_deliveries,
    prune_deliveries,
)
from router.store.catalog._base import CatalogConflict, CatalogError, changed, raise_first
from router.store.db import NotFoundError
from router.store.models import Alert, AlertDelivery, Tenant

if TYPE_CHECKING:
    from router.store.crypto import CredentialCipher

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
