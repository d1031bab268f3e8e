"""The CLI stays quick: a command imports its own module only, and never LiteLLM, the web app or (on a
database at head) Alembic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

from router.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]

# Runs a command in a fresh interpreter, then prints (last line) the modules of these packages it loaded.
PROBE = """
import json, sys
from router.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in PACKAGES)))
"""
WATCHED = (
    "litellm",
    "alembic",
    "litestar",
    "uvicorn",
    "router",
    "sqlalchemy",
    "pydantic",
    "pydantic_settings",
    "cryptography",
)


def _run_probe(tmp_path: Path, *args: str) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", f"PACKAGES = {WATCHED!r}\n{PROBE}", *args],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ROUTER_SECRET_KEY": "s" * 32},
        capture_output=True,
        text=True,
        timeout=60,
    )
    output, _, last = done.stdout.strip().rpartition("\n")
    return output, set(json.loads(last))


def _modules_after(tmp_path: Path, *args: str) -> set[str]:
    return _run_probe(tmp_path, *args)[1]


def test_every_command_in_the_table_loads_with_the_help_the_table_lists() -> None:
    ctx = click.Context(main)
    for name, entry in COMMANDS.items():
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command), name
        assert command.get_short_help_str(limit=1000) == entry.short_help, name


def test_a_setting_beyond_the_few_a_command_reads_loads_the_full_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ROUTER_PORT=8090\n")
    output, loaded = _run_probe(tmp_path, "db", "current")
    assert "router.settings" in loaded and "pydantic_settings" in loaded, output


def test_help_lists_every_command_without_importing_any(tmp_path: Path) -> None:
    output, loaded = _run_probe(tmp_path, "--help")
    listed = output.split("Commands:")[1]
    for name in COMMANDS:
        assert f"\n  {name} " in listed, name
    # Neither the database layer nor settings: only the package and the command table.
    assert loaded == {"router", "router.cli"}


def test_data_commands_import_neither_litellm_nor_the_web_app(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "router", "db", "upgrade"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
    )
    # What a reading command has no use for: parsing and validating config, usage reports, routing.
    readers_skip = {"router.config.schema", "router.config.validate", "router.store.usage_reports"}
    commands: dict[tuple[str, ...], set[str]] = {
        ("tenant", "list"): readers_skip | {"router.routing.model", "router.store.config_file"},
        ("key", "list"): readers_skip | {"router.routing.model", "router.store.config_file"},
        # Nothing here encrypts or decrypts; sign-in tables are not the configuration's.
        ("alert", "list"): {"router.store.usage_reports", "cryptography"},
        # Rules are written out from their rows: the routing snapshot's model is not built (~10 ms).
        ("config", "export"): {
            "router.config.schema",
            "router.store.config_file.plan",
            "cryptography",
            "router.store.identity_models",
            "router.routing.model",
        },
        ("db", "current"): {"router.store.models", "router.store.migrate"},
        # On SQLite, PostgreSQL's dialect is not loaded (a store module asks for its backend's at run time).
        ("usage",): {"sqlalchemy.dialects.postgresql"},
        ("admin", "list"): {"sqlalchemy.dialects.postgresql"},
        ("budget", "list"): set(),
        # Explaining reads no credential: cryptography is not loaded (~5 ms).
        ("route", "explain", "--model", "claude-sonnet-4-5"): {"cryptography"},
    }
    for args, skipped in commands.items():
        loaded = _modules_after(tmp_path, *args)
        assert f"router.cli.{args[0]}" in loaded and "router.store.db" in loaded, args  # it did run
        # On a database at head nothing migrates: the revision files and the version table say so.
        unwanted = ("litellm", "litestar", "uvicorn", "alembic")
        assert not {m for m in loaded if m.split(".")[0] in unwanted}, args
        assert "router.cli.serve" not in loaded and "router.app" not in loaded, args
        assert not skipped & loaded, args
        # Only the database URL and the secret key are set: read without pydantic (router/settings_light.py).
        assert not {m for m in loaded if m.split(".")[0] in ("pydantic", "pydantic_settings")}, args
        assert "router.settings" not in loaded, args


def test_the_models_annotations_are_evaluated_by_python_not_sqlalchemy() -> None:
    """With `from __future__ import annotations` (which binds `annotations` in the module) SQLAlchemy would
    compile and evaluate every `Mapped[...]` string again: ~5 ms of each data command (bench/README.md)."""
    from router.store import identity_models, models, usage_models

    for module in (models, identity_models, usage_models):
        assert "annotations" not in vars(module), module.__name__


def test_the_head_read_from_the_revision_files_is_alembics() -> None:
    from router.store.migrate import head_revision, known_revisions
    from router.store.revisions import script_heads

    assert script_heads() == (head_revision(),)
    assert set(script_heads()) <= known_revisions()


# The `router` executable's own call (console script, `python -m router`): records each collection with
# whether the command's module was loaded by then, and how the collector stands once the command ran.
GC_PROBE = """
import gc, json, sys
from router.cli import main
seen = []
gc.callbacks.append(lambda phase, info: phase == "start" and seen.append("router.cli.tenant" in sys.modules))
sys.argv = ["router", "tenant", "list"]
try:
    main()
