"""The three things measured, each started fresh: the fake upstream alone (the floor), the router, LiteLLM.

Each `start_*` returns a `Running` target: its endpoint for the driver, the server process (None for the
floor, which is the upstream itself), how to encode a request body for it, and how long it took from spawn to
its first answered /v1/messages request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import requests
from bench.fake_upstream import MODEL as UPSTREAM_MODEL
from bench.load import Endpoint, ResponseError, one_request
from bench.procs import Child, free_port, run, spawn, wait_port

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
MAIN_VENV = ROOT / ".venv"
LITELLM_VENV = BENCH / ".venv-litellm"
LITELLM_VERSION = "1.106.2"
HOST = "127.0.0.1"
# What an Anthropic client sends besides the key.
ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01"}


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env.pop("ROUTER_DATABASE_URL", None)
    return env


@dataclass
class Running:
    name: str
    endpoint: Endpoint
    encode: Callable[[dict[str, Any]], bytes]
    server: Child | None
    startup_s: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def _anthropic_encode(body: dict[str, Any]) -> bytes:
    return requests.encode(body)


async def _first_answer(endpoint: Endpoint, child: Child, started: float, limit_s: float) -> float:
    """Poll with a tiny request until one is answered 200; seconds since `started`."""
    body = requests.encode(requests.tiny(False))
    deadline = time.monotonic() + limit_s
    last = ""
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited {child.proc.returncode}:\n{child.log_tail()}")
        try:
            await one_request(endpoint, body, limit_s=10)
            return time.monotonic() - started
        except Exception as e:
            last = f"{type(e).__name__}: {e}"
        await asyncio.sleep(0.02)
    raise RuntimeError(
        f"{child.name} answered no request within {limit_s}s (last: {last}):\n{child.log_tail()}"
    )


def start_upstream(log_dir: Path, cores: str | None, extra_args: Sequence[str] = ()) -> tuple[Child, int]:
    """The fake upstream (`extra_args`: e.g. its --fail-rate options); the child and its port."""
    port = free_port()
    child = spawn(
        "fake_upstream",
        [sys.executable, "-m", "bench.fake_upstream", "--port", str(port), *extra_args],
        log_dir=log_dir,
        env=base_env(),
        cwd=ROOT,
        cores=cores,
    )
    wait_port(HOST, port, child, 20)
    return child, port


def floor(upstream_port: int) -> Running:
    endpoint = Endpoint(
        "floor",
        HOST,
        upstream_port,
        "/v1/chat/completions",
        {"authorization": "Bearer sk-upstream"},
        b"[DONE]",
    )
    return Running(
        "floor",
        endpoint,
        lambda body: requests.encode(requests.openai_equivalent(body, UPSTREAM_MODEL)),
        None,
    )


ROUTER_CONFIG = """\
providers:
  - {{name: fake, kind: openai, api_base: "http://{host}:{port}/v1", api_key: "sk-upstream"}}
rules:
  - {{match: "*", target: fake/{model}}}
"""


async def start_router(
    upstream_port: int,
    work: Path,
    log_dir: Path,
    cores: str | None,
    workers: int = 1,
    serve_env: Mapping[str, str] | None = None,
    *,
    database_url: str | None = None,
    config_text: str | None = None,
    warm: bool = True,
) -> Running:
    """A fresh database (SQLite in `work` unless `database_url` names an empty one), configured by the CLI
    with `config_text` (default ROUTER_CONFIG: one rule to the fake upstream), then `router serve`; `warm`:
    then wait until LiteLLM and the tokenizer are loaded (bench.startup measures without that wait)."""
    router_bin = str(MAIN_VENV / "bin" / "router")
    env = base_env()
    env.update(
        {
            "ROUTER_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{work}/router.db",
            "ROUTER_SECRET_KEY": "bench-secret-key-bench-secret-key",
            # Request logs off, as in the LiteLLM configuration: we measure proxying, not log formatting.
            "ROUTER_LOG_LEVEL": "WARNING",
        }
    )
    config = work / "router.yaml"
    config.write_text(
        config_text or ROUTER_CONFIG.format(host=HOST, port=upstream_port, model=UPSTREAM_MODEL)
    )
    run([router_bin, "db", "upgrade"], env=env, cwd=work)
    run([router_bin, "config", "apply", str(config)], env=env, cwd=work)
    run([router_bin, "tenant", "create", "bench"], env=env, cwd=work)
    key = run([router_bin, "key", "create", "--tenant", "bench", "--member", "bench"], env=env, cwd=work)
    api_key = key.strip().splitlines()[-1].strip()
    port = free_port()
    started = time.monotonic()
    child = spawn(
        "router",
        [router_bin, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
        log_dir=log_dir,
        env={**env, **(serve_env or {})},
        cwd=work,
        cores=cores,
    )
    endpoint = Endpoint(
        "router", HOST, port, "/v1/messages", {"x-api-key": api_key, **ANTHROPIC_HEADERS}, b"message_stop"
    )
    try:
        startup = await _first_answer(endpoint, child, started, 120)
        # The router answers before LiteLLM is loaded (in a background thread): wait for it and for the
        # tokenizer, so neither is counted as the first cells' CPU per request.
        if warm:
            await _litellm_loaded(endpoint, workers)
    except BaseException:
        child.stop()
        raise
    return Running("router", endpoint, _anthropic_encode, child, startup, {"workers": workers})


async def _litellm_loaded(endpoint: Endpoint, workers: int) -> None:
    """count_tokens waits for LiteLLM and loads its tokenizer: a few, so every worker is likely hit."""
    counting = dataclasses.replace(endpoint, path="/v1/messages/count_tokens")
    body = json.dumps({"model": requests.MODEL, "messages": [{"role": "user", "content": "hi"}]}).encode()
    for _ in range(2 * workers):
        try:
            await one_request(counting, body, limit_s=120)
        except ResponseError as exc:  # the driver checks for generated text; a count has none
            if "input_tokens" not in str(exc):
                raise


LITELLM_CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{upstream_model}
      api_base: http://{host}:{port}/v1
      api_key: sk-upstream
litellm_settings:
  callbacks: []
  success_callback: []
  failure_callback: []
  set_verbose: false
  turn_off_message_logging: true
general_settings:
  master_key: sk-bench-master
"""

