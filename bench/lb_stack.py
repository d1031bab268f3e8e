"""The processes of the load-balancer soak (bench/lb_soak.py): a private PostgreSQL cluster and Redis (so
restarting them disturbs no one else on the machine), the fake upstream, three `router serve` replicas and
HAProxy in front of them with a readiness health check.

Everything lives in one directory (PostgreSQL's data directory in a second one that its own user can
enter: bench/lb_services.py) and is stopped by `Stack.close()`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.lb_services import (
    HOST,
    PrivatePostgres,
    check_tools,
    haproxy_binary,
    haproxy_config,
    haproxy_stats,
    redis_binary,
)
from bench.procs import Child, free_port, run, spawn, wait_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "lb-soak-secret-key-for-the-router"
# How long a replica keeps serving after SIGTERM while /readyz says 503: several HAProxy check intervals
# (fall 2 x inter 0.5 s) plus room for a check answered slowly on a busy machine.
DRAIN_SECONDS = 5.0
PRICE_PER_MTOK = 1.0
CONFIG = f"""
providers:
  - {{name: fake, kind: openai, api_base: "${{UPSTREAM}}/v1", api_key: "sk-lb-soak-provider"}}
rules:
  - {{match: "*", target: fake/bench-model}}
prices:
  - {{target: fake/bench-model, input_per_mtok: {PRICE_PER_MTOK}, output_per_mtok: {PRICE_PER_MTOK}}}
