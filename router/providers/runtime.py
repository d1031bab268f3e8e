"""LiteLLM, imported once per process and configured for a hot path that only wants provider knowledge.

Importing litellm takes seconds and ~170 MB, so the service starts it in a background thread once it is up
(`preload`), the calls that need it wait for it (`ready`), and nothing else imports it: CLI commands, the
admin page and Anthropic-native targets never do. Its model cost map is always the copy inside the package
(never fetched from the network) unless the operator opts in (`use_remote_cost_map`).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["litellm", "loaded", "preload", "ready", "remote_cost_map", "use_remote_cost_map"]

_lock = threading.Lock()
_module: ModuleType | None = None
_preloading: threading.Thread | None = None
_remote_cost_map = False


def use_remote_cost_map(remote: bool) -> None:
    """ROUTER_LITELLM_REMOTE_COST_MAP: LiteLLM may fetch its cost map at import (else: its local copy)."""
    global _remote_cost_map
    _remote_cost_map = remote


def _configure(lm: Any) -> None:
    # Unsupported params are dropped rather than raised: the router promises the client's request works.
    lm.drop_params = True
    # No callbacks, logging or cost work on our calls: usage is recorded by the router itself.
    lm.callbacks = []
    lm.success_callback = []
    lm.failure_callback = []
    lm.input_callback = []
    lm.service_callback = []
    lm._async_success_callback = []
    lm._async_failure_callback = []
    lm.telemetry = False
    lm.suppress_debug_info = True
    lm.set_verbose = False
    lm.turn_off_message_logging = True
    lm.disable_streaming_logging = True
    lm.log_raw_request_response = False
    lm.include_cost_in_streaming_usage = False
    lm.disable_end_user_cost_tracking = True
    lm.cache = None
    lm.logging = False
    # Token counting must never reach the network for a tokenizer.
    lm.disable_hf_tokenizer_download = True
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Before any client exists: the upstream size caps on every HTTP answer LiteLLM reads.
    from router.providers.litellm_http import install

    install()


def litellm() -> Any:
    """The configured litellm module (imported and configured on first call)."""
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            if not _remote_cost_map:
                # Read by litellm at import: the copy of the cost map it ships, no network round trip.
                os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
            lm = importlib.import_module("litellm")
            _configure(lm)
            _module = lm
    return _module


def remote_cost_map() -> bool:
    return _remote_cost_map


def loaded() -> bool:
    return _module is not None


def preload(then: Callable[[], None] | None = None) -> None:
    """Import LiteLLM in a daemon thread (once per process), then run `then` in that thread."""
    global _preloading
    with _lock:
        if _module is not None or _preloading is not None:
            return

        def run() -> None:
            try:
                litellm()
            except Exception:  # the boundary of a background thread: the next `ready()` raises it again
                logging.getLogger(__name__).exception("importing LiteLLM failed")
                return
            if then is not None:
                then()

        _preloading = threading.Thread(target=run, name="litellm-import", daemon=True)
        _preloading.start()


async def ready() -> Any:
    """The module, waiting (off the event loop) for the import if it is still running."""
    if _module is not None:
        return _module
    return await asyncio.to_thread(litellm)
