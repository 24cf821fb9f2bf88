"""The plans, in one definition: the landing page's pricing table, the billing page and every
limit check read this module (billing owns it).

To add a plan: add a `Plan` to PLANS (a tier of lower-case letters), create its product and
monthly and yearly prices in Stripe, and set STRIPE_PRICE_<TIER>_MONTHLY and
STRIPE_PRICE_<TIER>_YEARLY. The prices shown here are for people to read; Stripe's prices are
what is charged, so keep the two equal. A limit of None means no limit.

New workspaces start with a trial of TRIAL_PLAN (tenants/provision.py) and fall back to FREE
when it ends without a subscription. It imports nothing from the web app, so billing code,
jobs and the UI can all import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from tenants.provision import TRIAL_DAYS, TRIAL_PLAN

SeatModel = Literal["flat", "per_seat"]
INTERVALS = ("month", "year")
PRICE_SETTING = {"month": "monthly", "year": "yearly"}  # STRIPE_PRICE_<TIER>_<...>


@dataclass(frozen=True)
class Limits:
    members: int | None  # people in the workspace, open invitations included
    webhook_endpoints: int | None
    scheduled_syncs: int | None
    api_calls_per_day: int | None


# What each limit is called where people read it (messages, the billing page).
LIMIT_LABELS = {
    "members": "members",
    "webhook_endpoints": "webhook endpoints",
    "scheduled_syncs": "scheduled syncs",
    "api_calls_per_day": "API calls a day",
}
FLAG_LABELS = {"audit_log": "Audit log", "priority_support": "Priority support"}


@dataclass(frozen=True)
class Plan:
    tier: str  # stored as core_tenants.plan_tier
    name: str
    tagline: str
    monthly_cents: int  # per seat for per-seat plans
    yearly_cents: int
    seat_model: SeatModel
    limits: Limits
    flags: frozenset[str] = field(default_factory=frozenset)
    featured: bool = False  # the one the pricing table points people to

    @property
    def paid(self) -> bool:
        return self.monthly_cents > 0

    @property
    def price(self) -> str:
        """The monthly price as people read it ("$0", "$19")."""
        return money(self.monthly_cents)

    @property
    def per(self) -> str:
        """What the price is for: "workspace" or "member"."""
        return "member" if self.seat_model == "per_seat" else "workspace"

    @property
    def features(self) -> tuple[str, ...]:
        """What the plan gives, one line each, from its limits and flags (pricing tables)."""
        lines = [_amount(self.limit(k), label) for k, label in LIMIT_LABELS.items()]
        return (*lines, *(FLAG_LABELS[f] for f in sorted(self.flags)))

    def limit(self, name: str) -> int | None:
        return getattr(self.limits, name)

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def price_setting(self, interval: str) -> str:
        """The key of this plan's price for `interval` in Settings.stripe_prices."""
        return f"{self.tier}_{PRICE_SETTING[interval]}"


def _amount(n: int | None, label: str) -> str:
    """ "Unlimited members", "No scheduled syncs", "1 webhook endpoint", "3 members"."""
    if n is None:
        return f"Unlimited {label}"
    if n == 0:
        return f"No {label}"
    return f"1 {label.replace('s ', ' ', 1).removesuffix('s')}" if n == 1 else f"{n:,} {label}"


FREE = Plan(
    tier="free",
    name="Free",
    tagline="For trying it out and for small side projects.",
    monthly_cents=0,
    yearly_cents=0,
    seat_model="flat",
    limits=Limits(members=3, webhook_endpoints=1, scheduled_syncs=0, api_calls_per_day=1_000),
)
PRO = Plan(
    tier="pro",
    name="Pro",
    tagline="For a small team that depends on it.",
    monthly_cents=1_900,
    yearly_cents=19_000,
    seat_model="flat",
    limits=Limits(members=10, webhook_endpoints=5, scheduled_syncs=5, api_calls_per_day=50_000),
    flags=frozenset({"audit_log"}),
    featured=True,
)
TEAM = Plan(
    tier="team",
    name="Team",
    tagline="For growing teams: pay for each member.",
    monthly_cents=1_200,
    yearly_cents=12_000,
    seat_model="per_seat",
    limits=Limits(
        members=None, webhook_endpoints=None, scheduled_syncs=None, api_calls_per_day=500_000
    ),
    flags=frozenset({"audit_log", "priority_support"}),
)
PLANS: tuple[Plan, ...] = (FREE, PRO, TEAM)
BY_TIER: dict[str, Plan] = {p.tier: p for p in PLANS}
PAID = tuple(p for p in PLANS if p.paid)
assert TRIAL_PLAN in BY_TIER and TRIAL_DAYS > 0, "tenants/provision.py names a plan defined here"


def plan(tier: str | None) -> Plan:
    """The plan of `tier`; FREE for a tier that is unknown or not set (it grants nothing)."""
    return BY_TIER.get(tier or "", FREE)


def plan_for_price(prices: Mapping[str, str], price_id: str) -> tuple[Plan, str] | None:
    """(plan, interval) of a Stripe price id configured in settings, or None."""
    for candidate in PAID:
        for interval in INTERVALS:
            if price_id and prices.get(candidate.price_setting(interval)) == price_id:
                return candidate, interval
    return None


def price_problems(prices: Mapping[str, str], billing_configured: bool) -> list[str]:
    """STRIPE_PRICE_* settings that name no plan, and, with Stripe set up, missing prices."""
    known = {p.price_setting(i) for p in PAID for i in INTERVALS}
    problems = [
        f"STRIPE_PRICE_{name.upper()} names no plan (plans: {', '.join(BY_TIER)})"
        for name in sorted(set(prices) - known)
    ]
    if billing_configured:
        problems += [
            f"STRIPE_PRICE_{name.upper()} is missing: the price id of that plan in Stripe"
            for name in sorted(known - set(prices))
        ]
    return problems


def money(cents: int, currency: str = "usd") -> str:
    """Whole amounts without decimals ("$19"), others with two ("$7.50"); non-USD by code."""
    amount = f"{cents // 100:,}" if cents % 100 == 0 else f"{cents / 100:,.2f}"
    return f"${amount}" if currency.lower() == "usd" else f"{amount} {currency.upper()}"
