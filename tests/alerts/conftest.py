"""Alert tests: a real webhook receiver on loopback, and helpers to store alerts and spend."""

from __future__ import annotations

from datetime import UTC, datetime

from router.alerts.delivery import WebhookSender
from router.alerts.evaluator import AlertEvaluator
from router.config.drafts import AlertDraft
from router.store.alerts import create_alert
from router.store.crypto import CredentialCipher
from router.store.db import Database
from router.store.models import Alert
from router.store.usage_writes import UsageEvent, write_usage_batch
from tests.fakes.webhook import webhook

__all__ = ["CIPHER", "add_alert", "sender", "spend", "webhook"]

CIPHER = CredentialCipher("alert tests secret key")


async def add_alert(db: Database, draft: AlertDraft) -> Alert:
    async with db.transaction() as session:
        return await create_alert(session, draft, cipher=CIPHER, actor="test")


async def spend(
    db: Database, usd: float, *, tenant_id: int, key_id: int | None = None, member: str | None = None
) -> None:
    """A request's cost, written as the usage writer does (raw row and hourly rollup)."""
    event = UsageEvent(
        created_at=datetime.now(UTC),
        request_id=f"req-{datetime.now(UTC).timestamp()}-{usd}",
        tenant_id=tenant_id,
        key_id=key_id,
        member=member,
        requested_model="claude-sonnet-4",
        target="openai/gpt-4.1",
        cost_usd=usd,
    )
    async with db.transaction() as session:
        await write_usage_batch(session, [event])


def sender(db: Database, **kwargs: float) -> WebhookSender:
    options = {"timeout": 2.0, "max_attempts": 3, "retry_seconds": 0.0, **kwargs}
    return WebhookSender(
        db,
        CIPHER,
        timeout=float(options["timeout"]),
        max_attempts=int(options["max_attempts"]),
        retry_seconds=float(options["retry_seconds"]),
    )


def evaluator(db: Database, **kwargs: object) -> AlertEvaluator:
    return AlertEvaluator(db, **kwargs)  # type: ignore[arg-type]
