"""Fixtures for the observability tests: the loopback OTLP receiver."""

from tests.fakes.otlp import otlp_receiver

__all__ = ["otlp_receiver"]
