"""A real webhook receiver on loopback (http.server in a thread): records every POST (path, headers, body)
and answers each with the next scripted status (200 once the script runs out)."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A sender that gave up (the timeout tests) has hung up before the answer is written: not the
        # receiver's fault, and socketserver's default would print the traceback into whatever test runs next
        # in this process (a CLI test that checks its output is one line).
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[int] = []
        self.delay = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status)
                    )
                if receiver.delay:
                    time.sleep(receiver.delay)
                answer = b"ok" if status < 300 else b"no_service: hook disabled"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str = "/services/T0/B1/hook-path-token") -> str:
        return self.base_url + path

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self.script.extend(statuses)

    def delivered(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.status < 300]

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Block until at least `count` requests were delivered (2xx), then return them."""
        deadline = time.monotonic() + timeout
        while len(self.delivered()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.delivered())} deliveries after {timeout}s, wanted {count}")
            time.sleep(0.05)
        return self.delivered()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
