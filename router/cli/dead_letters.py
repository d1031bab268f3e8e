"""`router usage-dead-letters`: the usage records the database refused, listed, shown and replayed.

The writer sets such a record aside (table usage_dead_letters) so that it never blocks the ones behind it.
An operator inspects the refusals, fixes the cause (a schema change, a constraint, a trigger) and replays:
each letter is written as a usage record and deleted in one transaction; one that fails again stays.
"""

from __future__ import annotations

import json

import click

from router.cli.common import CliError, cli_errors, open_database, run, settings_of
from router.settings_light import CommandSettings
from router.store.dead_letters import (
    DeadLetter,
    describe_refusal,
    list_dead_letters,
    note_failed_replay,
    replay_one,
    take_dead_letter,
)


@click.group("usage-dead-letters")
def dead_letters_group() -> None:
    """Usage records the database refused: list, show and replay them."""


async def _list(settings: CommandSettings, limit: int) -> list[DeadLetter]:
    async with open_database(settings) as db, db.session() as session:
        return await list_dead_letters(session, limit)


@dead_letters_group.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@cli_errors
def list_command(ctx: click.Context, limit: int, fmt: str) -> None:
    """The oldest dead letters first: id, when, request id, attempts, the database's refusal."""
    letters = run(_list(settings_of(ctx), limit))
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "id": d.id,
                        "created_at": d.created_at.isoformat(),
                        "request_id": d.request_id,
                        "attempts": d.attempts,
                        "error": d.error,
                        "record": json.loads(d.payload),
                    }
                    for d in letters
                ],
                indent=2,
            )
        )
        return
    if not letters:
        click.echo("no dead letters")
        return
    for d in letters:
        click.echo(f"{d.id}\t{d.created_at:%Y-%m-%d %H:%M:%S}\t{d.request_id}\t{d.attempts}\t{d.error}")


async def _replay(settings: CommandSettings, ids: tuple[int, ...], everything: bool) -> tuple[int, list[str]]:
    replayed, failed = 0, []
    async with open_database(settings) as db:
        if everything:
            async with db.session() as session:
                ids = tuple(d.id for d in await list_dead_letters(session, limit=1_000_000))
        for letter_id in ids:
            try:
                async with db.transaction() as session:
                    letter = await take_dead_letter(session, letter_id)
                    if letter is None:
                        raise CliError(f"no dead letter with id {letter_id}")
                    await replay_one(session, letter)
                replayed += 1
            except CliError:
                raise
            except Exception as exc:  # boundary: a letter refused again stays, with its new refusal
                reason = describe_refusal(exc)
                async with db.transaction() as session:
                    await note_failed_replay(session, letter_id, reason)
                failed.append(f"{letter_id}: {reason}")
    return replayed, failed


@dead_letters_group.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "everything", is_flag=True, help="Replay every dead letter.")
@click.pass_context
@cli_errors
def replay_command(ctx: click.Context, ids: tuple[int, ...], everything: bool) -> None:
    """Write dead letters (by id, or --all) as usage records and delete them; failures stay."""
    if not ids and not everything:
        raise CliError("name dead-letter ids to replay, or --all")
    replayed, failed = run(_replay(settings_of(ctx), ids, everything))
    click.echo(f"replayed {replayed}, still refused {len(failed)}")
    for line in failed:
        click.echo(f"refused again: {line}", err=True)
    if failed:
        ctx.exit(1)
