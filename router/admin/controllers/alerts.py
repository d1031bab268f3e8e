"""Alerts: list, create, edit and delete webhooks told when a budget, an error rate or a cool-down crosses a
threshold; send a test message; and the recent deliveries (refreshed in place).

The webhook URL and the signing secret are write-only here: the page shows the webhook's host and whether
messages are signed, and a blank field on edit keeps what is stored.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from router.admin.auth import AdminNotFoundError
from router.admin.deps import actor
from router.admin.drift import config_drift
from router.admin.forms import Form
from router.admin.messages import sentence
from router.admin.web import form_page, render, see_other
from router.alerts.message import sample_body
from router.config.drafts import AlertDraft
from router.config.lengths import NAME_CHARS, TARGET_CHARS
from router.config.validate import ALERT_SUBJECTS, ALERT_WATCHES, alert_issues
from router.store import alerts as alert_store
from router.store.access import StoreAccess
from router.store.catalog import CatalogError
from router.store.crypto import CredentialCipher
from router.store.db import NotFoundError
from router.store.models import Alert, utcnow

AnyRequest = Request[Any, Any, Any]

WATCH_CHOICES = [
    ("budget", "Budget use (% of a tenant's, member's or key's budget)"),
    ("error_rate", "Error rate of a target (% of attempts failing)"),
    ("cooldown", "A target in cool-down"),
]
assert [w for w, _ in WATCH_CHOICES] == list(ALERT_WATCHES)
DELIVERIES_SHOWN = 50
_NUMBER = re.compile(r"^\d{1,4}(\.\d{1,2})?$")
# Fields of the form, and the draft paths whose problems they show (thresholds[2] -> thresholds).
FIELDS = ("name", "watch", "webhook", "secret", "thresholds", "tenants", "subjects", "targets",
          "window_minutes", "min_requests")  # fmt: skip


async def alert_or_404(session: Any, alert_id: int) -> Alert:
    try:
        return await alert_store.get_alert(session, alert_id)
    except NotFoundError as exc:
        raise AdminNotFoundError(f"There is no alert with id {alert_id}.") from exc


def _thresholds(form: Form) -> tuple[float, ...]:
    values: list[float] = []
    for part in form.lines("thresholds", max_items=20, max_len=10, label="Each threshold"):
        text = part.removesuffix("%").strip()
        if not _NUMBER.match(text):
            form.error("thresholds", f"Thresholds are percentages such as 50, 80, 100; {part!r} is not one.")
            return ()
        values.append(float(text))
    return tuple(values)


def read_alert(form: Form, *, editing: bool) -> tuple[AlertDraft, bool, bool]:
    """The draft the form describes, and whether the stored webhook / secret are kept (blank on edit)."""
    watch = form.raw("watch")
    webhook = form.raw("webhook")
    if not webhook and not editing:
        form.error("webhook", "Webhook URL is required.")
    secret = form.values.get("secret", "")
    keep_webhook = editing and not webhook
    keep_secret = editing and not secret and not form.checkbox("remove_secret")
    tenants = form.lines("tenants", max_items=100, max_len=NAME_CHARS, label="Each tenant")
    targets = form.lines("targets", max_items=100, max_len=TARGET_CHARS, label="Each target")
    subjects = [kind for kind in ALERT_SUBJECTS if form.checkbox(f"subject_{kind}")]
    if watch == "budget" and not subjects:
        form.error("subjects", "Pick whose budgets to watch: tenants, members or keys.")
    draft = AlertDraft(
        name=form.text("name", required=True, label="Name") or "",
        watch=watch,
        webhook=webhook or "https://kept.invalid/",
        thresholds=_thresholds(form) if watch != "cooldown" else (),
        tenants=tuple(tenants) if tenants and watch == "budget" else None,
        subjects=tuple(subjects) if subjects and watch == "budget" and len(subjects) < 3 else None,
        targets=tuple(targets) if targets and watch != "budget" else None,
        window_minutes=form.integer("window_minutes", minimum=1, maximum=60, label="Window") or 5,
        min_requests=form.integer("min_requests", minimum=1, maximum=1_000_000, label="Minimum attempts")
        or 10,
        secret=secret or None,
        enabled=form.checkbox("enabled"),
    )
    for issue in alert_issues(draft):
        field = issue.path.split("[", 1)[0].split(".", 1)[0]
        if field == "webhook" and keep_webhook:
            continue
        form.check(field if field in FIELDS else "form", issue.message)
    return draft, keep_webhook, keep_secret


def alert_form(alert: Alert) -> dict[str, Any]:
    """The stored alert as form values (the webhook and secret stay blank: write-only)."""
    values: dict[str, Any] = {
        "name": alert.name,
        "watch": alert.watch,
        "thresholds": ", ".join(f"{t:g}" for t in alert.thresholds or []),
        "tenants": ", ".join(alert.tenants or []),
        "targets": ", ".join(alert.targets or []),
        "window_minutes": alert.window_minutes,
        "min_requests": alert.min_requests,
        "enabled": "on" if alert.enabled else "",
    }
    for kind in ALERT_SUBJECTS:
        values[f"subject_{kind}"] = "on" if alert.subjects is None or kind in alert.subjects else ""
    return values


NEW_FORM: dict[str, Any] = {
    "watch": "budget",
    "thresholds": "50, 80, 100",
    "window_minutes": 5,
    "min_requests": 10,
    "enabled": "on",
    **{f"subject_{kind}": "on" for kind in ALERT_SUBJECTS},
}


def wake_sender(request: AnyRequest) -> None:
    """Send a queued message now rather than at the next poll (this process's alert service, if any)."""
    service = request.app.state.get("alerts")
    if service is not None:
        service.wake()


class AlertsController(Controller):
    path = "/admin/alerts"

    async def _list_page(
        self,
        request: AnyRequest,
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        *,
        store: StoreAccess,
    ) -> Template:
        async with store.reading() as session:
            alerts = await alert_store.list_alerts(session)
            deliveries = await alert_store.list_deliveries(session, limit=DELIVERIES_SHOWN)
            drift = await config_drift(session)
        return form_page(
            request,
            "admin/alerts.html",
            {
                "drift": drift,
                "alerts": alerts,
                "deliveries": deliveries,
                "watch_choices": WATCH_CHOICES,
                "subjects": ALERT_SUBJECTS,
            },
            form=form or NEW_FORM,
            errors=errors,
        )

    @get("/")
    async def list_alerts(self, request: AnyRequest, store: StoreAccess) -> Template:
        return await self._list_page(request, store=store)

    @get("/deliveries")
    async def deliveries(
        self, request: AnyRequest, alert_id: int | None = None, *, store: StoreAccess
    ) -> Template:
        """The recent deliveries table alone (the pages refresh it in place)."""
        async with store.reading() as session:
            rows = await alert_store.list_deliveries(session, limit=DELIVERIES_SHOWN, alert_id=alert_id)
        return render(
            request,
            "admin/partials/alert_deliveries.html",
            {"deliveries": rows, "alert_id": alert_id},
        )

    @post("/")
    async def create_alert(
        self, request: AnyRequest, store: StoreAccess, cipher: CredentialCipher
    ) -> Template | Redirect:
        form = Form(await request.form())
        draft, _, _ = read_alert(form, editing=False)
        if form.ok:
            try:
                async with store.mutating() as session:
                    alert = await alert_store.create_alert(
                        session, draft, cipher=cipher, actor=actor(request)
                    )
                return see_other(f"/admin/alerts/{alert.id}", "created")
            except CatalogError as exc:
                form.error(exc.field if exc.field in FIELDS else "form", sentence(exc.message))
        return await self._list_page(request, _without_secrets(form.values), form.errors, store=store)

    async def _alert_page(
        self,
        request: AnyRequest,
        alert_id: int,
        form: dict[str, Any] | None = None,
        errors: Any = None,
        *,
        store: StoreAccess,
    ) -> Template:
        async with store.reading() as session:
            alert = await alert_or_404(session, alert_id)
            deliveries = await alert_store.list_deliveries(session, limit=DELIVERIES_SHOWN, alert_id=alert_id)
        return form_page(
            request,
            "admin/alert.html",
            {
                "alert": alert,
                "deliveries": deliveries,
                "alert_id": alert_id,
                "watch_choices": WATCH_CHOICES,
                "subjects": ALERT_SUBJECTS,
            },
            form=form or alert_form(alert),
            errors=errors,
        )

    @get("/{alert_id:int}")
    async def alert_page(self, request: AnyRequest, alert_id: int, store: StoreAccess) -> Template:
        return await self._alert_page(request, alert_id, store=store)

    @post("/{alert_id:int}")
    async def update_alert(
        self, request: AnyRequest, alert_id: int, store: StoreAccess, cipher: CredentialCipher
    ) -> Template | Redirect:
        form = Form(await request.form())
        draft, keep_webhook, keep_secret = read_alert(form, editing=True)
        if form.ok:
            try:
                async with store.mutating() as session:
                    await alert_or_404(session, alert_id)
                    await alert_store.update_alert(
                        session,
                        alert_id,
                        draft,
                        cipher=cipher,
                        actor=actor(request),
                        keep_webhook=keep_webhook,
                        keep_secret=keep_secret,
                    )
                return see_other(f"/admin/alerts/{alert_id}", "saved")
            except CatalogError as exc:
                form.error(exc.field if exc.field in FIELDS else "form", sentence(exc.message))
        return await self._alert_page(
            request, alert_id, _without_secrets(form.values), form.errors, store=store
        )

    @post("/{alert_id:int}/delete")
    async def delete_alert(self, request: AnyRequest, alert_id: int, store: StoreAccess) -> Redirect:
        async with store.mutating() as session:
            await alert_or_404(session, alert_id)
            await alert_store.delete_alert(session, alert_id, actor=actor(request))
        return see_other("/admin/alerts", "deleted")

    @post("/{alert_id:int}/test")
    async def send_test(self, request: AnyRequest, alert_id: int, store: StoreAccess) -> Redirect:
        async with store.mutating() as session:
            alert = await alert_or_404(session, alert_id)
            await alert_store.enqueue_test(session, alert, sample_body(alert.name, alert.watch, utcnow()))
        wake_sender(request)
        return see_other(f"/admin/alerts/{alert_id}", "test_queued")


def _without_secrets(values: dict[str, str]) -> dict[str, str]:
    """A refused form comes back without the webhook and the secret typed into it (not echoed in HTML)."""
    return {k: v for k, v in values.items() if k not in ("webhook", "secret", "_csrf")}
