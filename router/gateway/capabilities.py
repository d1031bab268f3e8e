"""What only some targets can do, decided before any is called.

Claude Code's auto mode adds a top-level `safeguards` field (and an `anthropic-beta` value) asking the
upstream to run its safety check, and reads `safeguard_results` from the reply. Only Anthropic's API runs
it. The gateway protocol: pass all three through where the upstream can, else answer `400
invalid_request_error` naming `safeguards` (the client then retries without it and runs the check itself).
Never drop the field silently: the client would believe the check ran.
"""

from __future__ import annotations

import dataclasses

from router.routing.model import Pool, Route, RouteEntry
from router.wire.errors import InvalidRequestError
from router.wire.requests import MessagesRequest

__all__ = ["SAFEGUARDS_UNSUPPORTED", "targets_able_to_serve"]

SAFEGUARDS_UNSUPPORTED = (
    "safeguards is not supported by the model this request is routed to: only Anthropic targets run "
    "auto mode's safety check; send the request without `safeguards`"
)


def targets_able_to_serve(route: Route, req: MessagesRequest) -> Route:
    """`route` without the targets that cannot serve `req` as asked; a refusal when none is left."""
    if req.safeguards is None:
        return route
    able = tuple(t for t in route.targets if _anthropic(t))
    if not able:
        raise InvalidRequestError(SAFEGUARDS_UNSUPPORTED)
    if len(able) == len(route.targets):
        return route
    return dataclasses.replace(route, targets=able)


def _anthropic(entry: RouteEntry) -> bool:
    """A target on Anthropic's own API; a pool only when every member is."""
    if isinstance(entry, Pool):
        return all(m.target.provider.kind == "anthropic" for m in entry.members)
    return entry.provider.kind == "anthropic"