"""


@dataclass
class Replica:
    name: str
    port: int
    workdir: Path
    child: Child | None = None
    starts: int = 0

    @property
    def pid(self) -> int:
        assert self.child is not None
        return self.child.pid

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()


@dataclass
class Stack:
    """Everything the soak runs, in `workdir`. `start()` brings it up; `close()` tears it down."""

    workdir: Path
    replicas: int = 3
    postgres: PrivatePostgres | None = None
    redis: Child | None = None
    redis_port: int = 0
    upstream: Child | None = None
    upstream_port: int = 0
    haproxy: Child | None = None
    lb_port: int = 0
    stats_socket: Path = field(default_factory=Path)
    routers: list[Replica] = field(default_factory=list)
    logs: Path = field(default_factory=Path)

    # -- environment ---------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ROUTER_", "OTEL_"))}
        assert self.postgres is not None
        env.update(
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            PYTHONPATH=str(ROOT),
            ROUTER_DATABASE_URL=self.postgres.url,
            ROUTER_REDIS_URL=f"redis://{HOST}:{self.redis_port}/0",
            ROUTER_SECRET_KEY=SECRET,
            ROUTER_MIGRATE_ON_START="false",
            ROUTER_SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS),
            ROUTER_SHUTDOWN_GRACE_SECONDS="30",
            ROUTER_LOG_LEVEL="WARNING",
            ROUTER_LOG_FORMAT="text",
            UPSTREAM=f"http://{HOST}:{self.upstream_port}",
        )
        return env

    def cli(self, *args: str) -> str:
        return run([sys.executable, "-m", "router", *args], env=self.env(), cwd=self.workdir, timeout=180)

    # -- start -----------------------------------------------------------------------------------------

    def start(self) -> None:
        check_tools()
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.postgres = PrivatePostgres()
        self.postgres.start()
        self.redis_port = free_port()
        self.redis = spawn(
            "redis",
            [
                redis_binary(),
                "--port",
                str(self.redis_port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            log_dir=self.logs,
            env=os.environ,
            cwd=self.workdir,
            cores=None,
        )
        self.upstream_port = free_port()
        self.upstream = spawn(
            "upstream",
            [sys.executable, "-m", "bench.fake_upstream", "--port", str(self.upstream_port)],
            log_dir=self.logs,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            cores=None,
        )
        wait_port(HOST, self.redis_port, self.redis, 60)
        wait_port(HOST, self.upstream_port, self.upstream, 60)
        self.cli("db", "upgrade")
        (self.workdir / "router.yaml").write_text(CONFIG)
        self.cli("config", "apply", str(self.workdir / "router.yaml"))
        self.cli("tenant", "create", "soak")
        self.routers = [
            Replica(f"r{i + 1}", free_port(), self.workdir / f"r{i + 1}") for i in range(self.replicas)
        ]
        for replica in self.routers:
            replica.workdir.mkdir()
            self.start_replica(replica)
        self.lb_port = free_port()
        self.stats_socket = self.workdir / "haproxy.sock"
        config = self.workdir / "haproxy.cfg"
        config.write_text(
            haproxy_config(self.lb_port, self.stats_socket, {r.name: r.port for r in self.routers})
        )
        self.haproxy = spawn(
            "haproxy",
            [haproxy_binary(), "-db", "-f", str(config)],
            log_dir=self.logs,
            env=os.environ,
            cwd=self.workdir,
            cores=None,
        )
        wait_port(HOST, self.lb_port, self.haproxy, 60)
        for replica in self.routers:
            self.wait_up(replica)

    def key(self, member: str, *limits: str) -> str:
        """A new key of tenant `soak` (`limits`: CLI options such as --rpm 30); the key itself."""
        out = self.cli("key", "create", "--tenant", "soak", "--member", member, *limits)
        return out.strip().splitlines()[-1]

    # -- replicas --------------------------------------------------------------------------------------

    def start_replica(self, replica: Replica) -> None:
        """`router serve` in the replica's own directory (its usage spool is there, replayed on start)."""
        replica.starts += 1
        replica.child = spawn(
            f"{replica.name}-{replica.starts}",
            [sys.executable, "-m", "router", "serve", "--port", str(replica.port), "--no-migrate"],
            log_dir=self.logs,
            env=self.env(),
            cwd=replica.workdir,
            cores=None,
        )

    def sigterm(self, replica: Replica) -> None:
        os.kill(replica.pid, signal.SIGTERM)

    def kill9(self, replica: Replica) -> None:
        os.kill(replica.pid, signal.SIGKILL)

    def wait_exit(self, replica: Replica, timeout: float = 90.0) -> int:
        assert replica.child is not None
        return replica.child.proc.wait(timeout=timeout)

    def status(self, replica: Replica) -> dict[str, str]:
        return haproxy_stats(self.stats_socket).get(replica.name, {})

    def wait_up(self, replica: Replica, timeout: float = 180.0) -> float:
        """Until HAProxy's health check counts the replica UP; the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            assert replica.child is not None
            if not replica.child.alive():
                raise RuntimeError(f"{replica.name} exited:\n{replica.child.log_tail()}")
            try:
                up = self.status(replica).get("status") == "UP"
            except (FileNotFoundError, ConnectionRefusedError):
                up = False  # HAProxy's admin socket can appear a moment after its frontend port answers
            if up:
                return time.monotonic() - started
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{replica.name} not UP in HAProxy after {timeout}s:\n{replica.child.log_tail()}"
                )
            time.sleep(0.1)

    # -- stop ------------------------------------------------------------------------------------------

    def stop_replicas(self) -> None:
        """SIGTERM twice (the second skips the drain), then wait: their usage queues get written."""
        live = [r for r in self.routers if r.alive()]
        for replica in live:
            self.sigterm(replica)
        time.sleep(0.5)
        for replica in live:
            with contextlib.suppress(ProcessLookupError):
                self.sigterm(replica)
        for replica in live:
            try:
                self.wait_exit(replica, timeout=60)
            except subprocess.TimeoutExpired:
                assert replica.child is not None
                replica.child.proc.kill()
                replica.child.proc.wait(10)

    def close(self) -> None:
        for replica in self.routers:
            if replica.child is not None:
                replica.child.stop(grace=20)
        for child in (self.haproxy, self.upstream, self.redis):
            if child is not None:
                child.stop(grace=5)
        if self.postgres is not None:
            self.postgres.close()
