"""FakeUpstream: a real local HTTP server speaking OpenAI, Azure OpenAI, Gemini and Anthropic, scripted.

It runs on its own thread with its own event loop, so sync tests, async tests and a router running under
uvicorn in yet another thread can all call it. Every request is recorded before it is answered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.fakes.upstream_anthropic import AnthropicFormat
from tests.fakes.upstream_gemini import GeminiFormat
from tests.fakes.upstream_openai import OpenAIFormat
from tests.fakes.upstream_render import Call, WireFormat, dumps, estimate_tokens
from tests.fakes.upstream_routes import Endpoint, auth_problem, classify
from tests.fakes.upstream_script import (
    BreakStream,
    Delay,
    ErrorIn200,
    Fail,
    NotJson,
    RecordedRequest,
    Reply,
    ScriptBook,
    Step,
)

_FORMATS: dict[str, WireFormat] = {
    "openai": OpenAIFormat("openai"),
    "azure": OpenAIFormat("azure"),
    "gemini": GeminiFormat(),
    "anthropic": AnthropicFormat(),
}
# Time the client gets to read what was sent before the server breaks the connection under it.
_SETTLE = 0.05


class FakeUpstream:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._scripts = ScriptBook()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._cancelled = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        # Simulated provider prompt cache: per upstream model, hashes of conversation prefixes seen.
        self.prompt_cache = False
        self._cached_prefixes: dict[str, set[str]] = {}

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> str:
        """Start listening (idempotent); returns the base URL, e.g. http://127.0.0.1:54321."""
        if self._base_url is not None:
            return self._base_url
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failures: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open(sock))
            except BaseException as exc:  # surfaced to the caller of start()
                failures.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"fake-upstream-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failures:
            sock.close()
            raise RuntimeError(f"fake upstream did not start: {failures}")
        self._base_url = f"http://{self.host}:{self.port}"
        return self._base_url

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = None
        self._base_url = None

    def __enter__(self) -> FakeUpstream:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def _open(self, sock: socket.socket) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A short shutdown timeout: a scripted Delay must not hold stop() for a minute.
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        # Handlers still sleeping in a Delay for a client that already left outlive cleanup(): end them here.
        leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    # ---- the scripting API -------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("FakeUpstream is not started")
        return self._base_url

    def script(self, *steps: Step, model: str | None = None) -> None:
        """Queue steps (FIFO) for requests naming ``model`` (the name the upstream sees); None: any model."""
        self._scripts.add(steps, model)

    def set_default(self, reply: Reply) -> None:
        """The answer when nothing is queued (initially Reply(text="Hello from <kind>:<model>."))."""
        self._scripts.set_default(reply)

    def pending_steps(self) -> int:
        return self._scripts.pending()

    def reset(self) -> None:
        self._scripts.clear()
        with self._lock:
            self._requests.clear()
            self._cancelled = 0
            self._cached_prefixes.clear()
        self.prompt_cache = False

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, kind: str | None = None, model: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if (kind is None or r.kind == kind) and (model is None or r.model == model)
        ]

    @property
    def cancelled_streams(self) -> int:
        """Streams whose client went away before the stream's end."""
        with self._lock:
            return self._cancelled

    def wait_until(self, condition: Callable[[], bool], within: float = 5.0) -> bool:
        """Poll ``condition`` (e.g. ``lambda: fake.cancelled_streams == 1``) from a sync test."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    async def wait_until_async(self, condition: Callable[[], bool], within: float = 5.0) -> bool:
        """The same for async tests, without blocking their event loop."""
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # ---- serving -----------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        ep = classify(request.method, request.path, body)
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.query)
        recorded = RecordedRequest(ep.kind, request.path, query, headers, body, ep.model, ep.stream, raw)
        with self._lock:
            self._requests.append(recorded)
        if ep.kind == "unknown":
            message = f"the fake upstream serves no {request.method} {request.path}"
            return web.json_response({"error": {"message": message, "type": "not_found"}}, status=404)
        fmt = _FORMATS[ep.kind]
        problem = auth_problem(ep, request.path, headers, query)
        if problem is not None:
            return web.json_response(fmt.error(*problem), status=problem[0])
        if not isinstance(body, dict):
            return web.json_response(fmt.error(400, "request body is not a JSON object"), status=400)
        if ep.action == "count":
            key = "totalTokens" if ep.kind == "gemini" else "input_tokens"
            return web.json_response({key: estimate_tokens(len(raw))})
        step = self._scripts.next_step(ep.model) or self._scripts.default_reply(ep.kind, ep.model)
        if self.prompt_cache and isinstance(step, Reply):
            step = dataclasses.replace(step, cached_tokens=self._cache_hit(ep.model, body))
        call = Call(ep.kind, ep.model, len(raw), ep.include_usage)
        return await self._play(request, ep, fmt, call, step)

    def _cache_hit(self, model: str, body: dict[str, Any]) -> int:
        """Tokens of the longest conversation prefix this model saw before (a provider's prompt cache is
        per deployment: another member of a pool has not seen it); remembers this conversation."""
        turns = body.get("messages") or body.get("contents") or []
        if not isinstance(turns, list):
            return 0
        digests = [
            hashlib.sha256(json.dumps(turns[:k], sort_keys=True).encode()).hexdigest()
            for k in range(1, len(turns) + 1)
        ]
        with self._lock:
            seen = self._cached_prefixes.setdefault(model, set())
            hit = 0
            for k in range(len(turns) - 1, 0, -1):
                if digests[k - 1] in seen:
                    hit = estimate_tokens(len(json.dumps(turns[:k], sort_keys=True)))
                    break
            seen.update(digests)
        return hit

    async def _play(
        self, request: web.Request, ep: Endpoint, fmt: WireFormat, call: Call, step: Step
    ) -> web.StreamResponse:
        while isinstance(step, Delay):
            await asyncio.sleep(step.seconds)
            step = step.then
        if isinstance(step, Fail):
            if step.raw_body is not None:
                return web.Response(status=step.status, text=step.raw_body, headers=step.headers)
            return web.json_response(
                fmt.error(step.status, step.message), status=step.status, headers=step.headers
            )
        if isinstance(step, NotJson):
            return web.Response(status=step.status, text=step.body, content_type="text/html")
        if isinstance(step, ErrorIn200):
            if ep.stream:
                return await self._stream(request, [fmt.stream_error(step.message)], 0.0)
            return web.json_response(fmt.error_in_200(step.message))
        if isinstance(step, BreakStream):
            reply = step.reply or self._scripts.default_reply(ep.kind, ep.model)
            if ep.stream:
                frames = fmt.stream(reply, call)[: step.after_chunks]
                return await self._stream(request, frames, reply.chunk_delay, break_mode=step.mode)
            return await self._truncated_json(request, dumps(fmt.completion(reply, call)).encode(), step.mode)
        if ep.stream:
            return await self._stream(request, fmt.stream(step, call), step.chunk_delay)
        return web.json_response(fmt.completion(step, call))

    async def _stream(
        self, request: web.Request, frames: list[bytes], delay: float, break_mode: str | None = None
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        try:
            await resp.prepare(request)
            for index, frame in enumerate(frames):
                if index and delay:
                    await asyncio.sleep(delay)
                await resp.write(frame)
            if break_mode == "reset":
                await asyncio.sleep(_SETTLE)
                _reset(request)
                return resp
            await resp.write_eof()
        except ConnectionError:  # aiohttp's ClientConnectionResetError: the client hung up
            self._note_cancelled()
        except asyncio.CancelledError:
            self._note_cancelled()
            raise
        return resp

    async def _truncated_json(self, request: web.Request, body: bytes, mode: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(body)
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
        await asyncio.sleep(_SETTLE)
        if mode == "reset":
            _reset(request)
        elif request.transport is not None:
            request.transport.close()
        return resp

    def _note_cancelled(self) -> None:
        with self._lock:
            self._cancelled += 1


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP RST: SO_LINGER 0 makes close() abort instead of a FIN handshake."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
