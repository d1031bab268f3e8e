"""Mapping rules: one table per level (global, then each tenant), inline edits, order, live validation,
and the "try it" box that explains which rule a request would match and why earlier ones did not."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from router.admin.auth import AdminNotFoundError
from router.admin.deps import actor, mutating, reading, tenant_or_404, visible_tenants
from router.admin.forms import Form
from router.admin.messages import sentence
from router.admin.rule_forms import EFFORT_OPTIONS, form_field, read_rule_form, rule_form_values
from router.admin.web import render
from router.routing.explain import explain
from router.routing.facts import request_facts, sample_request
from router.routing.patterns import parse_match
from router.routing.validate import pattern_error, target_ref_error
from router.store import catalog
from router.store import tenants as tenant_store
from router.store.catalog import Direction
from router.store.db import NotFoundError
from router.store.models import Rule, Tenant

AnyRequest = Request[Any, Any, Any]
GLOBAL = "global"


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
    return {
        "level": level,
        "level_name": "Global rules" if tenant is None else f"Rules of tenant {tenant.name}",
        "tenant": tenant,
        "rules": rules,
    }


async def rule_row(request: AnyRequest, level: str, rule_id: int) -> Template:
    """One rule's display row (what an edit row swaps back to)."""
    async with reading(request) as session:
        rule = await rule_in_level(session, level, rule_id)
        rules = await catalog.list_rules(session, rule.tenant_id)
    ids = [r.id for r in rules]
    return render(
        request,
        "admin/partials/rule_row.html",
        {"rule": rule, "level": level, "index": ids.index(rule.id), "count": len(ids)},
    )


