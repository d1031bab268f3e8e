"""Secrets handed to a command (router/cli/common.py): from the environment variable an option names, or one
line of stdin each, never as a plain option; a missing or doubled source is one error naming the option."""

from __future__ import annotations

import io

import pytest

from router.cli.common import CliError, secret_from, stdin_line


def test_a_secret_from_the_environment_comes_with_the_variable_it_was_read_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOOK", "https://hooks.example/T0/token")
    assert secret_from(" HOOK ", False, "webhook URL", "webhook") == (
        "https://hooks.example/T0/token",
        "HOOK",
    )
    assert secret_from(None, False, "webhook URL", "webhook") is None


def test_secrets_from_stdin_are_read_one_line_each_in_the_order_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("https://hooks.example/T0/token\r\nsigning-secret-1\n"))
    assert secret_from(None, True, "webhook URL", "webhook") == ("https://hooks.example/T0/token", None)
    assert secret_from(None, True, "signing secret", "secret") == ("signing-secret-1", None)
    with pytest.raises(CliError, match=r"^no password on stdin$"):
        stdin_line("password")


@pytest.mark.parametrize(
    ("env", "from_stdin", "problem"),
    [
        ("HOOK", True, "give --webhook-env or --webhook-stdin, not both"),
        ("UNSET_HOOK", False, "--webhook-env: environment variable UNSET_HOOK is not set"),
        (None, True, "no webhook URL on stdin"),
    ],
)
def test_a_missing_or_doubled_secret_is_an_error_naming_the_option(
    monkeypatch: pytest.MonkeyPatch, env: str | None, from_stdin: bool, problem: str
) -> None:
    monkeypatch.setenv("HOOK", "https://hooks.example/T0/token")
    monkeypatch.delenv("UNSET_HOOK", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    with pytest.raises(CliError) as exc:
        secret_from(env, from_stdin, "webhook URL", "webhook")
    assert str(exc.value) == problem
