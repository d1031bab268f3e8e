"""The command line: each command exits 0, or prints one `error: …` line, exits 1 and writes nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import func, select

from router.cli import main
from router.store.db import Database
from router.store.identity_models import AdminUser
from router.store.keys import hash_key
from router.store.migrate import head_revision
from router.store.models import ApiKey, AuditEntry, Tenant
from router.store.version import get_config_version
from tests.fixtures.db import run_async

ROUTER_BIN = Path(sys.executable).parent / "router"
KEY_LINE = re.compile(r"sk-rt-[A-Za-z0-9_-]{40}")


def invoke(db_url: str, *args: str, stdin: str | None = None) -> Result:
    runner = CliRunner(env={"ROUTER_DATABASE_URL": db_url, "ROUTER_SECRET_KEY": "cli-test-secret"})
    return runner.invoke(main, list(args), input=stdin, catch_exceptions=False)


def assert_one_error_line(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def db_state(db_url: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        db = Database(db_url)
        try:
            async with db.session() as session:
                counts = {
                    model.__tablename__: await session.scalar(select(func.count()).select_from(model))
                    for model in (Tenant, ApiKey, AuditEntry, AdminUser)
                }
                return {**counts, "version": await get_config_version(session)}
        finally:
            await db.dispose()

    return run_async(go())


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for args in (
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["db", "downgrade"],
        ["db", "current"],
        ["tenant"],
        ["tenant", "create"],
        ["tenant", "list"],
        ["key"],
        ["key", "create"],
        ["key", "list"],
        ["key", "revoke"],
        ["key", "limits"],
        ["admin"],
        ["admin", "create-user"],
    ):
        result = runner.invoke(main, [*args, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, args


def test_tenant_create_and_list(db_url: str) -> None:
    created = invoke(db_url, "tenant", "create", "team-a", "--rpm", "60", "--budget-usd", "12.5")
    assert created.exit_code == 0 and created.stdout.strip() == "created tenant team-a"
    listed = invoke(db_url, "tenant", "list")
    assert listed.exit_code == 0
    header, row = listed.stdout.strip().splitlines()
    assert header.split() == ["NAME", "ENABLED", "KEYS", "RPM", "TPM", "BUDGETS_USD"]
    assert row.split() == ["team-a", "yes", "0", "60", "-", "12.5/month"]
    state = db_state(db_url)
    assert state["tenants"] == 1 and state["version"] == 2
    assert run_async(_audit_actors(db_url)) == ["cli"]


async def _audit_actors(db_url: str) -> list[str]:
    db = Database(db_url)
    try:
        async with db.session() as session:
            return list((await session.scalars(select(AuditEntry.actor))).all())
    finally:
        await db.dispose()


def test_duplicate_tenant_is_one_line_and_writes_nothing(db_url: str) -> None:
    assert invoke(db_url, "tenant", "create", "team-a").exit_code == 0
    before = db_state(db_url)
    assert_one_error_line(invoke(db_url, "tenant", "create", "team-a"), "already exists", "team-a")
    assert db_state(db_url) == before


def test_key_create_prints_the_key_alone_on_the_last_line(db_url: str) -> None:
    invoke(db_url, "tenant", "create", "team-a")
    result = invoke(
        db_url, "key", "create", "--tenant", "team-a", "--member", "bob", "--expires", "30d", "--rpm", "5"
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.rstrip("\n").splitlines()
    key = lines[-1]
    assert KEY_LINE.fullmatch(key)
    assert all(key not in line for line in lines[:-1])
    assert key[:12] in lines[0]

    async def stored() -> tuple[str, int | None, bool]:
        db = Database(db_url)
        try:
            async with db.session() as session:
                row = await session.scalar(select(ApiKey))
                assert row is not None
                return row.key_hash, row.rpm, row.expires_at is not None
        finally:
            await db.dispose()

    assert run_async(stored()) == (hash_key(key), 5, True)
    listed = invoke(db_url, "key", "list", "--tenant", "team-a")
    assert key[:12] in listed.stdout and key not in listed.stdout and hash_key(key) not in listed.stdout


def test_key_for_unknown_tenant_is_one_line_and_writes_nothing(db_url: str) -> None:
    before = db_state(db_url)
    assert_one_error_line(invoke(db_url, "key", "create", "--tenant", "ghost", "--member", "bob"), "ghost")
    assert db_state(db_url) == before


def test_bad_expiry_syntax_is_one_line_and_writes_nothing(db_url: str) -> None:
    invoke(db_url, "tenant", "create", "team-a")
    before = db_state(db_url)
    result = invoke(db_url, "key", "create", "--tenant", "team-a", "--member", "bob", "--expires", "soon")
    assert_one_error_line(result, "invalid duration 'soon'")
    assert db_state(db_url) == before


def test_key_revoke_and_limits(db_url: str) -> None:
    invoke(db_url, "tenant", "create", "team-a")
    key = invoke(db_url, "key", "create", "--tenant", "team-a", "--member", "bob").stdout.splitlines()[-1]
    prefix = key[:12]
    limited = invoke(db_url, "key", "limits", prefix, "--tpm", "1000", "--models", "claude-*,gpt-4.1")
    assert limited.exit_code == 0 and "tpm 1000" in limited.stdout and "claude-*,gpt-4.1" in limited.stdout
    cleared = invoke(db_url, "key", "limits", prefix, "--tpm", "none")
    assert cleared.exit_code == 0 and "tpm -" in cleared.stdout and "claude-*,gpt-4.1" in cleared.stdout
    assert invoke(db_url, "key", "limits", prefix, "--rpm", "-3").exit_code == 2  # click's usage error
    assert_one_error_line(invoke(db_url, "key", "limits", prefix), "nothing to change")

    revoked = invoke(db_url, "key", "revoke", prefix)
    assert revoked.exit_code == 0 and revoked.stdout.strip() == f"revoked key {prefix}"
    row = [line for line in invoke(db_url, "key", "list").stdout.splitlines() if line.startswith(prefix)]
    assert len(row) == 1 and row[0].split()[3] == "revoked"
    assert_one_error_line(invoke(db_url, "key", "revoke", "sk-rt-nothere"), "no key with prefix")


def test_admin_create_user_from_stdin(db_url: str) -> None:
    result = invoke(db_url, "admin", "create-user", "root", "--password-stdin", stdin="long enough pw\n")
    assert result.exit_code == 0 and result.stdout.strip() == "created admin user root (owner)"
    assert db_state(db_url)["admin_users"] == 1
    assert_one_error_line(
        invoke(db_url, "admin", "create-user", "root", "--password-stdin", stdin="long enough pw\n"),
        "already exists",
    )
    assert_one_error_line(
        invoke(db_url, "admin", "create-user", "other", "--password-stdin", stdin="short\n"), "at least 8"
    )
    assert_one_error_line(
        invoke(db_url, "admin", "create-user", "other", "--password-stdin", stdin=""), "no password on stdin"
    )
    assert db_state(db_url)["admin_users"] == 1


def test_db_current_reports_head(db_url: str) -> None:
    result = invoke(db_url, "db", "current")
    assert result.exit_code == 0 and result.stdout.strip().endswith("(head)")


def test_db_upgrade_downgrade_and_current_on_an_empty_database(empty_db_url: str) -> None:
    assert invoke(empty_db_url, "db", "current").stdout.startswith("none")
    upgraded = invoke(empty_db_url, "db", "upgrade")
    assert upgraded.exit_code == 0 and "(head)" in upgraded.stdout
    assert (
        invoke(empty_db_url, "db", "upgrade")
        .stdout.strip()
        .endswith(f"is already at revision {head_revision()} (head)")
    )
    downgraded = invoke(empty_db_url, "db", "downgrade", "base", "--yes")
    assert downgraded.exit_code == 0 and "base" in downgraded.stdout
    assert invoke(empty_db_url, "db", "current").stdout.startswith("none")


def test_data_commands_create_the_embedded_sqlite_only_when_asked_and_never_migrate_postgres(
    empty_db_url: str,
) -> None:
    result = invoke(empty_db_url, "tenant", "list")
    if empty_db_url.startswith("sqlite"):
        path = Path(empty_db_url.split("///", 1)[1])
        assert_one_error_line(result, f"no database at {path}", "router db upgrade", "--create-database")
        assert not path.exists()
        result = invoke(empty_db_url, "--create-database", "tenant", "list")
        assert f"creating a new SQLite database at {path}" in result.stderr
        assert path.exists()
        assert result.exit_code == 0 and result.stdout.split() == [
            "NAME",
            "ENABLED",
            "KEYS",
            "RPM",
            "TPM",
            "BUDGETS_USD",
        ]
    else:
        assert_one_error_line(result, "is at revision none", "router db upgrade")
        assert invoke(empty_db_url, "db", "current").stdout.startswith("none")


def test_unreachable_database_is_one_line_without_the_password() -> None:
    url = "postgresql+asyncpg://postgres:hunter2@127.0.0.1:1/x"
    for args in (("tenant", "list"), ("key", "create", "--tenant", "t", "--member", "m"), ("db", "upgrade")):
        result = invoke(url, *args)
        assert_one_error_line(result, "cannot reach the database at", "127.0.0.1:1")
        assert "hunter2" not in result.output


def test_serve_without_a_secret_key_on_postgres_fails_before_listening() -> None:
    runner = CliRunner(
        env={"ROUTER_DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1:1/x", "ROUTER_SECRET_KEY": ""}
    )
    assert_one_error_line(runner.invoke(main, ["serve"]), "ROUTER_SECRET_KEY")


def test_real_subprocess_creates_a_key_on_the_embedded_default(tmp_path: Path) -> None:
    """The installed console script in a fresh directory: `db upgrade` creates the SQLite file (and says
    where); a data command run elsewhere refuses to create another one."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

    def router(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROUTER_BIN), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    upgraded = router("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"creating a new SQLite database at {tmp_path / 'router.db'}" in upgraded.stderr
    assert router("tenant", "create", "team-a").returncode == 0
    created = router("key", "create", "--tenant", "team-a", "--member", "bob")
    assert created.returncode == 0, created.stderr
    assert KEY_LINE.fullmatch(created.stdout.splitlines()[-1])
    assert (tmp_path / "router.db").exists()
    missing = router("key", "create", "--tenant", "ghost", "--member", "bob")
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.strip().splitlines() == ["error: no tenant named 'ghost'"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = subprocess.run(
        [str(ROUTER_BIN), "tenant", "list"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "no database at" in refused.stderr
    assert list(elsewhere.iterdir()) == []


def test_real_subprocess_unreachable_database() -> None:
    result = subprocess.run(
        [str(ROUTER_BIN), "tenant", "list"],
        env={"PATH": "/usr/bin:/bin", "ROUTER_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the database at")
