"""The rule tables of the rules page: which level a URL names (global, or a tenant by id), the rows of one
level with their numbers and shadows, and the filter and page each table keeps across htmx swaps."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from litestar import Request

from router.admin.auth import AdminNotFoundError
from router.admin.deps import tenant_or_404
from router.admin.paging import page_count, page_number, pager
from router.admin.rule_forms import (
    EFFORT_OPTIONS,
    default_placement,
    placement_options,
)
from router.routing.patterns import format_match
from router.routing.shadow import find_shadows
from router.store import catalog
from router.store.db import NotFoundError
from router.store.models import Rule, Tenant

AnyRequest = Request[Any, Any, Any]
GLOBAL = "global"
RULE_PAGE_SIZE = 50
RULES_PATH = "/admin/rules"


async def resolve_level(session: Any, level: str) -> Tenant | None:
    """None for the global level, else the tenant named by id in the URL (404 when there is none)."""
    if level == GLOBAL:
        return None
    if not level.isdigit():
        raise AdminNotFoundError(f"There is no rule level {level!r}.")
    return await tenant_or_404(session, int(level))


async def rule_in_level(session: Any, level: str, rule_id: int) -> Rule:
    """The rule if it belongs to this level (another tenant's rule id is a 404)."""
    tenant = await resolve_level(session, level)
    try:
        rule = await catalog.get_rule(session, rule_id)
    except NotFoundError as exc:
        raise AdminNotFoundError(f"There is no rule with id {rule_id}.") from exc
    if rule.tenant_id != (tenant.id if tenant else None):
        raise AdminNotFoundError(f"There is no rule with id {rule_id} at this level.")
    return rule


async def editor_choices(session: Any) -> dict[str, Any]:
    """Known targets and chains, for the datalist and the chain select."""
    providers = await catalog.list_providers(session)
    deployments = await catalog.list_deployments(session)
    chains = await catalog.list_chains(session)
    hints = [f"{p.name}/" for p in providers] + [f"deployment/{d.name}" for d in deployments]
    return {
        "target_hints": hints,
        "chain_options": [("", "— none —"), *[(c.name, c.name) for c in chains]],
        "effort_options": EFFORT_OPTIONS,
    }


def level_context(level: str, tenant: Tenant | None, rules: list[Rule]) -> dict[str, Any]:
    """One level's table: rules in evaluation order (the # column), and which can never match and why."""
    shadows = {
        rules[s.index].id: (s.by + 1, format_match(rules[s.by].match, rules[s.by].match_kind))
        for s in find_shadows(rules)
    }
    return {
        "level": level,
        "level_name": "Global rules" if tenant is None else f"Rules of tenant {tenant.name}",
        "tenant": tenant,
        "rules": rules,
        "shadows": shadows,
        "place_options": placement_options(rules),
        "default_place": default_placement(rules),
    }


def rule_matches_text(rule: Rule, text: str) -> bool:
    """Whether the filter text appears in the rule's pattern, route or description (any case)."""
    route = rule.chain.name if rule.chain is not None else rule.target or ""
    haystack = " ".join([format_match(rule.match, rule.match_kind), route, rule.description or ""])
    return text.lower() in haystack.lower()


def page_param(level: str) -> str:
    return f"page_{level}"


def list_state(query: Any) -> dict[str, str]:
    """The rules page's filter text and each level's page, from its query (a client value: bounded)."""
    state = {"q": (query.get("q") or "").strip()[:200]}
    for key in query:
        if key.startswith("page_") and len(key) < 30:
            number = page_number(query.get(key))
            if number > 1:
                state[key] = str(number)
    return state


def state_from_page_url(request: AnyRequest) -> dict[str, str]:
    """An htmx re-render keeps the filter and pages of the page it was made on (htmx names its URL)."""
    url = request.headers.get("hx-current-url") or ""
    return list_state(dict(parse_qsl(urlsplit(url[:4000]).query)))


def state_url(state: dict[str, str]) -> str:
    values = {k: v for k, v in state.items() if v}
    return f"{RULES_PATH}?{urlencode(values)}" if values else RULES_PATH


def page_level(lv: dict[str, Any], state: dict[str, str], *, show_id: int | None = None) -> None:
    """Filter and page one level's table in place. Rows keep their place in the whole level (the #
    column is always the evaluation order); `show_id` picks the page holding that rule, so a moved,
    saved or added rule is on screen. Updates `state` with the page shown."""
    wanted = state.get("q", "")
    visible = [(i, r) for i, r in enumerate(lv["rules"]) if not wanted or rule_matches_text(r, wanted)]
    pages = page_count(len(visible), RULE_PAGE_SIZE)
    param = page_param(lv["level"])
    page = min(page_number(state.get(param)), pages)
    at = next((n for n, (_, r) in enumerate(visible) if r.id == show_id), None)
    if at is not None:
        page = at // RULE_PAGE_SIZE + 1
    state[param] = str(page) if page > 1 else ""
    lv["shown"] = visible[(page - 1) * RULE_PAGE_SIZE : page * RULE_PAGE_SIZE]
    lv["pager"] = pager(RULES_PATH, state, param, page, pages, f"Pages of {lv['level_name'].lower()}")


def rule_label(number: int, rule: Rule) -> str:
    return f"rule #{number} ({format_match(rule.match, rule.match_kind)})"
