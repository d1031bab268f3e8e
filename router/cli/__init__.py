"""The `router` command line: serve, db, tenant, key, admin, and the other parts' config, route and usage.

Each command's module is imported only when that command runs (`LazyGroup`): `router tenant list` pays for
the tenant code and the database, never for the web app or LiteLLM, and `router --help` imports none of
them (it lists each command's one-line help from the table below; tests/cli checks the table matches).

Run as the `router` executable (or `python -m router`), the cyclic garbage collector is paused while the
command's modules load: imports build hundreds of thousands of long-lived objects and no garbage, yet
every few hundred allocations the collector walked them again, about a third of a data command's CPU
(bench/README.md). Once the command's module is in, those objects are frozen out of the collector's way and
collection resumes for the command's own work, the young generation less often (as `router serve` has it).
A finished command (any but `serve`) then ends without the interpreter's teardown of those objects
(`_exit_without_teardown`).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
from typing import Any, NamedTuple

import click

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


class Entry(NamedTuple):
    module: str
    attribute: str
    # The first sentence of the command's docstring, as `router --help` shows it.
    short_help: str


# A new command group is one line here (tests/cli/test_cli_imports.py checks each line against its module).
COMMANDS: dict[str, Entry] = {
    "admin": Entry(
        "router.cli.admin",
        "admin_group",
        "Users of the admin page: owner, admin, tenant-admin (of --tenant) or viewer (optionally limited).",
    ),
    "alert": Entry(
        "router.cli.alert",
        "alert_group",
        "Alerts: webhooks told when a budget, an error rate or a cool-down crosses a threshold.",
    ),
    "budget": Entry(
        "router.cli.budget",
        "budget_group",
        "Budgets in USD per day, week or month (UTC) of a tenant, a member (all their keys) or a key.",
    ),
    "config": Entry(
        "router.cli.config",
        "config",
        "Configuration as code: `apply` makes the database match a YAML file, `export` writes it back out.",
    ),
    "db": Entry("router.cli.db", "db_group", "Database schema migrations (Alembic)."),
    "key": Entry(
        "router.cli.key",
        "key_group",
        "Members' proxy keys (sk-rt-…): shown once at creation, stored only as a hash.",
    ),
    "route": Entry("router.cli.route", "route", "Inspect routing decisions."),
    "serve": Entry(
        "router.cli.serve",
        "serve_command",
        "Apply pending migrations and serve /v1/messages and the admin page.",
    ),
    "signin": Entry(
        "router.cli.signin", "signin_group", "Members signed in with the company identity provider."
    ),
    "tenant": Entry(
        "router.cli.tenant", "tenant_group", "Tenants (teams): each has its own keys, rules and limits."
    ),
    "usage": Entry(
        "router.cli.usage",
        "usage",
        "Requests, errors, tokens and cost (from the hourly rollups), or one of the commands below.",
    ),
    "usage-dead-letters": Entry(
        "router.cli.dead_letters",
        "dead_letters_group",
        "Usage records the database refused: list, show and replay them.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands live in modules imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, Entry], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy
        self.collection_paused = False
        self.loaded: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The `router` executable (console script and `python -m router`): no collection while loading.

        (click's test runner calls `main()` itself, so a test process's collector is never touched.)
        Called as both executables call it, without arguments (click reads sys.argv), a command other than
        `serve` then exits without the interpreter's teardown (`_exit_without_teardown`).
        """
        if gc.isenabled():
            gc.disable()
            self.collection_paused = True
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit as exc:
            if not args and not kwargs and self.loaded != "serve":
                _exit_status.append(_status_of(exc.code))
            raise
        finally:
            self.resume_collection()

    def resume_collection(self) -> None:
        """Freeze what start-up built (it lives until exit) and collect from here on, the young generation
        every 20,000 allocations as `router serve` does rather than every 700: a data command's own start
        (the database driver's imports, mapper configuration, the first queries) allocates long-lived
        objects too, and ~35 young collections cost ~4-6 ms of its CPU; a short-lived command can leave
        that many cyclic objects waiting."""
        if self.collection_paused:
            self.collection_paused = False
            gc.freeze()
            # router/gc_tuning.py's collect_young_less_often(), not imported: `router --help` loads nothing.
            gc.set_threshold(20_000, 50, 100)
            gc.enable()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.lazy, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        entry = self.lazy[cmd_name]
        command = getattr(importlib.import_module(entry.module), entry.attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry.module}.{entry.attribute} is not a click command")
        self.add_command(command, cmd_name)
        self.loaded = cmd_name
        self.resume_collection()
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own command list, with each lazy command's help from the table (listing never imports)."""
        names = self.list_commands(ctx)
        if not names:
            return
        # The width click gives a command's short help (click.Group.format_commands).
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self.listed_help(ctx, name, limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def listed_help(self, ctx: click.Context, name: str, limit: int) -> str:
        if name in self.lazy and name not in self.commands:
            # A stand-in command shortens the text exactly as click would the real one.
            return click.Command(name, help=self.lazy[name].short_help).get_short_help_str(limit)
        command = self.get_command(ctx, name)
        return command.get_short_help_str(limit) if command is not None else ""


# The exit status of the executable's command, once it ended with SystemExit (see LazyGroup.__call__).
_exit_status: list[int] = []


def _status_of(code: object) -> int:
    """The process status sys.exit(code) gives (Python itself prints a message code, before exit handlers)."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _exit_without_teardown() -> None:
    """End a finished CLI command's process without tearing the interpreter down.

    Python's exit frees every module and the hundreds of thousands of objects the imports built, one by one:
    ~16-20 ms of a data command's ~0.35 s of CPU (bench/README.md). Registered when this module is imported,
    before any other exit handler (tests/cli checks), so it runs last: by then non-daemon threads were
    joined and every other atexit handler ran (logging's shutdown is called again here in case it was
    registered first); only the teardown and the finalizers of what is still alive are skipped. The status
    is the command's, or 120 when flushing stdout fails (as Python's own exit).
    """
    if not _exit_status:
        return
    status = _exit_status[-1]
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            status = 120
    os._exit(status)


atexit.register(_exit_without_teardown)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--create-database",
    is_flag=True,
    help="Let this command create the SQLite database if it does not exist (only `serve` and "
    "`db upgrade` create one unasked).",
)
def main(create_database: bool) -> None:
    """Route Anthropic Messages API requests to OpenAI, Azure, Gemini, Anthropic or any LiteLLM provider.

    Configuration comes from ROUTER_* environment variables (or a .env file); see `router serve --help`.
    """
    from router.cli.common import allow_database_creation

    allow_database_creation(create_database)
