"""Over-long text on the command line, on both databases: one `error:` line naming the width, exit 1, nothing
stored; exactly the width is taken."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

from router.cli import main
from router.config import lengths as L


def invoke(db_url: str, *args: str) -> Result:
    runner = CliRunner(env={"ROUTER_DATABASE_URL": db_url, "ROUTER_SECRET_KEY": "cli-test-secret"})
    return runner.invoke(main, list(args), catch_exceptions=False)


# The command with one value `n` characters long, the listing that would show it, and the width.
CASES: dict[str, tuple[Callable[[int], list[str]], list[str], int]] = {
    "tenant name": (lambda n: ["tenant", "create", "t" * n], ["tenant", "list"], L.NAME_CHARS),
    "key member": (
        lambda n: ["key", "create", "--tenant", "acme", "--member", "m" * n],
        ["key", "list", "--tenant", "acme"],
        L.MEMBER_CHARS,
    ),
    "budget member": (
        lambda n: ["budget", "set", "--tenant", "acme", "--member", "m" * n, "day=5"],
        ["budget", "list", "--tenant", "acme"],
        L.MEMBER_CHARS,
    ),
    "api token name": (
        lambda n: ["admin", "token", "create", "--role", "viewer", "--name", "n" * n],
        ["admin", "token", "list"],
        L.NAME_CHARS,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_one_character_too_many_is_one_error_line_and_nothing_is_stored(
    db_url: str, case: tuple[Callable[[int], list[str]], list[str], int]
) -> None:
    command, listing, width = case
    assert invoke(db_url, "tenant", "create", "acme").exit_code == 0
    before = invoke(db_url, *listing).output
    refused = invoke(db_url, *command(width + 1))
    assert refused.exit_code == 1, refused.output
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(width) in lines[0], lines
    assert invoke(db_url, *listing).output == before
    taken = invoke(db_url, *command(width))
    assert taken.exit_code == 0, taken.output
