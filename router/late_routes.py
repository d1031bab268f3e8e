"""Routes registered after start-up, and the app that holds a request for them until they are in.

Why: `router serve` should answer /v1 as soon as it can after it starts (issue 16: 1.5 s from exec to the
first answer). The admin page, the management API, /me and the sign-in endpoints (router/surfaces.py) were
most of what the app cost to import and build: their modules, Jinja, and Litestar's per-handler work at
registration (a deep copy and a signature model per handler, ~300 of them). None of it answers /v1. So
`create_app` builds the app with /v1 and the probes only; once the server has started, `LateRoutes.load`
imports the rest in a worker thread (the event loop keeps serving) and registers it on the event loop with
Litestar's `app.register`, one router at a time, so /v1 requests are served in between.

A request for anything the app does not serve yet (an admin page, /api/v1/..., /schema, /device...) is not
answered 404: `RouterApp` holds it until the late routes are in, starting the load itself if nothing has
(a test client run without its lifespan), then routes it as usual. /readyz reports not ready until then
(Services.readiness: "routes"), so a load balancer sends no traffic before the whole service is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from litestar import Litestar
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.types import Receive, Scope, Send
from litestar.types.asgi_types import LifeSpanReceive, LifeSpanScope, LifeSpanSend
from litestar.utils import normalize_path

log = logging.getLogger("router")


class LateRoutes:
    """The one load of the late routes: started at most once, awaited by any number of requests."""

    def __init__(self, load: Callable[[], Awaitable[None]]) -> None:
        self._load = load
        self._task: asyncio.Task[None] | None = None
        self.done = False
        self.failed = False

    def begin(self) -> None:
        """Start the load (at the end of start-up; again is a no-op)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="late-routes")

    async def wait(self) -> None:
        self.begin()
        assert self._task is not None
        # Shielded: a client that gives up must not cancel the load for everybody else.
        await asyncio.shield(self._task)

    async def cancel(self) -> None:
        """At shutdown: stop a load still running (its routes are no longer needed)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        try:
            await self._load()
        except Exception:  # the boundary of a background task: /readyz stays "not ready" and says why
            self.failed = True
            log.exception("registering the admin page, management API and sign-in routes failed")
        finally:
            self.done = True


class RouterApp(Litestar):
    """Litestar, holding requests for routes that are registered after start-up until they are in."""

    late: LateRoutes | None = None

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        late = self.late
        if late is not None and not late.done and scope["type"] != "lifespan" and not self._served_now(scope):
            await late.wait()
        await super().__call__(scope, receive, send)

    def _served_now(self, scope: Scope) -> bool:
        """Whether a route registered at construction answers this request (then it need not wait)."""
        path = scope["path"]
        if root_path := scope.get("root_path", ""):
            path = path.split(root_path, maxsplit=1)[-1]
        path = normalize_path(path)
        schema = self.openapi_config.path if self.openapi_config is not None else None
        if schema and (path == schema or path.startswith(f"{schema}/")):
            return False  # the document must list every route: it waits for the late ones
        try:
            self.asgi_router.handle_routing(path=path, method=scope.get("method"))
        except (NotFoundException, MethodNotAllowedException):
            return False
        return True