class RulesController(Controller):
    path = "/admin/rules"

    @get("/")
    async def rules_page(self, request: AnyRequest) -> Template:
        async with reading(request) as session:
            levels = [level_context(GLOBAL, None, await catalog.list_rules(session, None))]
            tenants = visible_tenants(request, await tenant_store.list_tenants(session))
            for tenant in tenants:
                levels.append(
                    level_context(str(tenant.id), tenant, await catalog.list_rules(session, tenant.id))
                )
            choices = await editor_choices(session)
        return render(
            request,
            "admin/rules.html",
            {"levels": levels, "tenants": tenants, "try_form": {}, "new_form": {"enabled": "on"}, **choices},
        )

    async def _level_section(
        self,
        request: AnyRequest,
        level: str,
        *,
        new_form: dict[str, Any] | None = None,
        new_errors: dict[str, str] | None = None,
    ) -> Template:
        async with reading(request) as session:
            tenant = await resolve_level(session, level)
            rules = await catalog.list_rules(session, tenant.id if tenant else None)
            choices = await editor_choices(session)
        return render(
            request,
            "admin/partials/rule_level.html",
            {
                "lv": level_context(level, tenant, rules),
                "new_form": new_form or {"enabled": "on"},
                "new_errors": new_errors or {},
                **choices,
            },
            status=422 if new_errors else 200,
        )

    @post("/{level:str}")
    async def create(self, request: AnyRequest, level: str) -> Template:
        form = Form(await request.form())
        values = read_rule_form(form)
        if form.ok:
            try:
                async with mutating(request) as session:
                    tenant = await resolve_level(session, level)
                    await catalog.create_rule(
                        session, tenant_id=tenant.id if tenant else None, **values, actor=actor(request)
                    )
                return await self._level_section(request, level)
            except catalog.CatalogError as exc:
                form.error(form_field(exc.field), sentence(exc.message))
        return await self._level_section(request, level, new_form=form.values, new_errors=form.errors)

    @get("/{level:str}/{rule_id:int}/edit")
    async def edit_row(self, request: AnyRequest, level: str, rule_id: int) -> Template:
        async with reading(request) as session:
            rule = await rule_in_level(session, level, rule_id)
            choices = await editor_choices(session)
        return render(
            request,
            "admin/partials/rule_edit.html",
            {"rule": rule, "level": level, "form": rule_form_values(rule), "errors": {}, **choices},
        )

    @get("/{level:str}/{rule_id:int}")
    async def show_row(self, request: AnyRequest, level: str, rule_id: int) -> Template:
        return await rule_row(request, level, rule_id)

    @post("/{level:str}/{rule_id:int}")
    async def save_row(self, request: AnyRequest, level: str, rule_id: int) -> Template:
        form = Form(await request.form())
        values = read_rule_form(form)
        if form.ok:
            try:
                async with mutating(request) as session:
                    await rule_in_level(session, level, rule_id)
                    await catalog.update_rule(
                        session, rule_id, match_kind=None, **values, actor=actor(request)
                    )
                return await rule_row(request, level, rule_id)
            except catalog.CatalogError as exc:
                form.error(form_field(exc.field), sentence(exc.message))
        async with reading(request) as session:
            rule = await rule_in_level(session, level, rule_id)
            choices = await editor_choices(session)
        return render(
            request,
            "admin/partials/rule_edit.html",
            {"rule": rule, "level": level, "form": form.values, "errors": form.errors, **choices},
            status=422,
        )

    @post("/{level:str}/{rule_id:int}/move")
    async def move(self, request: AnyRequest, level: str, rule_id: int) -> Template:
        form = Form(await request.form())
        direction: Direction = "up" if form.raw("direction") == "up" else "down"
        async with mutating(request) as session:
            await rule_in_level(session, level, rule_id)
            await catalog.move_rule(session, rule_id, direction, actor=actor(request))
        return await self._level_section(request, level)

    @post("/{level:str}/{rule_id:int}/delete")
    async def delete(self, request: AnyRequest, level: str, rule_id: int) -> Template:
        async with mutating(request) as session:
            await rule_in_level(session, level, rule_id)
            await catalog.delete_rule(session, rule_id, actor=actor(request))
        return await self._level_section(request, level)

    @post("/{level:str}/validate")
    async def validate(self, request: AnyRequest, level: str) -> Template:
        """Problems with a rule being typed: bad pattern, unknown target or chain, bad numbers."""
        form = Form(await request.form())
        values = read_rule_form(form)
        problems = [f"{name}: {message}" for name, message in form.errors.items() if name != "match"]
        async with reading(request) as session:
            await resolve_level(session, level)
            providers, deployments = await catalog.known_target_names(session)
            chains = {c.name for c in await catalog.list_chains(session)}
        if values["match"]:
            pattern, kind = parse_match(values["match"])
            if (problem := pattern_error(pattern, kind)) is not None:
                problems.insert(0, f"match: {problem}")
        elif "match" in form.errors:
            problems.insert(0, "match: " + form.errors["match"])
        target, chain = values["target"], values["chain"]
        if target and (problem := target_ref_error(target, providers, deployments)) is not None:
            problems.append(f"target: {problem}")
        if chain and chain not in chains:
            problems.append(f"chain: unknown chain {chain!r}")
        if target and chain:
            problems.append("target: give a target or a chain, not both")
        if not target and not chain:
            problems.append("target: give a target or a chain")
        return render(request, "admin/partials/rule_validation.html", {"problems": problems})

    @post("/try")
    async def try_it(self, request: AnyRequest) -> Template:
        form = Form(await request.form())
        model = form.text("model", required=True, max_len=300, label="Model") or ""
        tool = form.text("tool", max_len=200, label="Tool name")
        facts_input = form.integer("input_tokens", maximum=100_000_000, label="Input tokens") or 0
        member = form.text("member", max_len=200, label="Member")
        tenant_id = form.integer("tenant_id", maximum=2**62, label="Tenant")
        explanation = None
        if form.ok:
            config = await routing_config(request)
            if config is None:
                form.error("form", "The routing configuration is not loaded yet; try again in a moment.")
            else:
                sample = sample_request(
                    model,
                    thinking="enabled" if form.checkbox("thinking") else None,
                    tools=1 if form.checkbox("tools") else 0,
                    tool_names=[tool] if tool else (),
                    stream=form.checkbox("stream"),
                )
                facts = request_facts(sample, input_tokens=facts_input, member=member)
                explanation = explain(config, tenant_id, facts).to_dict()
        return render(
            request,
            "admin/partials/rule_try.html",
            {"result": explanation, "errors": form.errors},
            status=422 if form.errors else 200,
        )


async def routing_config(request: AnyRequest) -> Any:
    """This process's routing snapshot (refreshed if a change elsewhere has not reached it yet)."""
    snapshots = getattr(request.app.state, "snapshots", None)
    if snapshots is None:
        return None
    await snapshots.refresh()
    return snapshots.current