# uvicorn's access log off (the router logs no request lines either at WARNING).
LITELLM_LOG_CONFIG = """\
{"version": 1, "disable_existing_loggers": false,
 "formatters": {"default": {"format": "%(levelname)s %(name)s %(message)s"}},
 "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}},
 "loggers": {"uvicorn": {"handlers": ["default"], "level": "WARNING"},
             "uvicorn.error": {"level": "WARNING"},
             "uvicorn.access": {"handlers": ["default"], "level": "WARNING", "propagate": false}}}
"""


def ensure_litellm_venv() -> Path:
    """bench/.venv-litellm with litellm[proxy]==1.106.2, created on first use; the `litellm` script."""
    script = LITELLM_VENV / "bin" / "litellm"
    if script.exists():
        return script
    python = shutil.which("python3.11") or sys.executable
    print(f"creating {LITELLM_VENV} with litellm[proxy]=={LITELLM_VERSION} (first run only)...", flush=True)
    subprocess.run([python, "-m", "venv", str(LITELLM_VENV)], check=True)
    subprocess.run(
        [str(LITELLM_VENV / "bin" / "pip"), "install", "--quiet", f"litellm[proxy]=={LITELLM_VERSION}"],
        check=True,
    )
    return script


async def start_litellm(
    upstream_port: int,
    work: Path,
    log_dir: Path,
    cores: str | None,
    serve_env: Mapping[str, str] | None = None,
) -> Running:
    """LiteLLM's proxy: one uvicorn worker, no database, callbacks off, our model at the fake upstream."""
    script = ensure_litellm_venv()
    config = work / "litellm.yaml"
    config.write_text(
        LITELLM_CONFIG.format(
            model=requests.MODEL, upstream_model=UPSTREAM_MODEL, host=HOST, port=upstream_port
        )
    )
    log_config = work / "litellm-log.json"
    log_config.write_text(LITELLM_LOG_CONFIG)
    env = base_env()
    # Send /v1/messages for openai/ models to chat/completions (1.106 defaults to the Responses API), so both
    # proxies make the same upstream call; no telemetry, no DB.
    env["LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES"] = "True"
    env["LITELLM_TELEMETRY"] = "False"
    env.pop("DATABASE_URL", None)
    env.update(serve_env or {})
    port = free_port()
    started = time.monotonic()
    child = spawn(
        "litellm",
        [
            str(script),
            "--config",
            str(config),
            "--host",
            HOST,
            "--port",
            str(port),
            "--num_workers",
            "1",
            "--log_config",
            str(log_config),
        ],
        log_dir=log_dir,
        env=env,
        cwd=work,
        cores=cores,
    )
    endpoint = Endpoint(
        "litellm",
        HOST,
        port,
        "/v1/messages",
        {"x-api-key": "sk-bench-master", **ANTHROPIC_HEADERS},
        b"message_stop",
    )
    try:
        startup = await _first_answer(endpoint, child, started, 180)
    except BaseException:
        child.stop()
        raise
    return Running("litellm", endpoint, _anthropic_encode, child, startup, {"version": LITELLM_VERSION})
