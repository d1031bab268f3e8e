"""Draining on SIGTERM: stop looking ready at once, keep serving for a while, then let the server stop.

A load balancer or Kubernetes notices a replica is going only when its readiness probe fails, some seconds
after the SIGTERM. Until then it still sends new connections, so the process must keep accepting them:
`/readyz` answers 503 from the first moment, requests are served as usual for `drain_seconds`, and only
then is the signal handed to uvicorn, which closes the listening socket, lets requests and streams in
flight finish (up to `shutdown_grace_seconds`) and runs the shutdown hooks (the usage queue is drained).

A second SIGTERM skips the rest of the drain; SIGINT (Ctrl-C at a terminal) is left alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("router.lifecycle")


class Drain:
    """Per process: whether it is draining, and the SIGTERM handler that starts it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = max(0.0, seconds)
        self.draining = False
        self._previous: Any = None
        self._installed = False

    def install(self) -> bool:
        """Take over SIGTERM from the server (call from its running event loop, after it set its handlers).

        Only the main thread can handle signals: elsewhere (an app served from a test's thread) this does
        nothing and returns False.
        """
        if self._installed or threading.current_thread() is not threading.main_thread():
            return False
        loop = asyncio.get_running_loop()
        self._previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(sig: int, frame: FrameType | None) -> None:
            # Only hand the signal to the event loop: a handler runs inside whatever the main thread was
            # doing, and if that was a log write blocked on a full pipe, logging here re-enters the stream
            # ("reentrant call"), raises, and the drain never starts. call_soon_threadsafe only queues.
            loop.call_soon_threadsafe(self._on_sigterm, loop, sig, frame)

        signal.signal(signal.SIGTERM, on_sigterm)
        self._installed = True
        return True

    def _on_sigterm(self, loop: asyncio.AbstractEventLoop, sig: int, frame: FrameType | None) -> None:
        if self.draining:
            log.warning("second SIGTERM: stopping now")
            self._hand_over(sig, frame)
            return
        self.draining = True
        log.warning(
            "SIGTERM: not ready from now on; serving new requests for %.0fs more, then finishing those "
            "in flight",
            self.seconds,
        )
        loop.call_later(self.seconds, self._hand_over, sig, frame)

    def _hand_over(self, sig: int, frame: FrameType | None) -> None:
        previous = self._previous
        if previous is None:
            return
        self._previous = None
        if callable(previous):
            previous(sig, frame)
            return
        # The default disposition: restore it and deliver the signal again.
        signal.signal(signal.SIGTERM, previous)
        os.kill(os.getpid(), signal.SIGTERM)


class DatabaseOutageGrace:
    """Whether a database that stopped answering should take this replica out of rotation yet.

    The request path does not need the database (routing snapshot and keys in memory; usage spooled and
    retried), and every replica shares the same one: were readiness to fail at the first missed ping, a
    database restart would take every replica out of the load balancer at once and turn a blip the
    requests never notice into an outage. So a replica that has reached its database stays ready for
    `seconds` after the last check that did; past that (cut off for long) it reports not ready. A replica
    that never reached it, or finds its schema behind, is not ready at once.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = max(0.0, seconds)
        self._clock = clock
        self._last_reached: float | None = None

    def ready(self, *, reachable: bool, schema_current: bool) -> bool:
        now = self._clock()
        if reachable:
            if schema_current:
                self._last_reached = now
            return schema_current
        return self._last_reached is not None and now - self._last_reached <= self.seconds
