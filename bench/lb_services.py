"""Private services for the load-balancer soak (bench/lb_soak.py): a throwaway PostgreSQL cluster (so
restarting it disturbs no one else on the machine), and HAProxy's configuration and stats socket."""

from __future__ import annotations

import contextlib
import csv
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bench.procs import free_port

HOST = "127.0.0.1"


class MissingTool(RuntimeError):
    """A program the soak needs is not installed."""


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None
    )
    if not found:
        raise MissingTool("haproxy is not installed (make lb-tools, or apt-get install haproxy)")
    return found


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<version>/bin)."""
    found = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        on_path = shutil.which("initdb")
        if on_path is None:
            raise MissingTool("PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)")
        return Path(on_path).parent
    return found[-1]


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise MissingTool("redis-server is not installed (apt-get install redis-server)")
    return found


def check_tools() -> None:
    """Raise MissingTool naming the first program that is missing."""
    haproxy_binary()
    postgres_bin()
    redis_binary()


# ---------------------------------------------------------------------------------------------- PostgreSQL


class PrivatePostgres:
    """A throwaway cluster on its own port: initdb, pg_ctl start / restart / stop.

    initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (runuser), in a
    directory of its own under /tmp that this user can enter.
    """

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="router-lb-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._owner: str | None = "postgres" if os.geteuid() == 0 else None
        if self._owner is not None:
            shutil.chown(self.root, self._owner, self._owner)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@{HOST}:{self.port}/router"

    def _run(self, *argv: str, timeout: float = 120.0) -> str:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if self._owner is not None:
            command = ["runuser", "-u", self._owner, "--", *command]
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} exited {done.returncode}: {done.stdout.decode(errors='replace')[-1500:]}"
                f"{done.stderr.decode(errors='replace')[-1500:]}\n{self.log_tail()}"
            )
        return done.stdout.decode(errors="replace")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        # No fsync: the cluster lives for one run and is never crashed (pg_ctl restart -m fast flushes).
        options = (
            f"-p {self.port} -c listen_addresses={HOST} -k {self.root} -c max_connections=200 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, "start"
        )
        self._run("createdb", "-h", HOST, "-p", str(self.port), "-U", "postgres", "router")

    def restart(self) -> float:
        """pg_ctl restart -m fast (every connection is cut); the seconds it took."""
        started = time.monotonic()
        # -l again: without it the new postmaster writes to pg_ctl's stdout, a pipe that never closes.
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60", "restart"
        )
        return time.monotonic() - started

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# ------------------------------------------------------------------------------------------------ HAProxy


def haproxy_config(port: int, stats_socket: Path, servers: dict[str, int]) -> str:
    """A frontend on `port`, least-connections over `servers`, each checked on /readyz every 0.5 s.

    `retries 3` + `option redispatch 1` re-send a request whose connection to a server could not be opened
    (nothing reached that server) to another one: a killed replica's refused connections are not failures.
    Nothing is retried once it was sent: a POST /v1/messages is not idempotent (it spends money).
    """
    lines = [
        "global",
        "    maxconn 4096",
        f"    stats socket {stats_socket} mode 600 level admin",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 120s",
        "    timeout server 120s",
        "    timeout http-keep-alive 10s",
        "    timeout check 5s",
        "    retries 3",
        "    option redispatch 1",
        "frontend api",
        f"    bind {HOST}:{port}",
        "    default_backend routers",
        "backend routers",
        "    http-response set-header x-served-by %[srv_name]",
        "    balance leastconn",
        "    option httpchk GET /readyz",
        "    http-check expect status 200",
        "    default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2",
    ]
    lines += [f"    server {name} {HOST}:{p} check" for name, p in servers.items()]
    return "\n".join(lines) + "\n"


def haproxy_stats(stats_socket: Path) -> dict[str, dict[str, str]]:
    """`show stat` over the admin socket: server name -> its row (status, scur, ...), backend servers only."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(stats_socket))
        sock.sendall(b"show stat\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    text = data.decode(errors="replace").lstrip("# ")
    rows = csv.DictReader(line for line in text.splitlines() if line)
    return {
        row["svname"]: dict(row)
        for row in rows
        if row.get("pxname") == "routers" and row.get("svname") not in ("BACKEND", "FRONTEND")
    }
