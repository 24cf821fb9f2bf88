"""Settings for inbound webhooks: endpoints, their signing secrets, and recent deliveries.

Creating an endpoint shows its URL and first secret once; neither can be shown again (the
catalog keeps only the URL token's hash). Rotating adds a secret and lets the old ones verify
for ROTATION_GRACE more, so the sender can switch over; revoking a secret stops it at once.
Owners and admins manage; members see endpoints and deliveries. Every id in a path is
looked up within the current tenant, so another tenant's ids are not found (404).
"""

from __future__ import annotations

from datetime import timedelta

from fasthtml.common import (
    H3,
    APIRouter,
    Article,
    Code,
    Div,
    Form,
    Li,
    Option,
    Pre,
    Script,
    Section,
    Select,
    Small,
    Span,
    Strong,
    Tr,
    Ul,
)
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.billing import usage
from app.billing.limits import require_room
from app.ui.components import SettingsHeader, SettingsTabs
from app.ui.icons import Icon
from app.ui.kit import (
    Badge,
    Button,
    Callout,
    Card,
    Cell,
    EmptyState,
    Field,
    PanelAction,
    StatusBadge,
    Table,
    Toasts,
    When,
    confirming,
)
from app.ui.layout import Page
from app.ui.time import workspace_zone
from app.web.audit import record
from app.web.permissions import can, require
from app.webhooks.inbound import SOURCES, accept, test_delivery
from app.work.jobs import job_manager
from tenants import webhooks as store

rt = APIRouter()
ROTATION_GRACE = timedelta(hours=24)
DELIVERIES_SHOWN = 20
PANEL = "#webhooks-panel"


def _url(req: Request, source: str, token: str) -> str:
    return f"{req.app.state.settings.base_url}/webhooks/{source}/{token}"


def Copyable(label: str, value: str, name: str):
    """A value to copy, with a button that copies it (static/copy.js: no inline script)."""
    code_id = f"shown-once-{name}"
    return Div(
        Div(
            Strong(label),
            Button("Copy", data_copy=code_id, variant="outline", size="sm"),
            cls="row-between",
        ),
        Pre(Code(value, id=code_id)),
    )


def ShownOnce(url: str, secret: str, source: str):
    """The new URL and/or secret, with a ready command to try the demo. It sits outside the
    panel and arrives out of band, so the panel's own updates (a test event, a rotation, a
    revocation) leave it alone; it stays until dismissed or replaced by a newer secret."""
    example = f"uv run scripts/send_webhook.py '{url}' '{secret}' 'Hello from my terminal'"
    return Article(  # an <article>: a self-contained piece, kept until dismissed
        Callout(
            Strong("Copy these now: they will not be shown again."), tone="warning", icon="danger"
        ),
        *([Copyable("Endpoint URL", url, "url")] if url else []),
        Copyable("Signing secret", secret, "secret"),
        *([Copyable("Try it", example, "example")] if url and source == "demo" else []),
        Button("I have stored them: dismiss", data_dismiss="shown-once", variant="secondary"),
        id="shown-once",
        cls="card",
        hx_swap_oob="true",
    )


def ActionButton(label: str, path: str, **kw):
    return PanelAction(label, path, PANEL, **kw)


def SecretItem(secret: dict, can_manage: bool, zone):
    expiring = secret["expires_at"]
    revoke = ActionButton(
        "Revoke",
        f"/settings/webhooks/secrets/{secret['id']}/revoke",
        **confirming(
            "Deliveries signed with this secret will be refused at once.",
            title="Revoke this secret?",
            action="Revoke",
        ),
    )
    return Li(
        Span(
            Badge("Expiring", "warning") if expiring else Badge("Current", "success"),
            Small(" Created ", When(secret["created_at"], zone)),
            Small(" · expires ", When(expiring, zone)) if expiring else "",
        ),
        revoke if can_manage else "",
        cls="row-between",
    )


def SecretList(secrets: list[dict], can_manage: bool, zone):
    if not secrets:
        return Callout(
            "No live secret: deliveries are refused until you rotate.", tone="danger", icon="danger"
        )
    return Ul(*[SecretItem(s, can_manage, zone) for s in secrets], cls="secret-list")


