"""Bring a workspace's stored subscription and invoices up to date with Stripe.

Every webhook event, the return from Checkout and `main.py billing sync` end here: rather
than trusting the object inside an event (events arrive late, twice, or out of order), the
subscription is fetched from Stripe as it is now and stored with the time the fetch began.
tenants/billing.py refuses to store a fetch older than the one it has, so the stored state is
always the newest Stripe showed us, and the last event handled leaves Stripe's latest.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from app.billing.plans import FREE, plan_for_price
from app.billing.state import standing
from app.billing.stripe_api import Stripe, first_item, price_of
from app.settings import Settings
from tenants import billing
from tenants.catalog import Catalog
from tenants.stamp import iso, now

log = logging.getLogger(__name__)

# Statuses of a subscription that is still going; one of these is "the" subscription.
LIVE = ("active", "trialing", "past_due", "unpaid", "incomplete", "paused")


def stamp(unix: int | None) -> str | None:
    """A Stripe time (seconds since the epoch) as a catalog timestamp."""
    return iso(datetime.fromtimestamp(unix, UTC)) if unix else None


def current_subscription(subscriptions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The customer's subscription that counts: the newest live one, else the newest."""
    pool = [s for s in subscriptions if s.get("status") in LIVE] or subscriptions
    return max(pool, key=lambda s: s.get("created") or 0) if pool else None


def invoice_row(invoice: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": invoice["id"],
        "number": invoice.get("number"),
        "status": invoice.get("status") or "draft",
        "amount_due": invoice.get("amount_due") or 0,
        "amount_paid": invoice.get("amount_paid") or 0,
        "currency": invoice.get("currency") or "usd",
        "hosted_invoice_url": invoice.get("hosted_invoice_url"),
        "invoice_pdf": invoice.get("invoice_pdf"),
        "created_at": stamp(invoice.get("created")) or now(),
    }


def subscription_fields(
    settings: Settings, subscription: dict[str, Any], upcoming: dict[str, Any] | None
) -> dict[str, Any]:
    """The core_subscriptions columns from Stripe's subscription (and its next invoice)."""
    item = first_item(subscription)
    price = price_of(item)
    found = plan_for_price(settings.stripe_prices, price.get("id") or "")
    if found is None:
        log.warning(
            "subscription %s has a price no plan names: %s", subscription["id"], price.get("id")
        )
    chosen, interval = found or (FREE, price.get("interval"))
    # Newer API versions keep the period on the item, older ones on the subscription.
    period_end = stamp(item.get("current_period_end") or subscription.get("current_period_end"))
    quantity = item.get("quantity") or subscription.get("quantity") or 1
    amount = upcoming.get("amount_due") if upcoming else None
    if amount is None and not subscription.get("cancel_at_period_end"):
        amount = (price.get("unit_amount") or price.get("amount") or 0) * quantity
    live = subscription.get("status") in ("active", "trialing", "past_due")
    renews = live and not subscription.get("cancel_at_period_end")
    return {
        "plan_tier": chosen.tier,
        "status": subscription.get("status") or "incomplete",
        "provider": "stripe",
        "provider_subscription_id": subscription["id"],
        "price_id": price.get("id"),
        "billing_interval": interval,
        "quantity": quantity,
        "trial_ends_at": stamp(subscription.get("trial_end")),
        "current_period_end": period_end,
        "cancel_at_period_end": int(bool(subscription.get("cancel_at_period_end"))),
        "next_invoice_at": period_end if renews else None,
        "next_invoice_amount": amount if renews else None,
        "currency": price.get("currency") or "usd",
    }


def reconcile(catalog: Catalog, settings: Settings, tenant_id: str) -> str:
    """Fetch the workspace's subscription and invoices from Stripe and store them; what
    happened, in a word: 'updated', 'stale' (a newer fetch was stored meanwhile), 'no
    customer' or 'no subscription' (nothing bought yet: a trial of our own goes on)."""
    row = billing.subscription(catalog, tenant_id)
    customer = row["provider_customer_id"] if row else None
    if not customer:
        return "no customer"
    fetched_at = now()  # before asking: anything Stripe says now is at least this new
    api = Stripe(settings)
    current = current_subscription(api.subscriptions(customer))
    invoices = [invoice_row(i) for i in api.invoices(customer)]
    if current is None:
        billing.store_invoices(catalog, tenant_id, invoices)
        return "no subscription"
    renews = current.get("status") in LIVE and not current.get("cancel_at_period_end")
    upcoming = api.next_invoice(customer, current["id"]) if renews else None
    fields = subscription_fields(settings, current, upcoming)
    grace = timedelta(days=settings.billing_grace_days)

    def decide(past_due_since: str | None) -> billing.Standing:
        return standing(
            fields["plan_tier"],
            fields["status"],
            trial_end=fields["trial_ends_at"],
            period_end=fields["current_period_end"],
            cancel_at_period_end=bool(fields["cancel_at_period_end"]),
            past_due_since=past_due_since,
            grace=grace,
        )

    stored = billing.apply(catalog, tenant_id, fields, invoices, decide, fetched_at)
    return "updated" if stored else "stale"
