"""What every CLI command shares: one-line errors, settings, the database session, secrets from the
environment or stdin, limit options, tables.

A command runs as one transaction (`transaction(settings)`): it writes everything or nothing. An expected
failure prints `error: …` on one line to stderr and exits 1; a usage mistake is click's own exit 2.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeAlias, TypeVar, cast

import click
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from router.settings_light import CommandSettings, load_light
from router.store.db import Database, StoreError, redact_url

if TYPE_CHECKING:
    from router.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

# Who the audit log names for changes made from the command line.
CLI_ACTOR = "cli"

_MISSING_SCHEMA = re.compile(r"no such table|relation .* does not exist|undefined ?table", re.IGNORECASE)


class CliError(Exception):
    """A failure worth one `error: …` line."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


# `router --create-database`: this run may create the SQLite file (serve and db upgrade always may).
_creation_allowed = False


def allow_database_creation(allowed: bool) -> None:
    global _creation_allowed
    _creation_allowed = allowed


def announce_new_database(settings: CommandSettings) -> None:
    """Say on stderr which SQLite file is about to be created (a new user should never be surprised)."""
    path = settings.sqlite_path
    if path is not None and not path.exists():
        click.echo(f"creating a new SQLite database at {path.resolve()}", err=True)


def load_settings() -> CommandSettings:
    """What a data command reads of the settings, fresh from the environment (not the process-wide cache:
    tests vary the env). Without pydantic when the environment and .env set nothing more
    (router/settings_light.py), else the full Settings, refused as `load_full_settings` says."""
    light = load_light()
    return light if light is not None else load_full_settings()


def settings_of(ctx: click.Context) -> CommandSettings:
    """The settings a caller handed in as the context's object (`main(obj=settings)`), else the
    environment's."""
    if isinstance(getattr(ctx.obj, "database_url", None), str):
        return cast("CommandSettings", ctx.obj)
    return load_settings()


def load_full_settings() -> Settings:
    """Every setting, validated: invalid ones are one `error: invalid settings: ROUTER_X: …` line."""
    from pydantic import ValidationError

    from router.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"ROUTER_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise CliError(f"invalid settings: {problems}") from None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe_error(exc: BaseException, url: str | None) -> str | None:
    """The one line for an expected failure; None for anything unexpected (a bug: let it show)."""
    where = redact_url(url) if url else "the configured URL"
    if isinstance(exc, CliError | StoreError | ValueError):
        return str(exc)
    if isinstance(exc, IntegrityError):
        return f"the change conflicts with existing data: {_first_line(exc)}"
    if isinstance(exc, DBAPIError):
        reason = _first_line(exc)
        if _MISSING_SCHEMA.search(reason):
            return f"the database at {where} has no schema yet: run `router db upgrade`"
        return f"cannot reach the database at {where}: {reason}"
    if isinstance(exc, OSError | TimeoutError):
        return f"cannot reach the database at {where}: {exc.strerror or type(exc).__name__}"
    if isinstance(exc, SQLAlchemyError):
        return f"database error at {where}: {_first_line(exc)}"
    return None


def cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our expected failures into one `error: …` line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except click.exceptions.ClickException:
            raise
        except Exception as exc:  # the CLI's boundary: known failures become one line, the rest propagate
            url = _url_for_message()
            message = describe_error(exc, url)
            if message is None:
                raise
            click.echo(f"error: {message}", err=True)
            raise click.exceptions.Exit(1) from None

    return wrapper


def _url_for_message() -> str | None:
    try:
        return load_settings().database_url
    except CliError:  # invalid settings
        return None


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@asynccontextmanager
async def open_database(settings: CommandSettings) -> AsyncIterator[Database]:
    """The database, ready for data commands.

    A missing SQLite file is not created here unless `router --create-database` asked (a command run in the
    wrong directory must not leave an empty database behind); an existing one is migrated on the spot, as
    `router serve` would. Any other database must already be at the head revision, so that the CLI never
    changes a shared schema behind anyone's back.
    """
    # No Alembic unless there is something to migrate: the head comes from the revision files.
    from router.store.revisions import current_revision_of, script_heads

    path = settings.sqlite_path
    if path is not None and not path.exists():
        if not _creation_allowed:
            fail(
                f"no database at {path.resolve()}: run `router db upgrade` to create it, "
                "set ROUTER_DATABASE_URL to the one you mean, or pass `router --create-database ...`"
            )
        announce_new_database(settings)
    db = Database(settings.database_url, short_lived=True)
    try:
        revision = await current_revision_of(db.engine)
        if (revision,) != script_heads():
            from router.store.migrate import head_revision, upgrade_to_head

            if settings.is_sqlite:
                await upgrade_to_head(settings.database_url)
            else:
                where = redact_url(settings.database_url)
                fail(
                    f"the database at {where} is at revision {revision or 'none'}, not {head_revision()}: "
                    "run `router db upgrade`"
                )
        yield db
    finally:
        await db.dispose()