def EndpointCard(req: Request, endpoint: dict, secrets: list[dict], can_manage: bool, zone):
    base = f"/settings/webhooks/{endpoint['id']}"
    hint = _url(req, endpoint["source"], endpoint["token_hint"] + "…")
    actions = (
        Div(
            ActionButton("Send test event", f"{base}/test", icon="bolt"),
            ActionButton("Rotate secret", f"{base}/rotate", icon="sync"),
            ActionButton(
                "Revoke endpoint",
                f"{base}/revoke",
                **confirming(
                    "The URL stops working for good; senders get 404.",
                    title="Revoke this endpoint?",
                    action="Revoke endpoint",
                ),
            ),
            cls="btn-group",
        )
        if can_manage
        else ""
    )
    return Section(
        Div(
            H3(Icon("webhook"), " ", endpoint["source"].capitalize()),
            Small("Created ", When(endpoint["created_at"], zone), cls="muted"),
            cls="row-between",
        ),
        Pre(Code(hint)),
        SecretList(secrets, can_manage, zone),
        actions,
        cls="endpoint",
    )


def CreateEndpointForm(available: list[str]):
    if not available:
        return ""
    return Form(
        Field(
            "Source",
            Select(*[Option(s, value=s) for s in available], name="source"),
            id="webhook-source",
            cls="field-narrow",
        ),
        Button("Create endpoint", type="submit", icon="plus"),
        hx_post="/settings/webhooks",
        hx_target=PANEL,
        hx_swap="outerHTML",
        cls="inline-form",
    )


def DeliveryRow(event: dict, zone):
    status, tries = event["status"], event["attempts"]
    return Tr(
        Cell(When(event["received_at"], zone), label="Received"),
        Cell(event["source"], label="Source"),
        Cell(
            Span(event["event_type"], " ", Small(event["event_key"]), cls="truncate"),
            label="Event",
            title=event["event_key"],
        ),
        Cell(
            StatusBadge("delivery", status),
            Small(f" {tries} attempt{'s' if tries != 1 else ''}"),
            label="Status",
        ),
        Cell(Small(event["error"] or "", cls="error"), label="Error"),
    )


def Deliveries(events: list[dict], zone):
    """Recent deliveries; polls while any of them still waits to be handled."""
    waiting = any(e["status"] == "received" for e in events)
    poll = {"hx_get": "/settings/webhooks/deliveries", "hx_trigger": "every 2s"} if waiting else {}
    body = (
        Table(
            ("Received", "Source", "Event", "Status", "Error"),
            *[DeliveryRow(e, zone) for e in events],
            stack=True,
        )
        if events
        else EmptyState(
            "No deliveries yet",
            "Events sent to your endpoints show up here, with how each was handled.",
            icon="inbox",
        )
    )
    return Div(body, id="webhook-deliveries", hx_swap="outerHTML", **poll)


def WebhooksPanel(req: Request, auth):
    """The settings section: endpoints, secrets, recent deliveries."""
    catalog, conn = req.app.state.catalog, auth.db.conn
    can_manage = can(auth, "webhooks", "manage")
    zone = workspace_zone(auth.db)
    endpoints = store.tenant_endpoints(catalog, auth.tenant_id)
    cards = [
        EndpointCard(req, e, store.secret_overview(conn, e["id"]), can_manage, zone)
        for e in endpoints
    ]
    taken = {e["source"] for e in endpoints}
    create = CreateEndpointForm([s for s in SOURCES if s not in taken]) if can_manage else ""
    return Div(
        Card(
            *cards
            or [
                EmptyState(
                    "No endpoints yet",
                    "Create one to get a URL and a signing secret for another service.",
                    icon="webhook",
                )
            ],
            create,
            title="Endpoints",
            description="Other services post events to these URLs; each delivery is verified, "
            "stored once and handled in the background.",
        ),
        Card(
            Deliveries(store.recent_events(conn, DELIVERIES_SHOWN), zone),
            title="Recent deliveries",
        ),
        id="webhooks-panel",
    )


def _endpoint(req: Request, auth, endpoint_id: str) -> dict:
    endpoint = store.tenant_endpoint(req.app.state.catalog, auth.tenant_id, endpoint_id)
    if endpoint is None:
        raise HTTPException(404)
    return endpoint


