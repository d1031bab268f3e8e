"""Text the router cannot refuse is bounded where it is written, on both databases: the audit line's who and
names (an IdP e-mail, a rule's 500-character match), a webhook receiver's refusal, a denied sign-in's reason.
PostgreSQL refuses what does not fit its column, so each write here would fail there unbounded."""

from __future__ import annotations

from sqlalchemy import select

from router.config import lengths as L
from router.store.alert_deliveries import finish_delivery
from router.store.audit import record_audit
from router.store.db import Database
from router.store.models import AlertDelivery, AuditEntry, utcnow


async def test_an_audit_line_cuts_its_labels_and_keeps_the_whole_values(database: Database) -> None:
    actor, name = "a" * (L.AUDIT_ACTOR_CHARS + 50), "m" * L.MATCH_CHARS
    async with database.transaction() as session:
        await record_audit(
            session,
            actor=actor,
            action="create",
            object_type="rule",
            object_id="9" * (L.AUDIT_OBJECT_ID_CHARS + 1),
            object_name=name,
            before=None,
            after={"match": name},
        )
    async with database.session() as session:
        entry = (await session.scalars(select(AuditEntry))).one()
    assert len(entry.actor) == L.AUDIT_ACTOR_CHARS and entry.actor.endswith("\u2026")
    assert entry.actor[:-1] == actor[: L.AUDIT_ACTOR_CHARS - 1]
    assert entry.object_id is not None and len(entry.object_id) == L.AUDIT_OBJECT_ID_CHARS
    assert entry.object_name is not None and len(entry.object_name) == L.AUDIT_OBJECT_NAME_CHARS
    assert entry.after == {"match": name}


async def test_a_receivers_long_refusal_is_kept_cut_to_its_column(database: Database) -> None:
    now = utcnow()
    async with database.transaction() as session:
        row = AlertDelivery(
            alert_name="spend",
            subject="test",
            window_start=now,
            payload={},
            status="pending",
            next_attempt_at=now,
        )
        session.add(row)
        await session.flush()
        delivery_id = row.id
    async with database.transaction() as session:
        await finish_delivery(
            session,
            delivery_id,
            now=now,
            delivered=False,
            http_status=400,
            error="400 from hooks.example.com: " + "x" * 2000,
            retry_at=None,
        )
    async with database.session() as session:
        stored = await session.get(AlertDelivery, delivery_id)
    assert stored is not None and stored.last_error is not None
    assert len(stored.last_error) == L.DELIVERY_ERROR_CHARS
    assert stored.last_error.startswith("400 from hooks.example.com: ") and stored.status == "failed"
