"""Rule updates and moves at either level (global: /api/v1/rules, a tenant's: /api/v1/tenants/{id}/rules), and
what a tenant's rules reach (/api/v1/tenants/{id}/reach: read-only, for its tenant-admins too).

The catalog validates (config/validate/, as the pages and `config apply` do) and keeps the order consistent
under concurrent moves (store/catalog/rules.py); nothing here checks a value again.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post

from router.api.deps import actor, sent, tenant_or_404
from router.api.errors import NO_SUCH, ApiError
from router.api.schemas import (
    ReachOut,
    ReachRefOut,
    ReachRuleOut,
    ReachTargetOut,
    RuleMove,
    RuleOut,
    RulePatch,
)
from router.api.tenants import rule_out
from router.routing.reach import Reach
from router.store import catalog
from router.store.access import StoreAccess
from router.store.models import Rule
from router.store.reach import reach_of

AnyRequest = Request[Any, Any, Any]


async def _rule_at(session: Any, tenant_id: int | None, rule_id: int) -> Rule:
    """The rule if it belongs to this level (a rule of another level is no such rule here)."""
    if tenant_id is not None:
        await tenant_or_404(session, tenant_id)
    rule: Rule | None = await session.get(Rule, rule_id)
    if rule is None or rule.tenant_id != tenant_id:
        raise ApiError(404, NO_SUCH)
    return rule


async def update_rule(
    request: AnyRequest, tenant_id: int | None, rule_id: int, data: RulePatch, store: StoreAccess
) -> RuleOut:
    changes = sent(data, nullable=frozenset({"match_kind", "target", "chain", "description"}))
    if "when" in changes:
        changes["conditions"] = changes.pop("when")
    async with store.mutating() as session:
        await _rule_at(session, tenant_id, rule_id)
        await catalog.patch_rule(session, rule_id, changes, actor=actor(request))
        return rule_out(await catalog.get_rule(session, rule_id))


async def move_rule(
    request: AnyRequest, tenant_id: int | None, rule_id: int, data: RuleMove, store: StoreAccess
) -> list[RuleOut]:
    """Put the rule at a place in its level's order; answers the level's rules in their new order."""
    async with store.mutating() as session:
        await _rule_at(session, tenant_id, rule_id)
        rows = await catalog.move_rule_to(session, rule_id, data.position, actor=actor(request))
        return [rule_out(r) for r in rows]


def reach_out(reach: Reach) -> ReachOut:
    return ReachOut(
        tenant=reach.tenant,
        allowed_targets=list(reach.allowed_targets) if reach.allowed_targets is not None else None,
        rules=[
            ReachRuleOut(
                level=r.level,
                number=r.number,
                id=r.id,
                match=r.match,
                when=r.conditions,
                chain=r.chain,
                targets=[ReachRefOut(ref=ref, allowed=ok) for ref, ok in r.refs],
                unreachable=r.unreachable,
            )
            for r in reach.rules
        ],
        targets=[
            ReachTargetOut(
                ref=t.ref,
                provider=t.info.provider if t.info else None,
                kind=t.info.kind if t.info else None,
                model=t.info.model if t.info else None,
                via=list(t.via),
            )
            for t in reach.targets
        ],
    )


class TenantRulesApi(Controller):
    path = "/tenants"
    tags = ["tenants"]

    @patch("/{tenant_id:int}/rules/{rule_id:int}")
    async def update_tenant_rule(
        self, request: AnyRequest, tenant_id: int, rule_id: int, data: RulePatch, store: StoreAccess
    ) -> RuleOut:
        """Change the fields sent; a new target clears the chain and the reverse."""
        return await update_rule(request, tenant_id, rule_id, data, store=store)

    @post("/{tenant_id:int}/rules/{rule_id:int}/move", status_code=200)
    async def move_tenant_rule(
        self, request: AnyRequest, tenant_id: int, rule_id: int, data: RuleMove, store: StoreAccess
    ) -> list[RuleOut]:
        """Put the rule at `position` (1 = evaluated first) among its tenant's rules, answered in order."""
        return await move_rule(request, tenant_id, rule_id, data, store=store)

    @get("/{tenant_id:int}/reach")
    async def tenant_reach(self, request: AnyRequest, tenant_id: int, store: StoreAccess) -> ReachOut:
        """The tenant's rules then the global ones, in evaluation order, with the targets each sends to
        after the tenant's allowed targets, and every target its requests can reach (no URL, no secret)."""
        async with store.reading() as session:
            await tenant_or_404(session, tenant_id)
            return reach_out(await reach_of(session, tenant_id))