@asynccontextmanager
async def transaction(settings: CommandSettings) -> AsyncIterator[AsyncSession]:
    """One transaction for one command: committed if the command succeeds, otherwise nothing is written."""
    async with open_database(settings) as db, db.transaction() as session:
        yield session


@asynccontextmanager
async def reading(settings: CommandSettings) -> AsyncIterator[AsyncSession]:
    async with open_database(settings) as db, db.session() as session:
        yield session


# A secret (a webhook URL whose path is its token, a signing secret, a password) is never a plain option: it
# would sit in shell history and `ps`. A command reads it from an environment variable it is given the name
# of (`--X-env VAR`, like `${VAR}` in the config file) or from a line of stdin (`--X-stdin`).


def stdin_line(what: str) -> str:
    """The next line of stdin (several secrets from stdin: one line each, in the order the command reads
    them); an empty one or none is an error naming `what`."""
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        fail(f"no {what} on stdin")
    return value


def secret_from(env: str | None, from_stdin: bool, what: str, option: str) -> tuple[str, str | None] | None:
    """The secret `--OPTION-env VAR` or `--OPTION-stdin` gives, as (value, VAR or None from stdin); None
    when neither is given."""
    if env is not None and from_stdin:
        fail(f"give --{option}-env or --{option}-stdin, not both")
    if from_stdin:
        return stdin_line(what), None
    if env is None:
        return None
    value = os.environ.get(env.strip())
    if not value:
        fail(f"--{option}-env: environment variable {env.strip()} is not set")
    return value, env.strip()


class _Unset:
    """An option that was not given (distinct from `none`, which removes a limit)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# click >= 8.2 types ParamType as a generic; older versions cannot be subscripted at run time.
if TYPE_CHECKING:
    _ParamBase: TypeAlias = click.ParamType[Any, Any]
else:
    _ParamBase = click.ParamType


class LimitType(_ParamBase):
    """A non-negative number, or `none` to remove the limit."""

    def __init__(self, kind: type[int] | type[float]) -> None:
        self.kind = kind
        self.name = "integer|none" if kind is int else "number|none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, int | float | _Unset):
            return value
        text = str(value).strip().lower()
        if text in ("none", "off", "unlimited"):
            return None
        try:
            number = self.kind(text)
        except ValueError:
            self.fail(f"{value!r} is not a {self.name.split('|')[0]} or 'none'", param, ctx)
        if number < 0:
            self.fail(f"{value!r} must not be negative", param, ctx)
        return number


INT_LIMIT = LimitType(int)
FLOAT_LIMIT = LimitType(float)


def keep_if_unset(value: Any) -> Any:
    """Map a not-given option to `...` (the repositories' "leave as it is")."""
    return ... if isinstance(value, _Unset) else value


def format_limit(value: float | int | None, suffix: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}{suffix}"
    return f"{value}{suffix}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Left-aligned columns; an empty table prints its headers only."""
    cells = [[str(h) for h in headers], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


BUDGET_WINDOWS = ("day", "week", "month")
BUDGET_WINDOW_HELP = (
    "The window of --budget-usd: day, week (ISO, from Monday) or month, in UTC (default: month). "
    "Several budgets at once: `router budget set`."
)


def budget_window_of(window: str | None, budget_given: bool) -> str:
    """The window --budget-usd is for: month unless --budget-window says otherwise."""
    if window is not None and not budget_given:
        fail("--budget-window needs --budget-usd (the amount for that window)")
    return window or "month"


def format_budgets(budgets: dict[str, float]) -> str:
    """{"day": 20.0, "month": 300.0} -> "20/day,300/month"; "-" when there are none."""
    shown = [f"{budgets[w]:g}/{w}" for w in BUDGET_WINDOWS if w in budgets]
    return ",".join(shown) if shown else "-"
