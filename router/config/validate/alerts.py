"""An alert: what it watches (budgets, error rates, cool-downs), its thresholds and scope, and the webhook
it tells."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from router.config.drafts import AlertDraft, ValidationIssue
from router.config.fields import http_url_error, name_error
from router.config.lengths import ENV_REF_CHARS, TARGET_CHARS, WEBHOOK_HOST_CHARS, length_error
from router.config.validate.issues import Issues, is_number, is_whole

ALERT_WATCHES = ("budget", "error_rate", "cooldown")
# Whose budgets a budget alert watches (the budgets table's subject kinds).
ALERT_SUBJECTS = ("tenant", "member", "key")
MAX_ALERT_THRESHOLDS = 10
MAX_ALERT_WINDOW_MINUTES = 60
MAX_WEBHOOK_CHARS = 2000
# Percent: a budget may be overrun (the last request admitted passes it by its own cost), so thresholds past
# 100 make sense there; an error rate is at most 100.
MAX_BUDGET_THRESHOLD = 1000.0


def webhook_error(url: Any) -> str | None:
    """An http(s) URL (http_url_error) of a sane length. Messages never
    repeat the URL: its path or query may be the hook's token."""
    if not isinstance(url, str) or not url.strip():
        return "must be an http:// or https:// URL"
    if len(url) > MAX_WEBHOOK_CHARS:
        return f"must be at most {MAX_WEBHOOK_CHARS} characters"
    problem = http_url_error(url, credential_hint="use the alert's secret to sign instead")
    if problem is None and len(urlsplit(url).netloc) > WEBHOOK_HOST_CHARS:
        # Pages show the host (and port): it is kept in clear beside the encrypted URL.
        return f"must have a host of at most {WEBHOOK_HOST_CHARS} characters"
    return problem


def alert_issues(a: AlertDraft) -> list[ValidationIssue]:
    """Every problem with one alert (paths: name, watch, webhook, secret, thresholds[I], tenants[I],
    subjects[I], targets[I], window_minutes, min_requests). Tenant names are checked against the database
    by the store (a file need not list the tenants it alerts on)."""
    issues = Issues()
    issues.add("name", name_error(a.name, "alert name"))
    if a.watch not in ALERT_WATCHES:
        issues.add("watch", f"must be one of {', '.join(ALERT_WATCHES)}, not {a.watch!r}")
    issues.add("webhook", webhook_error(a.webhook))
    for path, ref in (("webhook", a.webhook_ref), ("secret", a.secret_ref)):
        if (too_long := length_error(ref, ENV_REF_CHARS)) is not None:
            issues.add(path, f"the ${{ENV}} name {too_long}")
    if a.secret is not None and not (isinstance(a.secret, str) and 8 <= len(a.secret) <= 500):
        issues.add("secret", "must be 8 to 500 characters (or left out for unsigned messages)")
    if a.watch == "cooldown":
        if a.thresholds:
            issues.add("thresholds", "a cooldown alert has no thresholds: it fires when a target is cooled")
    elif a.watch in ALERT_WATCHES:
        _threshold_issues(issues, a)
    if a.watch == "budget":
        _budget_scope_issues(issues, a)
    else:
        _target_scope_issues(issues, a)
    if not is_whole(a.window_minutes, 1, MAX_ALERT_WINDOW_MINUTES):
        issues.add("window_minutes", f"must be a whole number from 1 to {MAX_ALERT_WINDOW_MINUTES}")
    if not is_whole(a.min_requests, 1, 1_000_000):
        issues.add("min_requests", "must be a whole number from 1 to 1000000")
    return issues


def _threshold_issues(issues: Issues, a: AlertDraft) -> None:
    if not a.thresholds:
        issues.add("thresholds", "give at least one threshold in percent, e.g. [50, 80, 100]")
    if len(a.thresholds) > MAX_ALERT_THRESHOLDS:
        issues.add("thresholds", f"at most {MAX_ALERT_THRESHOLDS} thresholds")
    top = MAX_BUDGET_THRESHOLD if a.watch == "budget" else 100.0
    seen: set[float] = set()
    for i, value in enumerate(a.thresholds):
        if not is_number(value) or not 0 < value <= top:
            issues.add(f"thresholds[{i}]", f"must be a percentage above 0 and at most {top:g}, not {value!r}")
        elif value in seen:
            issues.add(f"thresholds[{i}]", f"{value:g} is listed twice")
        seen.add(value)


def _budget_scope_issues(issues: Issues, a: AlertDraft) -> None:
    """A budget alert is limited by tenants and subjects, never by targets."""
    if a.targets is not None:
        issues.add("targets", "budget alerts watch budgets, not targets (use tenants: to limit them)")
    if a.tenants is not None and not a.tenants:
        issues.add("tenants", "name at least one tenant, or leave tenants out for all")
    for i, name in enumerate(a.tenants or ()):
        issues.add(f"tenants[{i}]", name_error(name, "tenant name"))
    if a.subjects is not None and not a.subjects:
        issues.add("subjects", f"name at least one of {', '.join(ALERT_SUBJECTS)}, or leave it out")
    for i, kind in enumerate(a.subjects or ()):
        if kind not in ALERT_SUBJECTS:
            issues.add(f"subjects[{i}]", f"must be one of {', '.join(ALERT_SUBJECTS)}, not {kind!r}")


def _target_scope_issues(issues: Issues, a: AlertDraft) -> None:
    """An error-rate or cool-down alert is limited by targets, never by tenants or subjects."""
    if a.tenants is not None:
        issues.add("tenants", "only budget alerts are limited to tenants (use targets: for targets)")
    if a.subjects is not None:
        issues.add("subjects", "only budget alerts watch subjects (tenant, member, key)")
    if a.targets is None:
        return
    if not a.targets:
        issues.add("targets", "name at least one target, or leave targets out for all")
    for i, ref in enumerate(a.targets):
        if not isinstance(ref, str) or not ref.strip() or len(ref) > TARGET_CHARS:
            issues.add(
                f"targets[{i}]", f"must be a target ref or glob (e.g. openai/* ), 1-{TARGET_CHARS} characters"
            )