except SystemExit:
    pass
gc.collect()
print(json.dumps({"seen": seen, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                  "threshold": gc.get_threshold()}))
"""


def test_the_executable_collects_no_garbage_while_loading_and_as_usual_after(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ROUTER_SECRET_KEY": "s" * 32}
    subprocess.run(
        [sys.executable, "-m", "router", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    done = subprocess.run(
        [sys.executable, "-c", GC_PROBE], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().rpartition("\n")[2])
    # Loading took no collection; the command's own work and the explicit one above did.
    assert state["seen"] and all(state["seen"]), state["seen"]
    assert state["enabled"] is True
    # What start-up built is out of the collector's way for good.
    assert state["frozen"] > 50_000
    # The command's own work: young objects collected every 20,000 allocations, as `router serve` has it.
    assert state["threshold"] == [20_000, 50, 100]


def test_click_runner_leaves_the_collector_alone(tmp_path: Path) -> None:
    import gc

    from click.testing import CliRunner

    frozen = gc.get_freeze_count()
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    # Frozen objects can still be freed (the count may fall), but nothing is frozen by the runner's path.
    assert gc.isenabled() and gc.get_freeze_count() <= frozen


def _executable(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -v -m router ARGS` as a user runs it (-v: the interpreter says when it tears modules down)."""
    return subprocess.run(
        [sys.executable, "-v", "-m", "router", *args],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ROUTER_SECRET_KEY": "s" * 32},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_finished_command_exits_without_the_interpreters_teardown_with_its_output_and_status(
    tmp_path: Path,
) -> None:
    # Registered on import, before any other exit handler, so it runs after all of them.
    registered = subprocess.run(
        [sys.executable, "-c", "import atexit, router.cli; print(atexit._ncallbacks())"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert registered.stdout.strip() == "1"
    assert _executable(tmp_path, "db", "upgrade").returncode == 0
    for name in ("t0", "t1", "t2"):
        assert _executable(tmp_path, "tenant", "create", name).returncode == 0
    listed = _executable(tmp_path, "tenant", "list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["NAME", "t0", "t1", "t2"]
    assert "# cleanup" not in listed.stderr  # the modules were not torn down one by one
    # The command's own status: a refusal (1) and a usage mistake (2), each with its message.
    refused = _executable(tmp_path, "tenant", "create", "t0")
    assert refused.returncode == 1 and "error: " in refused.stderr and "# cleanup" not in refused.stderr
    mistaken = _executable(tmp_path, "tenant", "nonsense")
    assert mistaken.returncode == 2 and "No such command" in mistaken.stderr
    # `router serve` (uvicorn, worker processes) exits as Python does.
    served = _executable(tmp_path, "serve", "--help")
    assert served.returncode == 0 and "# cleanup" in served.stderr
