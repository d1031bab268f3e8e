"""Usage records the database refused: set aside one by one, listed and replayed by an operator.

A dead letter holds the whole event as ASCII JSON, so its own insert cannot fail on the value that sank the
record. Replaying bounds the event again (the writer's rules may be newer than the letter), inserts it and
deletes the letter in one transaction; a letter that fails again stays, with the new error and one more
attempt counted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.usage_models import UsageDeadLetter
from router.store.usage_writes import EVENT_FIELDS, UsageEvent, write_usage_batch

ERROR_WIDTH = 1000


def event_to_payload(event: UsageEvent) -> str:
    data = event.as_row()
    data["created_at"] = event.created_at.isoformat()
    return json.dumps(data, ensure_ascii=True, default=str, separators=(",", ":"))


def event_from_payload(payload: str) -> UsageEvent:
    data: dict[str, Any] = json.loads(payload)
    known = {name: data[name] for name in EVENT_FIELDS if name in data}
    created = known.get("created_at")
    known["created_at"] = datetime.fromisoformat(created) if isinstance(created, str) else datetime.now(UTC)
    return UsageEvent(**known)


def describe_refusal(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return f"{type(exc).__name__}: {first}"[:ERROR_WIDTH].encode("ascii", "backslashreplace").decode()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    created_at: datetime
    request_id: str
    error: str
    attempts: int
    payload: str


async def add_dead_letters(session: AsyncSession, letters: Sequence[tuple[UsageEvent, str]]) -> None:
    """Insert (event, refusal) pairs (the caller commits)."""
    session.add_all(
        UsageDeadLetter(
            created_at=datetime.now(UTC),
            request_id=str(event.request_id)[:64].encode("ascii", "replace").decode(),
            payload=event_to_payload(event),
            error=error[:ERROR_WIDTH],
            attempts=1,
        )
        for event, error in letters
    )


async def count_dead_letters(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(UsageDeadLetter)) or 0)


async def list_dead_letters(session: AsyncSession, limit: int = 100) -> list[DeadLetter]:
    rows = await session.scalars(select(UsageDeadLetter).order_by(UsageDeadLetter.id).limit(limit))
    return [DeadLetter(r.id, r.created_at, r.request_id, r.error, r.attempts, r.payload) for r in rows.all()]


async def take_dead_letter(session: AsyncSession, letter_id: int) -> UsageDeadLetter | None:
    return await session.get(UsageDeadLetter, letter_id)


async def replay_one(session: AsyncSession, letter: UsageDeadLetter) -> None:
    """Write the letter's record and delete the letter (the caller commits; an error leaves both)."""
    event = event_from_payload(letter.payload).bounded()
    await write_usage_batch(session, [event])
    await session.execute(delete(UsageDeadLetter).where(UsageDeadLetter.id == letter.id))


async def note_failed_replay(session: AsyncSession, letter_id: int, error: str) -> None:
    letter = await session.get(UsageDeadLetter, letter_id)
    if letter is not None:
        letter.error = error[:ERROR_WIDTH]
        letter.attempts += 1
