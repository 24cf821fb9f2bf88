"""Every background handler of the app, registered once at startup (app/factory.py):
jobs by type name, webhook handlers by source and event type.

A job is found by its type name when it runs, so the name is part of the data: rename a
handler's function freely, never its name here while such jobs may still be queued.
"""

from __future__ import annotations

from app.billing import jobs as billing_jobs
from app.billing.webhook import EVENT_JOB, handle_event
from app.syncs.jobs import SYNC_JOB
from app.syncs.runner import run_sync
from app.webhooks import outbound
from app.webhooks.inbound import PROCESS_JOB, WebhookHandler, process_event, webhook_handler
from app.work import email, lifecycle
from app.work.jobs import Handler, job_handler

JOBS: dict[str, Handler] = {
    "email.send": email.send_email,
    "email.send_batch": email.send_email_batch,
    PROCESS_JOB: process_event,
    SYNC_JOB: run_sync,
    lifecycle.EXPORT_JOB: lifecycle.build_export,
    lifecycle.PURGE_JOB: lifecycle.purge_tenant,
    outbound.DELIVER_JOB: outbound.deliver,
    EVENT_JOB: handle_event,
    billing_jobs.SEATS_JOB: billing_jobs.sync_seats,
    billing_jobs.CANCEL_JOB: billing_jobs.cancel_subscription,
}


# (source, event type) -> handler; event type "*" catches the source's other events
WEBHOOKS: dict[tuple[str, str], WebhookHandler] = {}


def register_handlers() -> None:
    for name, handler in JOBS.items():
        job_handler(name)(handler)
    for (source, event_type), webhook in WEBHOOKS.items():
        webhook_handler(source, event_type)(webhook)
