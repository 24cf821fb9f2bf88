"""The plans, defined once: the pricing table on the landing page shows them, and billing
(subscriptions, checkout, limits) reads the same definitions.

Billing owns this module from now on: change prices, limits and features here, and every
page that shows a plan follows. It imports nothing from the web app, so billing code, jobs
and the UI can all import it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    tier: str  # stored as core_tenants.plan_tier
    name: str
    monthly_cents: int | None  # None: priced on request
    tagline: str
    features: tuple[str, ...]
    members: int | None  # most members a workspace may have; None for no limit
    featured: bool = False

    @property
    def price(self) -> str:
        if self.monthly_cents is None:
            return "Custom"
        if self.monthly_cents == 0:
            return "$0"
        dollars, cents = divmod(self.monthly_cents, 100)
        return f"${dollars}" if not cents else f"${dollars}.{cents:02d}"


PLANS: tuple[Plan, ...] = (
    Plan(
        tier="free",
        name="Free",
        monthly_cents=0,
        tagline="For trying it out and side projects.",
        features=("3 members", "Notes, jobs and syncs", "Inbound webhooks", "Community support"),
        members=3,
    ),
    Plan(
        tier="pro",
        name="Pro",
        monthly_cents=2900,
        tagline="For small teams shipping a product.",
        features=(
            "25 members",
            "Hourly syncs",
            "Audit trail and data export",
            "Email support",
        ),
        members=25,
        featured=True,
    ),
    Plan(
        tier="enterprise",
        name="Enterprise",
        monthly_cents=None,
        tagline="For organisations with their own rules.",
        features=(
            "Unlimited members",
            "Single sign-on with your provider",
            "A dedicated database server",
            "A named contact",
        ),
        members=None,
    ),
)


def plan(tier: str | None) -> Plan:
    """The plan of `tier`; the free plan for a tier that is unknown or not set."""
    return next((p for p in PLANS if p.tier == tier), PLANS[0])
