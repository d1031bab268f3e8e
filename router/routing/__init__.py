"""Rules + request facts -> ordered targets, and why. Pure: no database, no web framework, no LiteLLM."""

from router.routing.errors import ForbiddenError, NoRouteError, RoutingError, RuleError
from router.routing.explain import Explanation, explain
from router.routing.resolve import Resolver, check_key_model

__all__ = [
    "Explanation",
    "ForbiddenError",
    "NoRouteError",
    "Resolver",
    "RoutingError",
    "RuleError",
    "check_key_model",
    "explain",
]
