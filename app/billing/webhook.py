"""Stripe's webhooks: `POST /webhooks/stripe`, one endpoint for the whole Stripe account.

Accepting (`receive`, on the request): the raw body is verified with STRIPE_WEBHOOK_SECRET by
the `stripe` library (`Webhook.construct_event`: HMAC over the exact bytes, timestamps older
than TOLERANCE_SECONDS refused) before anything else reads it; then the event is stored under
its id in the host's sys_stripe_events together with the system job that handles it, in one
transaction, and acknowledged. A redelivery finds the id taken and gets 200 without a job; an
event of a type we do not handle is stored as `ignored` (Stripe stops sending it once it has
a 2xx). The answers are app/routes/webhooks.py's small JSON bodies.

Handling (the job `billing.event`): the event names a customer, the customer a workspace,
and the workspace's subscription is reconciled from Stripe (app/billing/reconcile.py), so the
order in which events arrive does not matter. A trial about to end also emails the owners.
The event's `processed` mark and that email's job are written in one transaction, so a retry
after a crash neither handles it twice nor mails twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import stripe

from app.billing.plans import plan
from app.billing.reconcile import reconcile, stamp
from app.settings import Settings
from app.webhooks.inbound import Receipt
from app.work.jobs import JobContext, JobManager
from tenants import billing
from tenants import jobs as job_store

EVENT_JOB = "billing.event"
EVENT_ATTEMPTS = 8  # with the default backoff, about 8 minutes of Stripe being unreachable
TOLERANCE_SECONDS = 300
EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,200}")
EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,100}")
HANDLED = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "invoice.paid",
        "invoice.payment_succeeded",  # older API versions' name for a paid invoice
        "invoice.payment_failed",
    }
)
TRIAL_ENDING = "customer.subscription.trial_will_end"


def receive(
    manager: JobManager, settings: Settings, headers: Mapping[str, str], body: bytes
) -> Receipt:
    """Verify, store once, and hand back the job to run after the response."""
    if not settings.stripe_webhook_secret:
        return Receipt(404, "not found")  # billing is not set up: there is no such endpoint
    try:
        event = stripe.Webhook.construct_event(
            body, headers.get("stripe-signature"), settings.stripe_webhook_secret, TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as error:
        return Receipt(401, f"the signature was not accepted: {error.user_message or error}"[:300])
    except (ValueError, TypeError, AttributeError, KeyError):  # not UTF-8, not a JSON object
        return Receipt(400, "the body is not a Stripe event")
    event_id, event_type = getattr(event, "id", None), getattr(event, "type", None)
    if not (isinstance(event_id, str) and EVENT_ID.fullmatch(event_id)):
        return Receipt(400, "the event has no usable id")
    if not (isinstance(event_type, str) and EVENT_TYPE.fullmatch(event_type)):
        return Receipt(400, "the event has no usable type")
    handled = event_type in HANDLED
    job = manager.new_job(EVENT_JOB, {"event": event_id}, EVENT_ATTEMPTS) if handled else None
    with manager.catalog.begin() as conn:
        stored = billing.store_event(
            conn,
            event_id,
            event_type,
            body.decode("utf-8"),
            "received" if handled else "ignored",
            job.job_id if job else None,
        )
        if not stored:
            return Receipt(200, "duplicate: already received")
        if job is None:
            return Receipt(200, "ignored: not an event this app handles", event_id)
        claim = manager.create_claimed(conn, None, job)
    return Receipt(200, "received", event_id, manager.background(None, claim))


def _customer(obj: dict[str, Any]) -> str | None:
    customer = obj.get("customer")
    if isinstance(customer, dict):  # expanded
        customer = customer.get("id")
    return customer if isinstance(customer, str) else None


def handle_event(ctx: JobContext, event: str) -> dict[str, Any]:
    """The `billing.event` job (see the module docstring)."""
    catalog, settings = ctx.catalog, ctx.settings
    if settings is None:
        raise RuntimeError("billing jobs need the app's settings")
    stored = billing.get_event(catalog, event)
    if stored is None:
        raise LookupError(f"Stripe event {event} was never stored")
    if stored["status"] in ("processed", "ignored"):
        return {"status": stored["status"], "repeat": True}
    payload = json.loads(stored["payload"])
    obj = (payload.get("data") or {}).get("object") or {}
    customer = _customer(obj)
    tenant_id = billing.tenant_for_customer(catalog, customer) if customer else None
    if tenant_id is None:  # a customer made elsewhere (the dashboard, another app)
        with catalog.begin() as conn:
            billing.mark_event(conn, event, "ignored", error="no workspace has this customer")
        return {"status": "ignored"}
    try:
        outcome = reconcile(catalog, settings, tenant_id)
    except Exception as error:
        with catalog.begin() as conn:
            status = "failed" if ctx.last_attempt else "received"
            billing.mark_event(
                conn, event, status, tenant_id, f"{type(error).__name__}: {error}"[:2000]
            )
        raise
    mail = (
        _trial_ending_mail(catalog, tenant_id, obj)
        if stored["event_type"] == TRIAL_ENDING
        else None
    )
    with catalog.begin() as conn:
        if mail is not None:
            job_store.create(conn, "sys_jobs", mail)
        billing.mark_event(conn, event, "processed", tenant_id)
    return {"status": "processed", "tenant": tenant_id, "subscription": outcome}


def _trial_ending_mail(
    catalog, tenant_id: str, subscription: dict[str, Any]
) -> job_store.NewJob | None:
    """The email to the workspace's owners that its trial ends soon (None: no owner to tell)."""
    tenant = catalog.tenant(tenant_id) or {}
    ends = (stamp(subscription.get("trial_end")) or "")[:10] or "soon"
    owners = [m for m in catalog.members(tenant_id) if m["role"] == "owner" and m["email"]]
    recipients = [
        {
            "to": o["email"],
            "variables": {
                "name": o["name"] or o["email"],
                "tenant_name": tenant.get("name", ""),
                "plan_name": plan(tenant.get("plan_tier")).name,
                "trial_ends": ends,
            },
        }
        for o in owners
    ]
    if not recipients:
        return None
    return job_store.NewJob(
        "email.send_batch", {"template": "trial_ending", "recipients": recipients}
    )
