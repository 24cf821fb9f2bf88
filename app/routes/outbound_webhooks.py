"""Settings → Outbound webhooks: URLs this workspace wants events posted to, and the log.

Registering asks for a URL and the event types (the registry in app/webhooks/outbound.py);
the signing secret is shown once. The log lists recent deliveries with their status, the
last answer's code and duration, and a button to send one again. Roles with
`webhooks.manage` register, turn on and off, delete and replay; everyone sees the page.
Every id in a path is looked up in this workspace's own database, so another workspace's
ids are not found (404).
"""

from __future__ import annotations

from fasthtml.common import (
    APIRouter,
    Code,
    Div,
    Fieldset,
    Form,
    Input,
    Label,
    Legend,
    P,
    Script,
    Tr,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.ui.components import SettingsTabs, Toasts
from app.ui.kit import (
    Badge,
    Button,
    Card,
    Cell,
    EmptyState,
    Field,
    PageHeader,
    Table,
    When,
    confirming,
)
from app.ui.layout import Page
from app.ui.shown_once import ShownOnce
from app.web.audit import record
from app.web.permissions import can, require
from app.webhooks import outbound
from app.work.jobs import job_manager

rt = APIRouter()
BASE = "/settings/outbound-webhooks"
PANEL = "#outbound-panel"
SHOWN = 20
DELIVERY_TONES = {"pending": "info", "succeeded": "success", "failed": "danger"}
LOG_COLUMNS = ("Made", "Event", "URL", "Status", "Code", "Took", "Error", "")


def Action(label: str, path: str, variant: str = "outline", **kw):
    return Button(
        label,
        variant=variant,
        size="sm",
        hx_post=path,
        hx_target=PANEL,
        hx_swap="outerHTML",
        **kw,
    )


def EndpointCard(endpoint: dict, can_manage: bool):
    base = f"{BASE}/{endpoint['id']}"
    enabled = endpoint["status"] == "enabled"
    toggle = (
        Action("Turn off", f"{base}/disable")
        if enabled
        else Action("Turn on", f"{base}/enable", variant="primary")
    )
    delete = Action(
        "Delete",
        f"{base}/delete",
        variant="danger-outline",
        **confirming(
            "The endpoint and its delivery log will be deleted.",
            title="Delete this endpoint?",
            action="Delete",
        ),
    )
    return Card(
        P(
            Badge("on", "success") if enabled else Badge("off", "danger"),
            f" {endpoint['disabled_reason']}" if endpoint["disabled_reason"] else "",
        ),
        P(", ".join(endpoint["event_types"]), cls="muted"),
        title=endpoint["url"],
        description=endpoint["description"],
        actions=[toggle, delete] if can_manage else [],
    )


def EndpointForm(values: dict | None = None, errors: dict | None = None):
    values, errors = values or {}, errors or {}
    chosen = set(values.get("events", []))
    return Form(
        Field(
            "URL",
            Input(
                name="url",
                type="url",
                value=values.get("url", ""),
                maxlength=outbound.URL_MAX,
                placeholder="https://example.com/webhooks",
            ),
            errors.get("url"),
        ),
        Field(
            "Description",
            Input(
                name="description",
                value=values.get("description", ""),
                maxlength=outbound.DESCRIPTION_MAX,
            ),
            errors.get("description"),
            hint="Optional: what receives these events.",
        ),
        Fieldset(
            Legend("Events"),
            *[
                Label(
                    Input(type="checkbox", name="events", value=name, checked=name in chosen),
                    Code(name),
                    f" {event.description}",
                )
                for name, event in outbound.EVENTS.items()
            ],
            P(errors["events"], cls="field-error", role="alert") if "events" in errors else "",
            cls="field",
        ),
        Button("Add endpoint", type="submit"),
        hx_post=BASE,
        hx_target=PANEL,
        hx_swap="outerHTML",
        id="outbound-form",
    )


def DeliveryRow(delivery: dict, can_manage: bool):
    status = delivery["status"]
    replay = Action("Send again", f"{BASE}/deliveries/{delivery['id']}/replay")
    duration = f"{delivery['duration_ms']} ms" if delivery["duration_ms"] is not None else ""
    return Tr(
        Cell(When(delivery["created_at"]), label="Made"),
        Cell(Code(delivery["event_type"]), label="Event"),
        Cell(delivery["url"], label="URL"),
        Cell(
            Badge(status, DELIVERY_TONES.get(status, "neutral"), live=status == "pending"),
            f" ({delivery['attempts']})",
            label="Status",
        ),
        Cell(str(delivery["response_status"] or ""), label="Code", cls="num"),
        Cell(duration, label="Took", cls="num"),
        Cell(delivery["error"] or "", label="Error"),
        Cell(replay if can_manage and status != "pending" else "", cls="actions"),
    )


def DeliveryLog(deliveries: list[dict], can_manage: bool):
    if not deliveries:
        return EmptyState(
            "No deliveries yet.", "Events appear here as they are sent.", icon="webhook"
        )
    rows = [DeliveryRow(d, can_manage) for d in deliveries]
    return Table(LOG_COLUMNS, *rows, stack=True, caption="Delivery log")


def OutboundPanel(auth, form=None):
    can_manage = can(auth, "webhooks", "manage")
    endpoints = outbound.endpoints(auth.db)
    deliveries = outbound.deliveries(auth.db, SHOWN)
    return Div(
        P(
            "We POST events to these URLs, signed per the Standard Webhooks specification"
            " (webhook-id, webhook-timestamp, webhook-signature), retrying for about a day.",
            cls="muted",
        ),
        *[EndpointCard(e, can_manage) for e in endpoints],
        Card((form or EndpointForm()), title="New endpoint") if can_manage else "",
        Card(DeliveryLog(deliveries, can_manage), title="Delivery log", flush=bool(deliveries)),
        id="outbound-panel",
    )


def ShownSecret(secret: str):
    return ShownOnce("signing secret", secret, "new-signing-secret", "shown-secret")


def _endpoint(auth, outbound_id: str) -> dict:
    found = outbound.endpoint(auth.db, outbound_id)
    if found is None:
        raise HTTPException(404)
    return found


@rt.get(BASE)
def outbound_page(req: Request, auth):
    return Page(
        req,
        "Outbound webhooks",
        PageHeader("Settings", "Where this workspace's events are sent."),
        SettingsTabs(BASE, auth),
        Div(id="shown-secret"),
        OutboundPanel(auth),
        Script(src="/static/copy.js", defer=True),
    )


def _checked(req: Request, url: str, description: str, events: list) -> tuple[dict, dict]:
    url, description = url.strip(), description.strip()
    chosen = [e for e in events if isinstance(e, str)]
    errors = {}
    if not url:
        errors["url"] = "Enter the URL to post events to."
    elif len(url) > outbound.URL_MAX:
        errors["url"] = f"Keep the URL under {outbound.URL_MAX} characters."
    elif problem := outbound.policy_for(req.app.state.settings).check_url(url):
        errors["url"] = problem
    if len(description) > outbound.DESCRIPTION_MAX:
        errors["description"] = f"Keep it under {outbound.DESCRIPTION_MAX} characters."
    if not chosen:
        errors["events"] = "Choose at least one event."
    elif any(e not in outbound.EVENTS for e in chosen):
        errors["events"] = "Choose events from the list."
    return {"url": url, "description": description, "events": chosen}, errors


@rt.post(BASE)
def create_endpoint(req: Request, auth, data: dict):
    require(auth, "webhooks", "manage")
    url, description = data.get("url", ""), data.get("description", "")
    events = data.get("events") or []
    events = events if isinstance(events, list) else [events]
    if not isinstance(url, str) or not isinstance(description, str):
        raise HTTPException(400, "Send the form's fields as text.")
    values, errors = _checked(req, url, description, events)
    if errors:
        return OutboundPanel(auth, EndpointForm(values, errors))
    endpoint_id = outbound.create_endpoint(
        auth.db, values["url"], values["events"], values["description"]
    )
    secret = _endpoint(auth, endpoint_id)["secret"]
    record(req, auth, "outbound_webhook.created", endpoint=endpoint_id, events=values["events"])
    return OutboundPanel(auth), ShownSecret(secret), Toasts("Endpoint added.")


@rt.post(BASE + "/{outbound_id}/enable")
def enable_endpoint(req: Request, auth, outbound_id: str):
    require(auth, "webhooks", "manage")
    endpoint = _endpoint(auth, outbound_id)
    outbound.set_status(auth.db, endpoint["id"], "enabled")
    record(req, auth, "outbound_webhook.enabled", endpoint=endpoint["id"])
    return OutboundPanel(auth), Toasts("Endpoint turned on.")


@rt.post(BASE + "/{outbound_id}/disable")
def disable_endpoint(req: Request, auth, outbound_id: str):
    require(auth, "webhooks", "manage")
    endpoint = _endpoint(auth, outbound_id)
    outbound.set_status(auth.db, endpoint["id"], "disabled", "Turned off by hand.")
    record(req, auth, "outbound_webhook.disabled", endpoint=endpoint["id"])
    return OutboundPanel(auth), Toasts("Endpoint turned off.")


@rt.post(BASE + "/{outbound_id}/delete")
def delete_endpoint(req: Request, auth, outbound_id: str):
    require(auth, "webhooks", "manage")
    endpoint = _endpoint(auth, outbound_id)
    outbound.delete_endpoint(auth.db, endpoint["id"])
    record(req, auth, "outbound_webhook.deleted", endpoint=endpoint["id"])
    return OutboundPanel(auth), Toasts("Endpoint deleted.")


@rt.post(BASE + "/deliveries/{delivery_id}/replay")
def replay_delivery(req: Request, auth, delivery_id: str):
    require(auth, "webhooks", "manage")
    again = outbound.replay(job_manager(req.app), auth.db, delivery_id)
    if again is None:
        raise HTTPException(404)
    record(req, auth, "outbound_webhook.replayed", delivery=delivery_id, again=again)
    return OutboundPanel(auth), Toasts("Delivery queued again.")
