"""Upstream answers far past the size caps against `router serve`: what the client gets, how much the router
read, and its memory (RSS) idle, at its peak and after each round.

    .venv/bin/python -m bench.upstream_caps [--size-mb 300] [--rounds 3] [--concurrency 4]

A hostile upstream (a raw HTTP server on a thread of this process) offers `--size-mb` MB to every request:
a non-streamed body with Content-Length, a non-streamed chunked body, and a stream whose first line never
ends; the router calls it as an OpenAI-wire target (our own HTTP session) and as a Gemini target (LiteLLM's
clients). Each round sends `--concurrency` requests of every kind at once; RSS is sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.procs import tree_rss_mb
from bench.targets import HOST, start_router, start_upstream

CONFIG = """\
providers:
  - {{name: wire, kind: openai, api_base: "http://{host}:{port}/v1", api_key: "sk-upstream"}}
  - {{name: gem, kind: gemini, api_base: "http://{host}:{port}", api_key: "gemini-key"}}
rules:
  - {{match: "wire-*", target: wire/gpt-4.1}}
  - {{match: "gem-*", target: gem/gemini-2.5-pro}}
"""
PIECE = b"a" * 65536


class Hostile:
    """Every answer is `size` bytes (or would be: it stops when the router hangs up); counts what it sent."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.port = 0
        self.sent = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, HOST, 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            stream = b"streamGenerateContent" in head or b'"stream":true' in body.replace(b" ", b"")
            declared = b"declared" in body
            if declared and not stream:
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {self.size}\r\n\r\n".encode()
                    + b'{"x": "'
                )
            else:
                ctype = b"text/event-stream" if stream else b"application/json"
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: " + ctype + b"\r\ntransfer-encoding: chunked\r\n\r\n"
                )
                first = b'data: {"id": "' if stream else b'{"id": "'
                writer.write(b"%x\r\n%s\r\n" % (len(first), first))
            sent = 0
            while sent < self.size:
                writer.write(PIECE if declared and not stream else b"%x\r\n%s\r\n" % (len(PIECE), PIECE))
                sent += len(PIECE)
                self.sent += len(PIECE)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _ask(http: httpx.AsyncClient, model: str, stream: bool, declared: bool) -> str:
    body = {
        "model": model,
        "max_tokens": 5,
        "stream": stream,
        "messages": [{"role": "user", "content": "declared" if declared else "chunked"}],
    }
    async with http.stream("POST", "/v1/messages", json=body) as response:
        text = (await response.aread()).decode(errors="replace")
    if "larger than the router accepts" in text:
        return "capped"
    return f"{response.status_code}: {text[:120]}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--paths", default="wire,gem", help="wire (our session), gem (LiteLLM), or both")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after a round before its RSS")
    args = parser.parse_args()
    hostile = Hostile(args.size_mb * 1024 * 1024)
    work = Path(tempfile.mkdtemp(prefix="bench-caps-"))
    upstream, upstream_port = start_upstream(work, None)  # start_router's first answer needs a real one
    router = await start_router(upstream_port, work, work, None)
    assert router.server is not None
    pid = router.server.pid
    config = work / "hostile.yaml"
    config.write_text(CONFIG.format(host=HOST, port=hostile.port))
    from bench.procs import run
    from bench.targets import MAIN_VENV, base_env

    env = {**base_env(), "ROUTER_DATABASE_URL": f"sqlite+aiosqlite:///{work}/router.db"}
    env["ROUTER_SECRET_KEY"] = "bench-secret-key-bench-secret-key"
    run([str(MAIN_VENV / "bin" / "router"), "config", "apply", str(config)], env=env, cwd=work)
    headers = dict(router.endpoint.headers)
    peak = 0.0
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, tree_rss_mb(pid))
            await asyncio.sleep(0.05)

    try:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(
            base_url=f"http://{HOST}:{router.endpoint.port}", headers=headers, timeout=300, limits=limits
        ) as http:
            await asyncio.sleep(2.5)  # the config poll, and LiteLLM's import in the background
            # Warm every path with one capped request of each kind, one at a time, so that idle includes what
            # the first use of each loads for good (LiteLLM's clients, the tokenizer, the pools).
            kinds = [
                (f"{path}-{shape}", path, stream, declared)
                for path in args.paths.split(",")
                for shape, stream, declared in (
                    ("declared", False, True),
                    ("chunked", False, False),
                    ("line", True, False),
                )
            ]
            for _, path, stream, declared in kinds:
                await _ask(http, f"{path}-warm", stream, declared)
            await asyncio.sleep(args.settle)
            idle = tree_rss_mb(pid)
            sampler = asyncio.create_task(sample())
            rows = []
            for number in range(1, args.rounds + 1):
                hostile.sent = 0
                started = time.perf_counter()
                answers = await asyncio.gather(
                    *(
                        _ask(http, f"{path}-x", stream, declared)
                        for _, path, stream, declared in kinds
                        for _ in range(args.concurrency)
                    )
                )
                seconds = time.perf_counter() - started
                await asyncio.sleep(args.settle)
                rows.append((number, answers, seconds, hostile.sent, tree_rss_mb(pid)))
            sampling = False
            await sampler
        print(f"idle (after warm-up): {idle:.1f} MB; peak during the rounds: {peak:.1f} MB")
        print("| round | answers | seconds | MB the upstream managed to send | RSS after MB |")
        print("|---|---|---|---|---|")
        for number, answers, seconds, sent, rss in rows:
            summary = {a: answers.count(a) for a in sorted(set(answers))}
            print(f"| {number} | {json.dumps(summary)} | {seconds:.1f} | {sent / 1e6:.0f} | {rss:.1f} |")
    finally:
        router.stop()
        upstream.stop()


if __name__ == "__main__":
    asyncio.run(main())
