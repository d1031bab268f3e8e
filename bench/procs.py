"""Child processes for the benchmark: start pinned, wait until ready, read their memory and CPU, stop.

Memory and CPU come straight from /proc (no psutil): VmRSS from /proc/<pid>/status, utime+stime from
/proc/<pid>/stat, summed over the process and its descendants (uvicorn workers, LiteLLM's children).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpus() -> int:
    return os.cpu_count() or 1


def pin_prefix(cores: str | None) -> list[str]:
    """`taskset -c CORES` when pinning is possible (taskset installed, more than one core), else nothing."""
    if cores is None or cpus() < 2 or not Path("/usr/bin/taskset").exists():
        return []
    return ["/usr/bin/taskset", "-c", cores]


def pin_self(core: int) -> bool:
    """Pin this process (the driver) to one core; False when it cannot be done."""
    if cpus() < 2:
        return False
    try:
        os.sched_setaffinity(0, {core})
    except OSError:
        return False
    return True


def descendants(pid: int) -> list[int]:
    """pid and every process below it (from /proc/<pid>/task/*/children)."""
    out = [pid]
    i = 0
    while i < len(out):
        p = out[i]
        i += 1
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                out.extend(int(c) for c in task.read_text().split())
    return out


def rss_kb(pid: int) -> int:
    """VmRSS of one process in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mb(pid: int) -> float:
    return round(sum(rss_kb(p) for p in descendants(pid)) / 1024.0, 1)


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, all threads (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(p) for p in descendants(pid))


def machine_busy_seconds() -> float:
    """CPU seconds every core spent busy since boot (from /proc/stat), for telling our load from others'."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in first[1:9])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process (its own session, so its workers too), then SIGKILL after `grace` seconds."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def spawn(
    name: str, argv: Sequence[str], *, log_dir: Path, env: Mapping[str, str], cwd: Path, cores: str | None
) -> Child:
    """Start argv pinned to `cores`, output to <log_dir>/<name>.log, in a session of its own."""
    log = log_dir / f"{name}.log"
    handle = log.open("wb")
    proc = subprocess.Popen(
        [*pin_prefix(cores), *argv],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    handle.close()
    return Child(name, proc, log)


def run(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float = 120.0) -> str:
    """Run a command to completion; its stdout, or RuntimeError with its output."""
    done = subprocess.run(
        list(argv), env=dict(env), cwd=cwd, capture_output=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}: {done.stdout.decode(errors='replace')[-2000:]}"
            f"{done.stderr.decode(errors='replace')[-2000:]}"
        )
    return done.stdout.decode()


def wait_port(host: str, port: int, child: Child, timeout: float) -> None:
    """Block until something accepts on host:port, or raise (with the child's log) if it dies or times out."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited {child.proc.returncode}:\n{child.log_tail()}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"{child.name} did not listen on {port} within {timeout}s:\n{child.log_tail()}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
