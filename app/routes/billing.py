"""Settings -> Billing: the plan, its standing, usage against the limits, invoices; upgrading
through Stripe Checkout and managing the subscription in Stripe's Customer Portal.

Who: billing.view sees the page (owners and admins by default), billing.manage changes the
plan (owners). Without Stripe keys the page shows the plans and says billing is not
configured; outside production a development control switches the plan directly, so the
limits can be tried on a fresh clone (`dev_rt`, which production does not mount).

Checkout makes the workspace's Stripe customer once and reuses it (its id is in the
catalog); the subscription it creates reaches the app by webhook, and also at once when the
person comes back from Checkout (the return URL carries the session id, which is checked to
be this workspace's before anything is fetched).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

from fasthtml.common import A, APIRouter, Div, Form, Li, Option, P, Redirect, Select, Tr, Ul
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from app.billing import usage
from app.billing.plans import BY_TIER, INTERVALS, LIMIT_LABELS, PLANS, Plan, money, plan
from app.billing.reconcile import LIVE, reconcile
from app.billing.state import current_plan, notice
from app.billing.stripe_api import Stripe, StripeUnavailable
from app.ui.components import CsrfField, SettingsHeader, SettingsTabs
from app.ui.kit import (
    Badge,
    Button,
    Callout,
    Card,
    Cell,
    EmptyState,
    StatusBadge,
    Table,
    When,
)
from app.ui.layout import Page
from app.web.audit import record
from app.web.mount import writes
from app.web.permissions import can, require
from tenants import billing
from tenants.billing import Standing
from tenants.stamp import from_now, now, parse

rt = APIRouter()
dev_rt = APIRouter()  # development only: app/routes/__init__.py leaves it out of production

PAGE = "/settings/billing"
SESSION_ID = re.compile(r"cs_[A-Za-z0-9_]{1,250}")
RETURNS = {
    "": "",
    "success": "Thank you! Your subscription is being set up; this page shows it once Stripe confirms.",
    "cancelled": "Checkout was cancelled: nothing changed.",
}
STATUS_LABELS = {
    "trialing": "Trial",
    "active": "Active",
    "past_due": "Payment failed",
    "canceled": "Cancelled",
    "incomplete": "Waiting for the first payment",
    "incomplete_expired": "First payment never made",
    "unpaid": "Unpaid",
    "paused": "Paused",
}
DEV_STATUSES = ("active", "trialing", "past_due")
INTERVAL_LABELS = {"month": "Monthly", "year": "Yearly"}
MIN_TRIAL_CARRIED = timedelta(days=2)  # Stripe wants a trial end at least 48 hours away


def _days_left(stamp: str | None) -> int | None:
    if not stamp:
        return None
    return max(0, (parse(stamp) - datetime.now(UTC)).days)


# -- components ---------------------------------------------------------------------------


def PlanStanding(auth, row: dict | None):
    """The plan in force and why: status, trial days left, the period, the next invoice."""
    current = current_plan(auth)
    status = auth.plan_status or "active"
    facts = []
    if current.tier != auth.plan_tier:
        facts.append(
            Li(
                f"The {plan(auth.plan_tier).name} plan has ended: "
                "this workspace has Free limits. Nothing was deleted."
            )
        )
    elif status == "trialing" and (left := _days_left(auth.plan_ends_at)) is not None:
        facts.append(
            Li(
                f"Trial: {left} day{'s' if left != 1 else ''} left (ends ",
                When(auth.plan_ends_at, relative_text=False),
                ")",
            )
        )
    elif auth.plan_ends_at:
        facts.append(Li(f"{current.name} ends ", When(auth.plan_ends_at, relative_text=False)))
    if row and row["next_invoice_at"]:
        amount = row["next_invoice_amount"]
        shown = money(amount, row["currency"] or "usd") if amount is not None else "—"
        facts.append(
            Li("Next invoice: ", When(row["next_invoice_at"], relative_text=False), f", {shown}")
        )
    banner = notice(auth)
    return Card(
        Callout(banner[0], tone="warning", icon="alert-circle") if banner else "",
        Ul(*facts) if facts else "",
        title=f"{current.name} plan",
        description=current.tagline,
        actions=[StatusBadge("subscription", status)],
        id="billing-standing",
    )


def Usage(auth, req: Request, row: dict | None):
    """Each limit: used, allowed, and for seats what is paid for."""
    current, catalog = current_plan(auth), req.app.state.catalog
    used = {
        "members": usage.seats(catalog, auth.tenant_id),
        "webhook_endpoints": usage.webhook_endpoints(catalog, auth.tenant_id),
        "scheduled_syncs": usage.scheduled_syncs(auth.db),
    }

    def allowed(name: str) -> str:
        limit = current.limit(name)
        return "unlimited" if limit is None else f"{limit:,}"

    paid = "—"
    if row and row["provider"] == "stripe" and row["status"] in LIVE:
        paid = (
            str(row["quantity"])
            if current.seat_model == "per_seat"
            else f"up to {allowed('members')}"
        )

    def Line(name: str, used_now: str, limit: str):
        return Tr(
            Cell(name, label="Limit"),
            Cell(used_now, label="Used", cls="num"),
            Cell(limit, label="Allowed", cls="num"),
        )

    return Card(
        Table(
            ["Limit", ("Used", "num"), ("Allowed", "num")],
            *[Line(LIMIT_LABELS[n].capitalize(), str(u), allowed(n)) for n, u in used.items()],
            Line("Seats paid for", paid, ""),
            Line("API calls a day", "—", allowed("api_calls_per_day")),
            stack=True,
            caption="Usage against the plan's limits",
        ),
        title="Usage",
        description="Members include invitations not yet accepted.",
        flush=True,
        id="billing-usage",
    )


def PlanCard(req: Request, candidate: Plan, current: Plan, choosable: bool):
    price = (
        "Free"
        if not candidate.paid
        else f"{money(candidate.monthly_cents)}/month or {money(candidate.yearly_cents)}/year"
        + (" per member" if candidate.seat_model == "per_seat" else "")
    )
    choose: object = None
    if candidate.tier == current.tier:
        choose = Badge("Your plan", "primary")
    elif choosable and candidate.paid:
        choose = Form(
            CsrfField(req),
            Select(
                *[Option(INTERVAL_LABELS[i], value=i) for i in INTERVALS],
                name="interval",
                aria_label=f"{candidate.name} billing period",
            ),
            Button(
                f"Choose {candidate.name}",
                name="plan",
                value=candidate.tier,
                type="submit",
                variant="primary" if candidate.featured else "outline",
            ),
            method="post",
            action=f"{PAGE}/checkout",
            cls="inline-form",
        )
    return Card(
        Div(price, cls="plan-price"),
        Ul(*[Li(f) for f in candidate.features]),
        footer=choose,
        title=candidate.name,
        description=candidate.tagline,
        cls="plan" + (" plan-featured" if candidate.featured else ""),
        id=f"plan-{candidate.tier}",
    )


def Plans(req: Request, auth, row: dict | None):
    settings = req.app.state.settings
    manage = can(auth, "billing", "manage")
    subscribed = bool(row and row["provider"] == "stripe" and row["status"] in LIVE)
    actions: list = []
    note: object = ""
    if not settings.billing_configured:
        note = Div(
            Callout(
                "Billing is not configured on this server: set STRIPE_SECRET_KEY and the "
                "prices (see the README, Billing). Until then the plans are shown only."
            ),
            id="billing-not-configured",
        )
    elif manage and row and row["provider_customer_id"]:
        actions.append(
            Form(
                CsrfField(req),
                Button(
                    "Manage payment method, switch plan or cancel",
                    type="submit",
                    variant="secondary",
                ),
                method="post",
                action=f"{PAGE}/portal",
            )
        )
    elif not manage:
        note = P("Only an owner can change the plan.", cls="muted")
    choosable = settings.billing_configured and manage and not subscribed
    return Card(
        note,
        Div(*[PlanCard(req, p, current_plan(auth), choosable) for p in PLANS], cls="pricing"),
        title="Plans",
        actions=actions,
        id="billing-plans",
    )


def Invoices(invoices: list[dict]):
    if not invoices:
        return Card(
            EmptyState("No invoices yet", "Stripe's invoices show here once you subscribe."),
            title="Invoices",
            id="billing-invoices",
        )
    rows = [
        Tr(
            Cell(When(i["created_at"], relative_text=False), label="Date"),
            Cell(i["number"] or i["id"], label="Number"),
            Cell(money(i["amount_due"], i["currency"]), label="Amount", cls="num"),
            Cell(STATUS_LABELS.get(i["status"], i["status"]), label="Status"),
            Cell(
                A("View", href=i["hosted_invoice_url"], rel="noopener", target="_blank")
                if i["hosted_invoice_url"]
                else "",
                " ",
                A("PDF", href=i["invoice_pdf"], rel="noopener") if i["invoice_pdf"] else "",
                cls="actions",
            ),
        )
        for i in invoices
    ]
    return Card(
        Table(["Date", "Number", ("Amount", "num"), "Status", ("", "actions")], *rows, stack=True),
        title="Invoices",
        flush=True,
        id="billing-invoices",
    )


def DevPlanForm(req: Request, auth):
    """Development only: put the workspace on any plan, to try the limits."""
    if req.app.state.settings.is_production or not can(auth, "billing", "manage"):
        return ""
    return Card(
        Form(
            CsrfField(req),
            Select(
                *[Option(p.name, value=p.tier, selected=p.tier == auth.plan_tier) for p in PLANS],
                name="plan",
                aria_label="Plan",
            ),
            Select(
                *[Option(STATUS_LABELS[s], value=s) for s in DEV_STATUSES],
                name="status",
                aria_label="Status",
            ),
            Button("Switch plan", type="submit", variant="secondary"),
            method="post",
            action=f"{PAGE}/dev-plan",
            cls="inline-form",
        ),
        title="Try a plan",
        description="Development only: switch this workspace's plan without Stripe.",
        actions=[Badge("Development only", "warning")],
        id="billing-dev",
    )


def BillingPage(req: Request, auth, message: str = ""):
    row = billing.subscription(req.app.state.catalog, auth.tenant_id)
    return Page(
        req,
        "Billing",
        SettingsHeader(),
        SettingsTabs(PAGE, auth),
        Div(Callout(message, tone="success"), id="billing-message") if message else "",
        PlanStanding(auth, row),
        Usage(auth, req, row),
        Plans(req, auth, row),
        Invoices(billing.invoices(req.app.state.catalog, auth.tenant_id)),
        DevPlanForm(req, auth),
    )


# -- routes -------------------------------------------------------------------------------


def _stripe(req: Request) -> Stripe:
    try:
        return Stripe(req.app.state.settings)
    except StripeUnavailable:
        raise HTTPException(409, "Billing is not configured on this server yet.") from None


def _subscription_row(req: Request, auth) -> dict | None:
    return billing.subscription(req.app.state.catalog, auth.tenant_id)


@rt.get(PAGE)
@writes  # coming back from Checkout stores the new subscription at once
def billing_page(req: Request, auth, checkout: str = "", session_id: str = ""):
    require(auth, "billing", "view")
    if checkout not in RETURNS:
        raise HTTPException(400, "That is not a page of the billing flow.")
    if session_id and not SESSION_ID.fullmatch(session_id):
        raise HTTPException(400, "That checkout session id is not valid.")
    if checkout == "success" and session_id and can(auth, "billing", "manage"):
        auth = _after_checkout(req, auth, session_id)
    return BillingPage(req, auth, RETURNS[checkout])


def _after_checkout(req: Request, auth, session_id: str):
    """Store the subscription Checkout made, if the session is this workspace's; the plan
    shows on this very page (the session lookup is cached until the next request)."""
    row = _subscription_row(req, auth)
    customer = row["provider_customer_id"] if row else None
    try:
        session = _stripe(req).checkout_session_of(session_id)
        if not customer or session.get("customer") != customer:
            return auth  # another workspace's session, or nonsense: the webhook will tell
        reconcile(req.app.state.catalog, req.app.state.settings, auth.tenant_id)
    except (StripeUnavailable, HTTPException):
        return auth  # the webhook will bring it
    tenant = req.app.state.catalog.tenant(auth.tenant_id) or {}
    return _with_plan(auth, tenant)


def _with_plan(auth, tenant: dict):
    return dataclasses.replace(
        auth,
        plan_tier=tenant.get("plan_tier"),
        plan_status=tenant.get("plan_status"),
        plan_ends_at=tenant.get("plan_ends_at"),
    )


@rt.post(f"{PAGE}/checkout")
def start_checkout(req: Request, auth, plan: str = "", interval: str = ""):
    require(auth, "billing", "manage")
    chosen = BY_TIER.get(plan)
    if chosen is None or not chosen.paid:
        raise HTTPException(400, "Choose a paid plan from the list.")
    if interval not in INTERVALS:
        raise HTTPException(400, "Choose monthly or yearly billing.")
    settings, catalog = req.app.state.settings, req.app.state.catalog
    api = _stripe(req)
    price = settings.stripe_prices.get(chosen.price_setting(interval))
    if not price:
        raise HTTPException(409, f"The {chosen.name} plan has no {interval}ly price in Stripe yet.")
    row = _subscription_row(req, auth)
    if row and row["provider"] == "stripe" and row["status"] in LIVE:
        raise HTTPException(
            409, "This workspace already has a subscription: switch plans in the customer portal."
        )
    try:
        customer = row["provider_customer_id"] if row else None
        if not customer:
            made = api.create_customer(auth.tenant_id, auth.tenant_name, auth.email)
            customer = billing.attach_customer(catalog, auth.tenant_id, made)
        quantity = usage.seats(catalog, auth.tenant_id) if chosen.seat_model == "per_seat" else 1
        session = api.checkout_session(
            _checkout_params(settings.base_url, auth, row, customer, price, quantity)
        )
    except StripeUnavailable as e:
        raise HTTPException(503, str(e)) from None
    record(req, auth, "billing.checkout_started", plan=chosen.tier, interval=interval)
    return RedirectResponse(session["url"], status_code=303)


def _checkout_params(base: str, auth, row: dict | None, customer: str, price: str, quantity: int):
    subscription_data: dict = {"metadata": {"tenant_id": auth.tenant_id}}
    trial_end = row["trial_ends_at"] if row and row["status"] == "trialing" else None
    if trial_end and trial_end > from_now(seconds=MIN_TRIAL_CARRIED.total_seconds()):
        # The rest of the trial carries over: the first charge comes when it ends.
        subscription_data["trial_end"] = int(parse(trial_end).timestamp())
    return {
        "mode": "subscription",
        "customer": customer,
        "client_reference_id": auth.tenant_id,
        "line_items": [{"price": price, "quantity": max(1, quantity)}],
        "subscription_data": subscription_data,
        "success_url": f"{base}{PAGE}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{base}{PAGE}?checkout=cancelled",
        "metadata": {"tenant_id": auth.tenant_id},
    }


@rt.post(f"{PAGE}/portal")
def open_portal(req: Request, auth):
    require(auth, "billing", "manage")
    api = _stripe(req)
    row = _subscription_row(req, auth)
    if not row or not row["provider_customer_id"]:
        raise HTTPException(409, "There is no subscription to manage yet: choose a plan first.")
    try:
        session = api.portal_session(
            row["provider_customer_id"], f"{req.app.state.settings.base_url}{PAGE}"
        )
    except StripeUnavailable as e:
        raise HTTPException(503, str(e)) from None
    record(req, auth, "billing.portal_opened")
    return RedirectResponse(session["url"], status_code=303)


@dev_rt.post(f"{PAGE}/dev-plan")
def switch_plan_in_development(req: Request, auth, plan: str = "", status: str = "active"):
    require(auth, "billing", "manage")
    if plan not in BY_TIER:
        raise HTTPException(400, "Choose a plan from the list.")
    if status not in DEV_STATUSES:
        raise HTTPException(400, "Choose a status from the list.")
    row = _subscription_row(req, auth)
    if row and row["provider"] == "stripe" and row["status"] in LIVE:
        raise HTTPException(
            409, "This workspace has a Stripe subscription: change it in the portal."
        )
    grace = timedelta(days=req.app.state.settings.billing_grace_days)
    trial_end = from_now(days=14) if status == "trialing" else None
    since = now() if status == "past_due" else None
    ends = trial_end or (from_now(seconds=grace.total_seconds()) if since else None)
    billing.set_plan(
        req.app.state.catalog,
        auth.tenant_id,
        Standing(plan, status, ends),
        provider="dev",
        trial_ends_at=trial_end,
        past_due_since=since,
    )
    record(req, auth, "billing.dev_plan_switched", plan=plan, status=status)
    return Redirect(PAGE)
