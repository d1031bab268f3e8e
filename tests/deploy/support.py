"""Helpers the deployment tests share: a free port, the router's environment, waiting for a URL to answer."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def clean_env(**overrides: str) -> dict[str, str]:
    """The test's environment without any ROUTER_* setting (a new user's shell), plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROUTER_", "OTEL_"))}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env.update(overrides)
    return env


def wait_until_answers(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> httpx.Response:
    """Poll `url` until it answers 200; fail early (with the process's output) if the process dies."""
    deadline = time.monotonic() + seconds
    last: str = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise AssertionError(f"the process exited with {process.returncode} before {url} answered:\n{out}")
        try:
            response = httpx.get(url, timeout=2)
        except httpx.HTTPError as exc:
            last = repr(exc)
        else:
            if response.status_code == 200:
                return response
            last = f"{response.status_code} {response.text[:200]}"
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {seconds}s: {last}")


def stop(process: subprocess.Popen[bytes], seconds: float = 20) -> str:
    """SIGTERM, wait, and the process's combined output."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.stdout.read().decode(errors="replace") if process.stdout else ""
