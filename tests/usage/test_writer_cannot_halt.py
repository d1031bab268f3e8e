"""No value can halt the usage writer: bounded events always fit, and a row the database still refuses is set
aside as a dead letter (listed and replayed with `router usage-dead-letters`) without blocking the rows
behind it. Real databases: SQLite and PostgreSQL; the refusal is a real trigger, not a fake writer."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, text

from router.cli import main
from router.observability import metrics
from router.store.db import Database
from router.store.usage_bounds import MAX_COUNT
from router.store.usage_models import UsageDeadLetter, UsageRecord
from router.store.usage_writes import UsageEvent
from router.usage.recorder import UsageRecorder
from tests.fixtures.app import SECRET

_SQLITE_TRIGGER = (
    "CREATE TRIGGER refuse_poison BEFORE INSERT ON usage_records WHEN NEW.requested_model = 'poison' "
    "BEGIN SELECT RAISE(ABORT, 'poison refused'); END"
)
_PG_TRIGGER = (
    "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
    "IF NEW.requested_model = 'poison' THEN RAISE EXCEPTION 'poison refused'; END IF; RETURN NEW; "
    "END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER refuse_poison BEFORE INSERT ON usage_records FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
)


async def _refuse_poison(database: Database, on: bool) -> None:
    postgres = database.engine.dialect.name == "postgresql"
    async with database.transaction() as session:
        if on:
            for statement in _PG_TRIGGER if postgres else (_SQLITE_TRIGGER,):
                await session.execute(text(statement))
        elif postgres:
            await session.execute(text("DROP TRIGGER refuse_poison ON usage_records"))
            await session.execute(text("DROP FUNCTION refuse_poison()"))
        else:
            await session.execute(text("DROP TRIGGER refuse_poison"))


class _Cli:
    """The CLI in a thread: it runs its own event loop."""

    async def invoke(self, args: list[str], env: dict[str, str]) -> Result:
        return await asyncio.to_thread(CliRunner().invoke, main, args, env=env)


def _event(request_id: str, model: str = "claude-sonnet-4-5", **fields: object) -> UsageEvent:
    return UsageEvent(datetime.now(UTC), request_id, requested_model=model, **fields)  # type: ignore[arg-type]


def _recorder(database: Database) -> UsageRecorder:
    return UsageRecorder(database, queue_size=10_000, batch_size=200, flush_interval=0.05)


async def _records(database: Database) -> dict[str, UsageRecord]:
    async with database.session() as session:
        return {r.request_id: r for r in (await session.scalars(select(UsageRecord))).all()}


async def test_values_a_client_or_upstream_controls_are_bounded_so_every_row_is_written(
    database: Database,
) -> None:
    recorder = _recorder(database)
    await recorder.start()
    hostile = [
        _event("long-model", "m" * 100_000),
        _event("nul-model", "claude\x00sonnet"),
        _event("surrogate", "\ud800model", member="bob\x00"),
        _event("int32-tokens", input_tokens=2**31 + 5, output_tokens=2**40),
        _event("huge-tokens", input_tokens=2**64, cache_read_tokens=-5, latency_ms=2**70),
        _event("error-text", error_type="x" * 5000 + "\x00", attempts=[{"target": "t" * 10_000}] * 500),
        _event("after"),
    ]
    for ev in hostile:
        recorder.record(ev)
    await recorder.flush()
    await recorder.stop()
    rows = await _records(database)
    assert set(rows) == {ev.request_id for ev in hostile}
    assert (recorder.written, recorder.dead_lettered, recorder.dropped) == (len(hostile), 0, 0)
    assert len(rows["long-model"].requested_model) == 300
    assert "\x00" not in rows["nul-model"].requested_model
    assert rows["int32-tokens"].input_tokens == 2**31 + 5  # 64-bit columns keep it whole
    assert rows["int32-tokens"].output_tokens == 2**40
    assert rows["huge-tokens"].input_tokens == MAX_COUNT
    assert rows["huge-tokens"].cache_read_tokens == 0
    assert len(rows["error-text"].attempts) == 32


async def test_a_row_the_database_refuses_becomes_a_dead_letter_and_the_rest_are_written(
    database: Database,
) -> None:
    await _refuse_poison(database, on=True)
    recorder = _recorder(database)
    await recorder.start()
    # One batch with the poison in the middle, then more traffic: none of it may wait behind the poison.
    for i in range(50):
        recorder.record(_event(f"before-{i}"))
    recorder.record(_event("the-poison", "poison", input_tokens=7))
    for i in range(50):
        recorder.record(_event(f"after-{i}"))
    await recorder.flush()
    for i in range(10):
        recorder.record(_event(f"later-{i}"))
    await recorder.flush()

    rows = await _records(database)
    assert len(rows) == 110 and "the-poison" not in rows
    assert (recorder.written, recorder.dead_lettered, recorder.dropped, recorder.pending) == (110, 1, 0, 0)
    body = metrics.render()[0].decode()
    assert "router_usage_dead_lettered_total 1.0" in body
    assert "router_usage_written_total 110.0" in body
    assert "router_usage_queue_pending 0.0" in body
    await recorder.stop()

    env = {"ROUTER_DATABASE_URL": str(database.url), "ROUTER_SECRET_KEY": SECRET}
    runner = _Cli()
    listed = await runner.invoke(["usage-dead-letters", "list", "--format", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    [letter] = json.loads(listed.output)
    assert letter["request_id"] == "the-poison"
    assert "poison refused" in letter["error"]
    assert letter["record"]["input_tokens"] == 7

    # Still refused: the letter stays, with one more attempt counted, and the command says so.
    again = await runner.invoke(["usage-dead-letters", "replay", "--all"], env=env)
    assert again.exit_code == 1
    assert "still refused 1" in again.output
    async with database.session() as session:
        assert await session.scalar(select(UsageDeadLetter.attempts)) == 2

    # The operator removes the cause and replays: the record lands once, the letter is gone.
    await _refuse_poison(database, on=False)
    replayed = await runner.invoke(["usage-dead-letters", "replay", str(letter["id"])], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 1" in replayed.output
    rows = await _records(database)
    assert rows["the-poison"].input_tokens == 7 and len(rows) == 111
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(UsageDeadLetter)) == 0
    empty = await runner.invoke(["usage-dead-letters", "list"], env=env)
    assert "no dead letters" in empty.output


async def test_replay_needs_ids_or_all_and_names_a_missing_letter(database: Database) -> None:
    env = {"ROUTER_DATABASE_URL": str(database.url), "ROUTER_SECRET_KEY": SECRET}
    runner = _Cli()
    bare = await runner.invoke(["usage-dead-letters", "replay"], env=env)
    assert bare.exit_code == 1 and "error: name dead-letter ids" in bare.output
    missing = await runner.invoke(["usage-dead-letters", "replay", "999"], env=env)
    assert missing.exit_code == 1 and "no dead letter with id 999" in missing.output


@pytest.mark.parametrize("model", ["x" * 257, "claude\x00sonnet", "a\nb"])
def test_the_wire_edge_refuses_an_unbounded_model_name(model: str) -> None:
    from router.wire.errors import InvalidRequestError
    from router.wire.requests import decode_request

    body = json.dumps({"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    with pytest.raises(InvalidRequestError) as caught:
        decode_request(body.encode())
    assert str(caught.value.message).startswith("model: ")
