"""The one place that talks to upstreams (and the only package that imports LiteLLM)."""

from router.providers.base import EventStream, ProviderError, UpstreamCall
from router.providers.hub import ProviderHub
from router.providers.model_info import ModelFacts

__all__ = ["EventStream", "ModelFacts", "ProviderError", "ProviderHub", "UpstreamCall"]
