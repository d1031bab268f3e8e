"""Whether the configuration came from a file, and what has been edited here since (the next apply of
that file overwrites those edits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from router.store import audit as audit_store


@dataclass(frozen=True, slots=True)
class Drift:
    applied_at: datetime
    applied_by: str
    edits: int


async def config_drift(session: Any) -> Drift | None:
    """None when the configuration was never applied from a file."""
    applied, edits = await audit_store.edits_since_apply(session)
    if applied is None:
        return None
    return Drift(applied_at=applied.created_at, applied_by=applied.actor, edits=len(edits))