@rt.get("/settings/webhooks")
def webhooks_page(req: Request, auth):
    return Page(
        req,
        "Webhooks",
        SettingsHeader(),
        SettingsTabs("/settings/webhooks", auth),
        Div(id="shown-once"),  # where a new URL and secret appear (ShownOnce)
        WebhooksPanel(req, auth),
        Script(src="/static/copy.js", defer=True),
    )


@rt.get("/settings/webhooks/deliveries")
def deliveries(auth):
    return Deliveries(store.recent_events(auth.db.conn, DELIVERIES_SHOWN), workspace_zone(auth.db))


@rt.post("/settings/webhooks")
def create_endpoint(req: Request, auth, source: str = ""):
    require(auth, "webhooks", "manage")
    if source not in SOURCES:
        raise HTTPException(400, "Choose a source from the list.")
    catalog = req.app.state.catalog
    require_room(auth, "webhook_endpoints", usage.webhook_endpoints(catalog, auth.tenant_id))
    created = store.create_endpoint(req.app.state.catalog, auth.tenant_id, source)
    if created is None:
        raise HTTPException(409, "There is already an endpoint for that source.")
    endpoint_id, token = created
    _, secret = store.add_secret(auth.db.conn, endpoint_id)
    record(req, auth, "webhook.endpoint_created", source=source, endpoint=endpoint_id)
    shown = ShownOnce(_url(req, source, token), secret, source)
    return WebhooksPanel(req, auth), shown, Toasts("Endpoint created.")


@rt.post("/settings/webhooks/{endpoint_id}/rotate")
def rotate_secret(req: Request, auth, endpoint_id: str):
    require(auth, "webhooks", "manage")
    endpoint = _endpoint(req, auth, endpoint_id)
    grace = ROTATION_GRACE.total_seconds()
    _, secret = store.rotate_secret(auth.db.conn, endpoint["id"], grace)
    record(req, auth, "webhook.secret_rotated", endpoint=endpoint["id"])
    shown = ShownOnce("", secret, endpoint["source"])
    hours = round(grace / 3600)
    return (
        WebhooksPanel(req, auth),
        shown,
        Toasts(f"New secret made; old ones expire in {hours} h."),
    )


@rt.post("/settings/webhooks/secrets/{secret_id}/revoke")
def revoke_secret(req: Request, auth, secret_id: str):
    require(auth, "webhooks", "manage")
    endpoint_id = store.secret_endpoint(auth.db.conn, secret_id)
    if endpoint_id is None:
        raise HTTPException(404)
    store.revoke_secret(auth.db.conn, secret_id)
    record(req, auth, "webhook.secret_revoked", endpoint=endpoint_id, secret=secret_id)
    return WebhooksPanel(req, auth), Toasts("Secret revoked.")


@rt.post("/settings/webhooks/{endpoint_id}/revoke")
def revoke_endpoint(req: Request, auth, endpoint_id: str):
    require(auth, "webhooks", "manage")
    endpoint = _endpoint(req, auth, endpoint_id)
    store.revoke_endpoint(req.app.state.catalog, auth.tenant_id, endpoint["id"])
    store.revoke_endpoint_secrets(auth.db.conn, endpoint["id"])
    record(req, auth, "webhook.endpoint_revoked", endpoint=endpoint["id"])
    return WebhooksPanel(req, auth), Toasts("Endpoint revoked.")


@rt.post("/settings/webhooks/{endpoint_id}/test")
def send_test_event(req: Request, auth, endpoint_id: str):
    """Sign a sample event with the newest secret and put it through the real receiver."""
    require(auth, "webhooks", "manage")
    endpoint = _endpoint(req, auth, endpoint_id)
    secrets = store.live_secrets(auth.db.conn, endpoint["id"])
    if not secrets:
        raise HTTPException(409, "This endpoint has no live secret. Rotate to make one.")
    headers, body = test_delivery(endpoint["source"], secrets[0])
    endpoint = {**endpoint, "tenant_id": auth.tenant_id}
    receipt = accept(job_manager(req.app), endpoint, headers, body, db=auth.db)
    if receipt.status != 200:
        message = f"The test event was refused: {receipt.message}."
        return WebhooksPanel(req, auth), Toasts(message, kind="error")
    return WebhooksPanel(req, auth), Toasts("Test event sent."), receipt.task
