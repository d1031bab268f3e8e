"""Mapping rules: one table per level (global, then each tenant), inline edits, order, live validation,
and the "try it" box that explains which rule a request would match and why earlier ones did not."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template

from router.admin.deps import actor, visible_tenants
from router.admin.drift import config_drift
from router.admin.forms import Form
from router.admin.messages import sentence
from router.admin.rule_forms import (
    form_field,
    landing_index,
    order_warnings,
    placement_options,
    read_placement,
    read_rule_form,
    rule_form_values,
)
from router.admin.rule_levels import (
    GLOBAL,
    editor_choices,
    level_context,
    list_state,
    page_level,
    resolve_level,
    rule_in_level,
    rule_label,
    state_from_page_url,
    state_url,
)
from router.admin.web import render
from router.config.validate import rule_issues
from router.routing.explain import explain
from router.routing.facts import request_facts, sample_request
from router.routing.patterns import format_match
from router.store import catalog
from router.store import tenants as tenant_store
from router.store.access import StoreAccess
from router.store.catalog import Direction

AnyRequest = Request[Any, Any, Any]


async def rule_editor(
    request: AnyRequest,
    level: str,
    rule_id: int,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    *,
    store: StoreAccess,
) -> Template:
    """One rule's edit row: the stored rule, or a refused save shown again with its errors (422)."""
    async with store.reading() as session:
        rule = await rule_in_level(session, level, rule_id)
        rules = await catalog.list_rules(session, rule.tenant_id)
        choices = await editor_choices(session)
    return render(
        request,
        "admin/partials/rule_edit.html",
        {
            "rule": rule,
            "level": level,
            "form": form or {**rule_form_values(catalog.rule_draft(rule)), "place": "keep"},
            "errors": errors or {},
            "place_options": placement_options(rules, rule),
            **choices,
        },
        status=422 if errors else 200,
        # Save targets the whole level; a refusal swaps back only this row, with its errors.
        headers={"HX-Retarget": f"#rule-{rule_id}", "HX-Reswap": "outerHTML"} if errors else None,
    )


async def rule_row(request: AnyRequest, level: str, rule_id: int, store: StoreAccess) -> Template:
    """One rule's display row (what Cancel swaps back to); focus returns to it."""
    async with store.reading() as session:
        rule = await rule_in_level(session, level, rule_id)
        tenant = await resolve_level(session, level)
        lv = level_context(level, tenant, await catalog.list_rules(session, rule.tenant_id))
    ids = [r.id for r in lv["rules"]]
    return render(
        request,
        "admin/partials/rule_row.html",
        {"rule": rule, "level": level, "index": ids.index(rule.id), "lv": lv, "focus_row": True},
    )


