"""Usage: the record of each request, its way to the database, limits and budgets, metrics and logs."""

from router.usage.events import UsageEvent
from router.usage.limits import Limiter, LimitExceeded
from router.usage.recorder import UsageRecorder

__all__ = ["LimitExceeded", "Limiter", "UsageEvent", "UsageRecorder"]
