"""Billing's background jobs besides webhook events (registered in app/work/handlers.py):

- `billing.seats`: a per-seat subscription's quantity follows the workspace's members. Routes
  that add or remove people call `seats_changed`; the job counts the members when it runs
  and sets the quantity, again until the count holds still, so overlapping changes settle on
  the last count. Retried with backoff while Stripe is unreachable.
- `billing.cancel`: a deleted workspace's subscription ends at once (`workspace_deleted`).

Both are system jobs (the host's queue): they touch the catalog and Stripe, no tenant data.
"""

from __future__ import annotations

from typing import Any

from app.billing.plans import plan
from app.billing.reconcile import LIVE, reconcile
from app.billing.stripe_api import Stripe, first_item
from app.settings import Settings
from app.work.jobs import JobContext
from tenants import billing
from tenants.catalog import Catalog

SEATS_JOB = "billing.seats"
CANCEL_JOB = "billing.cancel"
ATTEMPTS = 8
SETTLE_ROUNDS = 5


def _stripe_subscription(catalog: Catalog, settings: Settings | None, tenant_id: str) -> str | None:
    """The workspace's Stripe subscription id, if billing is set up and it has one."""
    if settings is None or not settings.billing_configured:
        return None
    row = billing.subscription(catalog, tenant_id)
    if row is None or row["provider"] != "stripe":
        return None
    return row["provider_subscription_id"]


def seats_changed(jobs: Any, catalog: Catalog, settings: Settings, tenant_id: str) -> None:
    """Queue a seat count for the workspace if its plan is paid per seat through Stripe."""
    row = billing.subscription(catalog, tenant_id)
    if (
        _stripe_subscription(catalog, settings, tenant_id)
        and row is not None
        and plan(row["plan_tier"]).seat_model == "per_seat"
    ):
        jobs.enqueue(None, SEATS_JOB, ATTEMPTS, tenant=tenant_id)


def workspace_deleted(jobs: Any, catalog: Catalog, settings: Settings, tenant_id: str) -> None:
    """Queue the end of a deleted workspace's subscription, if it has one."""
    if _stripe_subscription(catalog, settings, tenant_id):
        jobs.enqueue(None, CANCEL_JOB, ATTEMPTS, tenant=tenant_id)


def sync_seats(ctx: JobContext, tenant: str) -> dict[str, Any]:
    subscription_id = _stripe_subscription(ctx.catalog, ctx.settings, tenant)
    row = billing.subscription(ctx.catalog, tenant)
    if not subscription_id or row is None or plan(row["plan_tier"]).seat_model != "per_seat":
        return {"skipped": "no per-seat Stripe subscription"}
    settings: Settings = ctx.settings  # type: ignore[assignment]  # checked above
    api = Stripe(settings)
    members = 0
    for _ in range(SETTLE_ROUNDS):
        members = max(1, billing.members_used(ctx.catalog, tenant)[0])
        current = api.subscription(subscription_id)
        if current["status"] not in LIVE:
            return {"skipped": f"the subscription is {current['status']}"}
        item = first_item(current)
        if item.get("quantity") != members:
            api.set_quantity(subscription_id, item["id"], members)
        if max(1, billing.members_used(ctx.catalog, tenant)[0]) == members:
            break
    reconcile(ctx.catalog, settings, tenant)
    return {"quantity": members}


def end_subscription(catalog: Catalog, settings: Settings | None, tenant_id: str) -> str:
    """End the workspace's Stripe subscription now; its status then, or 'none'."""
    subscription_id = _stripe_subscription(catalog, settings, tenant_id)
    if not subscription_id or settings is None:
        return "none"
    status = Stripe(settings).cancel(subscription_id)["status"]
    reconcile(catalog, settings, tenant_id)
    return status


def cancel_subscription(ctx: JobContext, tenant: str) -> dict[str, Any]:
    return {"status": end_subscription(ctx.catalog, ctx.settings, tenant)}
