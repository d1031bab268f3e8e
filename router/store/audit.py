"""The audit log: who changed what, with before and after, secrets redacted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from router.config.lengths import AUDIT_ACTOR_CHARS, AUDIT_OBJECT_ID_CHARS, AUDIT_OBJECT_NAME_CHARS, bounded
from router.store.models import AuditEntry
from router.store.version import bump_config_version

REDACTED = "***"

# Field names whose values never reach the audit log. "token" only as a whole word, so that
# max_tokens / input_tokens stay visible; "*_ref" names an env variable, not a secret, and stays.
_SECRET_NAME = re.compile(r"credential|api_?key|password|secret|key_hash|(^|[_\-])token$", re.IGNORECASE)


def is_secret_field(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not name.lower().endswith("_ref")


def redact(value: Any) -> Any:
    """A JSON-safe copy of `value` with every secret-named field replaced by "***" (None stays None)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if is_secret_field(name):
                out[name] = None if item is None else REDACTED
            else:
                out[name] = redact(item)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [redact(item) for item in items]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


async def changed(
    session: AsyncSession,
    actor: str,
    action: str,
    object_type: str,
    row_id: int | str | None,
    name: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    tenant_id: int | None = None,
    *,
    bump: bool = True,
) -> None:
    """The one audit-and-bump step of every configuration change (catalog, tenants, keys, admins, their
    sessions, sign-in mappings): flush, bump the config version so every process rebuilds its snapshot, and
    write the audit entry, all in the caller's transaction. `bump=False` only for a change every process
    sees without being told (an expired session)."""
    await session.flush()
    if bump:
        await bump_config_version(session)
    await record_audit(
        session,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=None if row_id is None else str(row_id),
        object_name=name,
        before=before,
        after=after,
        tenant_id=tenant_id,
    )


async def record_audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | None,
    object_name: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    tenant_id: int | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction (it commits or rolls back with the change).

    The who and the names are labels, cut to their columns (a rule's match may be longer than a name, an
    IdP's e-mail longer than an admin user name): the audit line never refuses a change the store took;
    `before` and `after` keep the whole values."""
    entry = AuditEntry(
        actor=bounded(actor, AUDIT_ACTOR_CHARS),
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else bounded(object_id, AUDIT_OBJECT_ID_CHARS),
        object_name=None if object_name is None else bounded(object_name, AUDIT_OBJECT_NAME_CHARS),
        tenant_id=tenant_id,
        before=redact(before) if before is not None else None,
        after=redact(after) if after is not None else None,
    )
    session.add(entry)
    return entry


async def list_audit(
    session: AsyncSession,
    *,
    limit: int,
    offset: int = 0,
    tenant_id: int | None = None,
    object_type: str | None = None,
    actor: str | None = None,
    search: str | None = None,
) -> list[AuditEntry]:
    """Audit entries, newest first, optionally for one tenant, one kind of object, one actor, or a name
    containing `search`."""
    query = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    if tenant_id is not None:
        query = query.where(AuditEntry.tenant_id == tenant_id)
    if object_type is not None:
        query = query.where(AuditEntry.object_type == object_type)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(AuditEntry.object_name.ilike(pattern, escape="\\"))

    rows = await session.scalars(query.limit(limit).offset(offset))
    return list(rows)


# The audit entry `config apply` leaves, and the kinds of object a config file owns (and so overwrites).
CONFIG_APPLY = ("apply", "config")
CONFIG_OBJECTS = frozenset({"provider", "deployment", "chain", "rule", "rules", "price", "pool", "tenant"})


async def last_config_apply(session: AsyncSession) -> AuditEntry | None:
    """The latest `config apply` (None when the configuration was never applied from a file)."""
    action, object_type = CONFIG_APPLY
    query = (
        select(AuditEntry)
        .where(AuditEntry.action == action, AuditEntry.object_type == object_type)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def edits_since_apply(
    session: AsyncSession, limit: int = 200
) -> tuple[AuditEntry | None, list[AuditEntry]]:
    """The last apply and the configuration changes made since then by anything but an apply (the admin
    page, the CLI's one-object commands): what the next `config apply` of the same file would overwrite."""
    applied = await last_config_apply(session)
    if applied is None:
        return None, []
    # A tenant created here survives an apply (files never remove tenants); everything else is overwritten.
    tenant_create = (AuditEntry.object_type == "tenant") & (AuditEntry.action == "create")
    query = (
        select(AuditEntry)
        .where(AuditEntry.id > applied.id, AuditEntry.object_type.in_(sorted(CONFIG_OBJECTS)), ~tenant_create)
        .order_by(AuditEntry.id)
        .limit(limit)
    )
    return applied, list((await session.scalars(query)).all())
