"""The plan in force, from what the session lookup already carries (no query, no Stripe call).

The catalog keeps three things per workspace in core_tenants: `plan_tier`, `plan_status`
(Stripe's word: trialing, active, past_due, canceled, ...) and `plan_ends_at`, the moment
plan_tier stops applying. app/billing/sync.py writes them from Stripe's subscription by the
rules of `standing`; a write moves the auth epoch, so every process sees it on the next
request. Time does the rest: a trial, a cancelled period or a grace period that ran out means
Free limits, with nothing deleted, even if no webhook ever says so.
"""

from __future__ import annotations

from datetime import timedelta

from app.billing.plans import FREE, Plan, plan
from tenants.billing import Standing
from tenants.stamp import iso, now, parse

# Statuses in which the subscription's plan applies (until plan_ends_at, if set).
PLAN_APPLIES = ("trialing", "active", "past_due", "canceled")


def standing(
    tier: str,
    status: str,
    *,
    trial_end: str | None,
    period_end: str | None,
    cancel_at_period_end: bool,
    past_due_since: str | None,
    grace: timedelta,
    at: str | None = None,
) -> Standing:
    """The rules: a trial runs to its end; a cancelled subscription to the end of the period
    paid for; past_due keeps the plan for the grace period; anything else (incomplete,
    unpaid, paused, expired) has Free limits."""
    moment = at or now()
    if status not in PLAN_APPLIES:
        return Standing(FREE.tier, status, None)
    if status == "trialing":
        return Standing(tier, status, trial_end)
    if status == "past_due":
        since = parse(past_due_since or moment)
        return Standing(tier, status, iso(since + grace))
    if status == "canceled":
        if period_end and period_end > moment:
            return Standing(tier, status, period_end)
        return Standing(FREE.tier, status, None)
    return Standing(tier, status, period_end if cancel_at_period_end else None)


def in_force(tier: str | None, ends_at: str | None, at: str | None = None) -> Plan:
    """The plan a workspace has now: its tier until `ends_at`, FREE after."""
    if ends_at is not None and ends_at <= (at or now()):
        return FREE
    return plan(tier)


def current_plan(auth) -> Plan:
    """The plan of the signed-in member's workspace (cheap: reads `auth` only)."""
    return in_force(auth.plan_tier, auth.plan_ends_at)


def tenant_plan(tenant: dict) -> Plan:
    """The plan of a workspace from its core_tenants row (for jobs and other workspaces)."""
    return in_force(tenant.get("plan_tier"), tenant.get("plan_ends_at"))


def notice(auth) -> tuple[str, str] | None:
    """A banner for every page of the workspace while a payment has failed: (text, link)."""
    if getattr(auth, "plan_status", None) != "past_due" or auth.plan_ends_at is None:
        return None
    name = plan(auth.plan_tier).name
    if auth.plan_ends_at > now():
        until = auth.plan_ends_at[:10]
        return (
            f"A payment failed. Update your payment method by {until} to keep {name}.",
            "/settings/billing",
        )
    return (
        "A payment failed, so this workspace has Free limits until it is paid.",
        "/settings/billing",
    )
