"""LiteLLM, imported once per process and configured for a hot path that only wants provider knowledge.

Importing litellm takes seconds, so it happens in `ProviderHub.start()` (or on first need), never at
module import time and never per request.
"""

from __future__ import annotations

import importlib
import logging
import threading
from types import ModuleType
from typing import Any

__all__ = ["litellm"]

_lock = threading.Lock()
_module: ModuleType | None = None


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


def litellm() -> Any:
    """The configured litellm module (imported and configured on first call)."""
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            lm = importlib.import_module("litellm")
            _configure(lm)
            _module = lm
    return _module
