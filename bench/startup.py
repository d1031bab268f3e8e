"""Start-up, CLI and memory: how long `router` commands take, how soon `router serve` answers, its RSS.

    .venv/bin/python -m bench.startup                # 5 runs per CLI command, 3 serve starts (about a minute)
    .venv/bin/python -m bench.startup --runs 3 --serves 1 --json out.json
    .venv/bin/python -m bench.startup --serves 1 --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/cli_bench
    .venv/bin/python -m bench.startup --serves 0 --runs 7 --database-url ...   # the CLI commands only

Against the fake upstream (bench/fake_upstream.py) and a SQLite database already migrated and configured by
the CLI (as a production replica starts on a migrated database):

- **CLI**: wall time of each command from exec to exit (median and max of `--runs`), and whether it imported
  LiteLLM (read from `python -X importtime`, a separate run so the timing is not disturbed).
- **CLI on another database** (`--database-url`, e.g. a scratch PostgreSQL database): the same commands
  against it, once it is migrated and configured the same way (`db upgrade`, `config apply`, tenant `bench`
  and a key, each only if missing). The serve starts stay on their fresh SQLite databases.
- **serve**: from exec of `router serve` to its first answered POST /v1/messages (median of `--serves` fresh
  starts); RSS of the process right after that answer and after 2 s idle.

The machine is shared: say the load (printed) beside the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.fake_upstream import MODEL as UPSTREAM_MODEL
from bench.procs import run, tree_cpu_seconds, tree_rss_mb
from bench.targets import (
    HOST,
    MAIN_VENV,
    ROUTER_CONFIG,
    base_env,
    start_router,
    start_upstream,
)
from router.store.db import redact_url

ROUTER = str(MAIN_VENV / "bin" / "router")
PYTHON = str(MAIN_VENV / "bin" / "python")

CLI_COMMANDS: list[list[str]] = [
    ["--help"],
    ["db", "current"],
    ["tenant", "list"],
    ["key", "list"],
    ["config", "export"],
    # The other read commands (issue 16 asks the same 0.5 s of each).
    ["budget", "list"],
    ["alert", "list"],
    ["admin", "list"],
    ["usage"],
    ["route", "explain", "--model", "claude-sonnet-4-5", "--tenant", "bench"],
]


def _env(work: Path, database_url: str | None = None) -> dict[str, str]:
    env = base_env()
    env.update(
        {
            "ROUTER_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{work}/router.db",
            "ROUTER_SECRET_KEY": "bench-secret-key-bench-secret-key",
            "ROUTER_LOG_LEVEL": "WARNING",
        }
    )
    return env


def time_command(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> dict[str, Any]:
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([ROUTER, *argv], env=env, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if done.returncode != 0:
            return {"command": " ".join(argv), "error": done.stderr.decode(errors="replace")[-300:]}
    traced = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "router", *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        check=False,
    )
    imports_litellm = any(
        line.rstrip().endswith("| litellm") for line in traced.stderr.decode(errors="replace").splitlines()
    )
    return {
        "command": " ".join(argv),
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        # CPU time is less disturbed than wall time by other processes on a shared machine.
        "cpu_median_s": round(statistics.median(cpu), 3),
        "imports_litellm": imports_litellm,
    }


async def serve_once(upstream_port: int, work: Path) -> dict[str, Any]:
    running = await start_router(upstream_port, work, work, cores=None, warm=False)
    try:
        assert running.server is not None
        after_first = tree_rss_mb(running.server.pid)
        cpu = tree_cpu_seconds(running.server.pid)
        await asyncio.sleep(2)
        idle = tree_rss_mb(running.server.pid)
        return {
            "first_answer_s": round(running.startup_s or 0.0, 3),
            "cpu_to_first_answer_s": round(cpu, 3),
            "rss_mb": after_first,
            "rss_idle_mb": idle,
        }
    finally:
        running.stop()


def prepare_database(env: dict[str, str], work: Path) -> None:
    """Migrate and configure the database `env` names as the serve runs' SQLite one was (the rules of
    `work`/router.yaml, tenant `bench` with a key); what is already there is left as it is."""
    run([ROUTER, "db", "upgrade"], env=env, cwd=work)
    run([ROUTER, "config", "apply", str(work / "router.yaml")], env=env, cwd=work)
    if "bench" not in run([ROUTER, "tenant", "list"], env=env, cwd=work).split():
        run([ROUTER, "tenant", "create", "bench"], env=env, cwd=work)
        run([ROUTER, "key", "create", "--tenant", "bench", "--member", "bench"], env=env, cwd=work)


async def main_async(runs: int, serves: int, database_url: str | None = None) -> dict[str, Any]:
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="router-startup-") as tmp:
        root = Path(tmp)
        upstream, port = start_upstream(root, None)
        try:
            starts = []
            for i in range(serves):
                work = root / f"serve{i}"
                work.mkdir()
                starts.append(await serve_once(port, work))
            cli_work = root / "serve0"
            cli_env = _env(cli_work, database_url)
            if not starts:
                # --serves 0: CLI timings only; the database is configured as a serve run would have.
                cli_work.mkdir()
                (cli_work / "router.yaml").write_text(
                    ROUTER_CONFIG.format(host=HOST, port=port, model=UPSTREAM_MODEL)
                )
            if database_url or not starts:
                prepare_database(cli_env, cli_work)
            cli = [time_command(argv, cli_env, cli_work, runs) for argv in CLI_COMMANDS]
        finally:
            upstream.stop()
    first = [s["first_answer_s"] for s in starts]
    serve: dict[str, Any] = {}
    if starts:
        serve = {
            "first_answer_median_s": round(statistics.median(first), 3),
            "first_answer_runs_s": first,
            "cpu_to_first_answer_median_s": round(
                statistics.median(s["cpu_to_first_answer_s"] for s in starts), 3
            ),
            "rss_mb": statistics.median(s["rss_mb"] for s in starts),
            "rss_idle_mb": round(statistics.median(s["rss_idle_mb"] for s in starts), 1),
        }
    return {
        "cli_database": redact_url(database_url) if database_url else "SQLite (the first serve run's file)",
        "loadavg_before": [round(x, 2) for x in load],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "serve": serve,
        "cli": cli,
    }


def render(result: dict[str, Any]) -> str:
    serve = result["serve"]
    lines = [
        f"load average before/after: {result['loadavg_before']} / {result['loadavg_after']}",
        f"CLI database: {result['cli_database']}",
        "",
    ]
    if serve:
        lines += [
            "| serve on a migrated database | value |",
            "|---|---|",
            f"| first answer after exec (median; each run) | {serve['first_answer_median_s']} s "
            f"{serve['first_answer_runs_s']} |",
            f"| CPU seconds of the server until then (median) | {serve['cpu_to_first_answer_median_s']} s |",
            f"| RSS after the first answer | {serve['rss_mb']} MiB |",
            f"| RSS idle 2 s later | {serve['rss_idle_mb']} MiB |",
            "",
        ]
    lines += [
        "| command | wall median | wall max | CPU median | imports LiteLLM |",
        "|---|---|---|---|---|",
    ]
    for row in result["cli"]:
        if "error" in row:
            lines.append(f"| `router {row['command']}` | error: {row['error']!r} | | |")
        else:
            lines.append(
                f"| `router {row['command']}` | {row['median_s']} s | {row['max_s']} s | "
                f"{row['cpu_median_s']} s | "
                f"{'yes' if row['imports_litellm'] else 'no'} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per CLI command")
    parser.add_argument(
        "--serves", type=int, default=3, help="fresh `router serve` starts (0: time the CLI only)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--database-url",
        help="time the CLI commands against this database (migrated and configured first; e.g. a scratch "
        "postgresql+asyncpg://... database, never a shared one)",
    )
    args = parser.parse_args()
    result = asyncio.run(main_async(args.runs, args.serves, args.database_url))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(render(result))


if __name__ == "__main__":
    main()
