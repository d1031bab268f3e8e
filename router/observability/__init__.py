"""Observability: what operators read about the service (JSON logs, Prometheus metrics)."""
