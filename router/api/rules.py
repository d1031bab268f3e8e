"""Rule updates and moves at either level (global: /api/v1/rules, a tenant's: /api/v1/tenants/{id}/rules).

The catalog validates (config/validate.py, as the pages and `config apply` do) and keeps the order consistent
under concurrent moves (store/catalog/rules.py); nothing here checks a value again.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, patch, post

from router.api.deps import actor, mutating, sent, tenant_or_404
from router.api.errors import NO_SUCH, ApiError
from router.api.schemas import RuleMove, RuleOut, RulePatch
from router.api.tenants import rule_out
from router.store import catalog
from router.store.models import Rule

AnyRequest = Request[Any, Any, Any]


async def _rule_at(session: Any, tenant_id: int | None, rule_id: int) -> Rule:
    """The rule if it belongs to this level (a rule of another level is no such rule here)."""
    if tenant_id is not None:
        await tenant_or_404(session, tenant_id)
    rule: Rule | None = await session.get(Rule, rule_id)
    if rule is None or rule.tenant_id != tenant_id:
        raise ApiError(404, NO_SUCH)
    return rule


async def update_rule(request: AnyRequest, tenant_id: int | None, rule_id: int, data: RulePatch) -> RuleOut:
    changes = sent(data, nullable=frozenset({"match_kind", "target", "chain", "description"}))
    if "when" in changes:
        changes["conditions"] = changes.pop("when")
    async with mutating(request) as session:
        await _rule_at(session, tenant_id, rule_id)
        await catalog.update_rule(session, rule_id, **changes, actor=actor(request))
        return rule_out(await catalog.get_rule(session, rule_id))


async def move_rule(
    request: AnyRequest, tenant_id: int | None, rule_id: int, data: RuleMove
) -> list[RuleOut]:
    """Put the rule at a place in its level's order; answers the level's rules in their new order."""
    async with mutating(request) as session:
        await _rule_at(session, tenant_id, rule_id)
        rows = await catalog.move_rule_to(session, rule_id, data.position, actor=actor(request))
        return [rule_out(r) for r in rows]


class TenantRuleChangesApi(Controller):
    path = "/tenants"
    tags = ["tenants"]

    @patch("/{tenant_id:int}/rules/{rule_id:int}")
    async def update_tenant_rule(
        self, request: AnyRequest, tenant_id: int, rule_id: int, data: RulePatch
    ) -> RuleOut:
        """Change the fields sent; a new target clears the chain and the reverse."""
        return await update_rule(request, tenant_id, rule_id, data)

    @post("/{tenant_id:int}/rules/{rule_id:int}/move", status_code=200)
    async def move_tenant_rule(
        self, request: AnyRequest, tenant_id: int, rule_id: int, data: RuleMove
    ) -> list[RuleOut]:
        """Put the rule at `position` (1 = evaluated first) among its tenant's rules, answered in order."""
        return await move_rule(request, tenant_id, rule_id, data)