class RulesController(Controller):
    path = "/admin/rules"

    @get("/")
    async def rules_page(self, request: AnyRequest, store: StoreAccess) -> Template:
        async with store.reading() as session:
            levels = [level_context(GLOBAL, None, await catalog.list_rules(session, None))]
            tenants = visible_tenants(request, await tenant_store.list_tenants(session))
            for tenant in tenants:
                levels.append(
                    level_context(str(tenant.id), tenant, await catalog.list_rules(session, tenant.id))
                )
            choices = await editor_choices(session)
            drift = await config_drift(session)
        # A filter hides rows but keeps every rule's number: # is always the evaluation order.
        state = list_state(request.query_params)
        wanted = state["q"]
        for lv in levels:
            page_level(lv, state)
        return render(
            request,
            "admin/rules.html",
            {
                "rule_filter": wanted,
                "levels": levels,
                "tenants": tenants,
                "try_form": {},
                "new_form": {"enabled": "on"},
                "drift": drift,
                **choices,
            },
        )

    async def _level_section(
        self,
        request: AnyRequest,
        level: str,
        *,
        new_form: dict[str, Any] | None = None,
        new_errors: dict[str, str] | None = None,
        changed_id: int | None = None,
        notice: str | None = None,
        focus: str | None = None,
        store: StoreAccess,
    ) -> Template:
        """The level's section; `notice` names what just changed (with its number when `changed_id` is
        given) and any warning about rules that can never match; `focus` is where keyboard focus goes."""
        async with store.reading() as session:
            tenant = await resolve_level(session, level)
            rules = await catalog.list_rules(session, tenant.id if tenant else None)
            choices = await editor_choices(session)
        lv = level_context(level, tenant, rules)
        state = state_from_page_url(request)
        page_level(lv, state, show_id=changed_id)
        number = next((n for n, r in enumerate(rules, start=1) if r.id == changed_id), None)
        if notice and number is not None:
            notice = notice.format(rule=rule_label(number, rules[number - 1]))
            if not any(r.id == changed_id for _, r in lv["shown"]):
                notice += f" It does not contain “{state['q']}”, so the filter hides it."
        warning = None
        if changed_id in lv["shadows"]:
            by, match = lv["shadows"][changed_id]
            warning = (
                f"Rule #{number} can never match: rule #{by} ({match}) above it catches its requests first."
            )
        return render(
            request,
            "admin/partials/rule_level.html",
            {
                "lv": lv,
                "new_form": new_form or {"enabled": "on"},
                "new_errors": new_errors or {},
                "level_notice": notice,
                "level_warning": warning,
                "focus": focus,
                **choices,
            },
            status=422 if new_errors else 200,
            # The address bar follows the page shown (a move can cross a page boundary), so a reload or
            # the next re-render keeps it.
            headers={"HX-Replace-Url": state_url(state)},
        )

    @post("/{level:str}")
    async def create(self, request: AnyRequest, level: str, store: StoreAccess) -> Template:
        form = Form(await request.form())
        draft = read_rule_form(form)
        place = read_placement(form, default="bottom")
        if form.ok:
            try:
                async with store.mutating() as session:
                    tenant = await resolve_level(session, level)
                    rule = await catalog.create_rule(
                        session, draft, tenant_id=tenant.id if tenant else None, actor=actor(request)
                    )
                    if place.where != "bottom":
                        await catalog.place_rule(
                            session, rule.id, place.where, place.anchor, actor=actor(request)
                        )
                return await self._level_section(
                    request,
                    level,
                    changed_id=rule.id,
                    notice="Added {rule}.",
                    focus=f"#rule-{rule.id}",
                    store=store,
                )
            except catalog.CatalogError as exc:
                form.error(form_field(exc.field), sentence(exc.message))
        return await self._level_section(
            request, level, new_form=form.values, new_errors=form.errors, store=store
        )

    @get("/{level:str}/{rule_id:int}/edit")
    async def edit_row(self, request: AnyRequest, level: str, rule_id: int, store: StoreAccess) -> Template:
        return await rule_editor(request, level, rule_id, store=store)

    @get("/{level:str}/{rule_id:int}")
    async def show_row(self, request: AnyRequest, level: str, rule_id: int, store: StoreAccess) -> Template:
        return await rule_row(request, level, rule_id, store=store)

    @post("/{level:str}/{rule_id:int}")
    async def save_row(self, request: AnyRequest, level: str, rule_id: int, store: StoreAccess) -> Template:
        form = Form(await request.form())
        draft = read_rule_form(form)
        place = read_placement(form)
        if form.ok:
            try:
                async with store.mutating() as session:
                    row = await rule_in_level(session, level, rule_id)
                    # The form does not show the priority: the rule keeps its own.
                    draft = replace(draft, priority=row.priority)
                    await catalog.update_rule(session, rule_id, draft, actor=actor(request))
                    if place.where != "keep":
                        await catalog.place_rule(
                            session, rule_id, place.where, place.anchor, actor=actor(request)
                        )
                return await self._level_section(
                    request,
                    level,
                    changed_id=rule_id,
                    notice="Saved {rule}.",
                    focus=f"#rule-{rule_id}",
                    store=store,
                )
            except catalog.CatalogError as exc:
                form.error(form_field(exc.field), sentence(exc.message))
        return await rule_editor(request, level, rule_id, form.values, form.errors, store=store)

    @post("/{level:str}/{rule_id:int}/move")
    async def move(self, request: AnyRequest, level: str, rule_id: int, store: StoreAccess) -> Template:
        form = Form(await request.form())
        direction: Direction = "up" if form.raw("direction") == "up" else "down"
        async with store.mutating() as session:
            await rule_in_level(session, level, rule_id)
            await catalog.move_rule(session, rule_id, direction, actor=actor(request))
        # Focus stays on the button just pressed (it moved with its row), so ↑ ↑ ↑ keeps moving one rule.
        return await self._level_section(
            request,
            level,
            changed_id=rule_id,
            notice="Moved {rule}.",
            focus=f"#rule-{rule_id} .move-{direction}",
            store=store,
        )

    @post("/{level:str}/reorder")
    async def reorder(self, request: AnyRequest, level: str, store: StoreAccess) -> Template:
        """The order a drag and drop left (every rule id of the level, top first); the keyboard way is ↑/↓."""
        form = Form(await request.form())
        raw = form.raw("order")
        ids = [int(part) for part in raw.split(",") if part.strip().isdigit()][:10_000]
        moved = form.integer("moved", maximum=2**62, label="Rule")
        # A drop names the row it landed on: a filtered or paged table does not show the whole level.
        where = form.raw("where")
        anchor = form.integer("anchor", maximum=2**62, label="Rule")
        try:
            async with store.mutating() as session:
                tenant = await resolve_level(session, level)
                if moved and anchor and where in ("before", "after"):
                    await rule_in_level(session, level, moved)
                    await catalog.place_rule(session, moved, where, anchor, actor=actor(request))
                else:
                    await catalog.reorder_rules(
                        session, tenant.id if tenant else None, ids, actor=actor(request)
                    )
        except catalog.CatalogError as exc:
            return await self._level_section(request, level, notice=sentence(exc.message), store=store)
        return await self._level_section(
            request,
            level,
            changed_id=moved,
            notice="Moved {rule}." if moved else "Reordered.",
            focus=f"#rule-{moved}" if moved else None,
            store=store,
        )

    @post("/{level:str}/{rule_id:int}/delete")
    async def delete(self, request: AnyRequest, level: str, rule_id: int, store: StoreAccess) -> Template:
        async with store.mutating() as session:
            rule = await rule_in_level(session, level, rule_id)
            shown = format_match(rule.match, rule.match_kind)
            await catalog.delete_rule(session, rule_id, actor=actor(request))
        return await self._level_section(request, level, notice=f"Deleted the rule {shown}.", store=store)

    @post("/{level:str}/validate")
    async def validate(self, request: AnyRequest, level: str, store: StoreAccess) -> Template:
        """Problems with a rule being typed: bad pattern, unknown target or chain, bad numbers."""
        form = Form(await request.form())
        rule = read_rule_form(form)
        problems = [f"{name}: {message}" for name, message in form.errors.items() if name != "match"]
        async with store.reading() as session:
            tenant = await resolve_level(session, level)
            known = await catalog.known_names(session)
            rules = await catalog.list_rules(session, tenant.id if tenant else None)
        editing_id = form.integer("rule_id", maximum=2**62, label="Rule")
        editing = next((r for r in rules if r.id == editing_id), None)
        place = read_placement(form, default="keep" if editing else "bottom")
        if "match" in form.errors and not rule.match:
            problems.insert(0, "match: " + form.errors["match"])
        # The same rule check config apply and the catalog run (config/validate/: rule_issues).
        for issue in rule_issues(rule, known):
            if issue.path == "match":
                if rule.match:  # an empty one is the form's to report (or is still being typed)
                    problems.insert(0, f"match: {issue.message}")
            else:
                problems.append(f"{form_field(issue.path or 'target')}: {issue.message}")
        warnings: list[str] = []
        if rule.match and not any(p.startswith("match:") for p in problems):
            warnings = order_warnings(rules, rule, landing_index(rules, place, editing), editing)
        return render(
            request, "admin/partials/rule_validation.html", {"problems": problems, "warnings": warnings}
        )

    @post("/try")
    async def try_it(self, request: AnyRequest, store: StoreAccess) -> Template:
        form = Form(await request.form())
        model = form.text("model", required=True, max_len=300, label="Model") or ""
        tool = form.text("tool", max_len=200, label="Tool name")
        facts_input = form.integer("input_tokens", maximum=100_000_000, label="Input tokens") or 0
        member = form.text("member", max_len=200, label="Member")
        user_id = form.text("user_id", max_len=500, label="Session")
        budget = form.integer("budget_used_pct", maximum=10_000, label="Budget used (%)")
        tenant_id = form.integer("tenant_id", maximum=2**62, label="Tenant")
        explanation = None
        if form.ok:
            config = await store.routing_config()
            if config is None:
                form.error("form", "The routing configuration is not loaded yet; try again in a moment.")
            else:
                sample = sample_request(
                    model,
                    thinking="enabled" if form.checkbox("thinking") else None,
                    tools=1 if form.checkbox("tools") else 0,
                    tool_names=[tool] if tool else (),
                    stream=form.checkbox("stream"),
                    user_id=user_id,
                )
                facts = request_facts(sample, input_tokens=facts_input, member=member, budget_used_pct=budget)
                explanation = explain(config, tenant_id, facts).to_dict()
        return render(
            request,
            "admin/partials/rule_try.html",
            {"result": explanation, "errors": form.errors},
            status=422 if form.errors else 200,
        )
