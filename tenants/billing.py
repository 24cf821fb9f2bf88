"""Billing data in the host catalog: each workspace's subscription, its invoices, and Stripe's
webhook events.

Stripe is the source of truth; these rows are a copy that the request path, the billing page
and the export read without calling Stripe. `apply` writes a snapshot fetched from Stripe
and refuses one fetched before the snapshot already stored, so however webhooks race or
repeat, the stored state never goes back in time. Every write that changes the plan moves
the auth epoch (core_tenants is an auth table), so each process sees it on its next request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tenants.catalog import Catalog
from tenants.stamp import new_id, now

SUBSCRIPTION_FIELDS = (
    "plan_tier",
    "status",
    "provider",
    "provider_subscription_id",
    "price_id",
    "billing_interval",
    "quantity",
    "trial_ends_at",
    "current_period_end",
    "cancel_at_period_end",
    "next_invoice_at",
    "next_invoice_amount",
    "currency",
)
INVOICE_FIELDS = (
    "id",
    "number",
    "status",
    "amount_due",
    "amount_paid",
    "currency",
    "hosted_invoice_url",
    "invoice_pdf",
    "created_at",
)


@dataclass(frozen=True)
class Standing:
    """What core_tenants records for the request path: the plan, Stripe's status, and when
    the plan stops applying (None: not foreseen). app/billing/state.py has the rules."""

    tier: str
    status: str
    ends_at: str | None


# -- reading ----------------------------------------------------------------------------------


def subscription(catalog: Catalog, tenant_id: str) -> dict[str, Any] | None:
    return catalog.row("SELECT * FROM core_subscriptions WHERE tenant_id = :t", t=tenant_id)


def invoices(catalog: Catalog, tenant_id: str, limit: int = 24) -> list[dict[str, Any]]:
    """The workspace's invoices, newest first."""
    return catalog.rows(
        """SELECT * FROM core_invoices WHERE tenant_id = :t
           ORDER BY created_at DESC, id LIMIT :n""",
        t=tenant_id,
        n=limit,
    )


def tenant_for_customer(catalog: Catalog, customer_id: str) -> str | None:
    row = catalog.row(
        "SELECT tenant_id FROM core_subscriptions WHERE provider_customer_id = :c", c=customer_id
    )
    return row["tenant_id"] if row else None


def customers(catalog: Catalog) -> list[dict[str, Any]]:
    """Every workspace with a Stripe customer (what `main.py billing sync` reconciles)."""
    return catalog.rows(
        """SELECT s.tenant_id, s.provider_customer_id, t.name, t.status AS tenant_status
           FROM core_subscriptions s JOIN core_tenants t ON t.id = s.tenant_id
           WHERE s.provider_customer_id IS NOT NULL ORDER BY s.created_at, s.tenant_id"""
    )


def members_used(catalog: Catalog, tenant_id: str) -> tuple[int, int]:
    """(members, open invitations) of the workspace: together, the seats it uses."""
    row = catalog.rows(
        """SELECT (SELECT COUNT(*) FROM core_memberships WHERE tenant_id = :t) AS members,
                  (SELECT COUNT(*) FROM core_invitations WHERE tenant_id = :t
                   AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > :now) AS open""",
        t=tenant_id,
        now=now(),
    )[0]
    return row["members"], row["open"]


def records(catalog: Catalog, tenant_id: str) -> dict[str, Any]:
    """The workspace's billing records, for its export."""
    return {
        "subscription": subscription(catalog, tenant_id),
        "invoices": invoices(catalog, tenant_id, 1000),
    }


# -- writing ----------------------------------------------------------------------------------


def attach_customer(catalog: Catalog, tenant_id: str, customer_id: str) -> str:
    """Record the workspace's Stripe customer unless it has one: the one stored wins, so
    two simultaneous first checkouts end up sharing one customer."""
    stamp = now()
    with catalog.begin() as conn:
        conn.execute(
            sa.text("""
            INSERT INTO core_subscriptions (id, tenant_id, plan_tier, status, created_at,
                                            updated_at)
            VALUES (:id, :t, 'free', 'active', :now, :now) ON CONFLICT (tenant_id) DO NOTHING"""),
            {"id": new_id(), "t": tenant_id, "now": stamp},
        )
        conn.execute(
            sa.text("""UPDATE core_subscriptions SET provider_customer_id = :c, updated_at = :now
                       WHERE tenant_id = :t AND provider_customer_id IS NULL"""),
            {"c": customer_id, "t": tenant_id, "now": stamp},
        )
        return conn.execute(
            sa.text("SELECT provider_customer_id FROM core_subscriptions WHERE tenant_id = :t"),
            {"t": tenant_id},
        ).scalar_one()


def apply(
    catalog: Catalog,
    tenant_id: str,
    fields: dict[str, Any],
    invoice_rows: Sequence[dict[str, Any]],
    decide: Callable[[str | None], Standing],
    fetched_at: str,
) -> bool:
    """Store a snapshot of the workspace's subscription and invoices fetched from Stripe at
    `fetched_at`, and the plan `decide(past_due_since)` makes of it. False, changing nothing,
    if a snapshot fetched later is already stored."""
    with catalog.begin() as conn:
        # A write first: it takes the row's lock (SQLite's write lock) before the read.
        conn.execute(
            sa.text("UPDATE core_subscriptions SET id = id WHERE tenant_id = :t"), {"t": tenant_id}
        )
        row = conn.execute(
            sa.text("""SELECT status, past_due_since, synced_at FROM core_subscriptions
                       WHERE tenant_id = :t"""),
            {"t": tenant_id},
        ).first()
        if row is None or (row.synced_at is not None and row.synced_at >= fetched_at):
            return False
        since = None
        if fields["status"] == "past_due":
            since = row.past_due_since if row.status == "past_due" else None
            since = since or fetched_at
        values = {name: fields[name] for name in SUBSCRIPTION_FIELDS}
        assignments = ", ".join(f"{name} = :{name}" for name in SUBSCRIPTION_FIELDS)
        conn.execute(
            sa.text(f"""UPDATE core_subscriptions SET {assignments}, past_due_since = :since,
                            synced_at = :fetched, updated_at = :now WHERE tenant_id = :t"""),
            {**values, "since": since, "fetched": fetched_at, "now": now(), "t": tenant_id},
        )
        for invoice in invoice_rows:
            _upsert_invoice(conn, tenant_id, invoice)
        _set_plan(conn, tenant_id, decide(since))
    return True


def store_invoices(
    catalog: Catalog, tenant_id: str, invoice_rows: Sequence[dict[str, Any]]
) -> None:
    """Store invoices of a workspace whose plan Stripe does not decide (nothing bought yet)."""
    with catalog.begin() as conn:
        for invoice in invoice_rows:
            _upsert_invoice(conn, tenant_id, invoice)


def set_plan(
    catalog: Catalog,
    tenant_id: str,
    plan: Standing,
    *,
    provider: str,
    trial_ends_at: str | None = None,
    past_due_since: str | None = None,
) -> None:
    """Put the workspace on a plan without Stripe (the development control)."""
    stamp = now()
    with catalog.begin() as conn:
        conn.execute(
            sa.text("""UPDATE core_subscriptions SET plan_tier = :tier, status = :status,
                           provider = :provider, trial_ends_at = :trial,
                           past_due_since = :since, current_period_end = NULL,
                           cancel_at_period_end = 0, updated_at = :now
                       WHERE tenant_id = :t"""),
            {
                "tier": plan.tier,
                "status": plan.status,
                "provider": provider,
                "trial": trial_ends_at,
                "since": past_due_since,
                "now": stamp,
                "t": tenant_id,
            },
        )
        _set_plan(conn, tenant_id, plan)


def _set_plan(conn: sa.Connection, tenant_id: str, plan: Standing) -> None:
    """Write the plan to core_tenants only if it changed: each write moves the auth epoch,
    which makes every process look its sessions up again."""
    current = conn.execute(
        sa.text("SELECT plan_tier, plan_status, plan_ends_at FROM core_tenants WHERE id = :t"),
        {"t": tenant_id},
    ).first()
    if current is not None and tuple(current) == (plan.tier, plan.status, plan.ends_at):
        return
    conn.execute(
        sa.text("""UPDATE core_tenants SET plan_tier = :tier, plan_status = :status,
                       plan_ends_at = :ends, updated_at = :now WHERE id = :t"""),
        {
            "tier": plan.tier,
            "status": plan.status,
            "ends": plan.ends_at,
            "now": now(),
            "t": tenant_id,
        },
    )


def _upsert_invoice(conn: sa.Connection, tenant_id: str, invoice: dict[str, Any]) -> None:
    values = {name: invoice[name] for name in INVOICE_FIELDS}
    conn.execute(
        sa.text("""
        INSERT INTO core_invoices (id, tenant_id, number, status, amount_due, amount_paid,
                                   currency, hosted_invoice_url, invoice_pdf, created_at,
                                   updated_at)
        VALUES (:id, :t, :number, :status, :amount_due, :amount_paid, :currency,
                :hosted_invoice_url, :invoice_pdf, :created_at, :now)
        ON CONFLICT (id) DO UPDATE SET number = excluded.number, status = excluded.status,
            amount_due = excluded.amount_due, amount_paid = excluded.amount_paid,
            hosted_invoice_url = excluded.hosted_invoice_url,
            invoice_pdf = excluded.invoice_pdf, updated_at = excluded.updated_at
        WHERE core_invoices.tenant_id = excluded.tenant_id"""),
        {**values, "t": tenant_id, "now": now()},
    )


# -- Stripe's events --------------------------------------------------------------------------


def store_event(
    conn: sa.Connection,
    event_id: str,
    event_type: str,
    payload: str,
    status: str,
    job_id: str | None,
) -> bool:
    """Store a verified event once; False if this id was stored before."""
    return bool(
        conn.execute(
            sa.text("""
            INSERT INTO sys_stripe_events (id, event_type, payload, status, job_id, received_at)
            VALUES (:id, :type, :payload, :status, :job, :now) ON CONFLICT (id) DO NOTHING"""),
            {
                "id": event_id,
                "type": event_type,
                "payload": payload,
                "status": status,
                "job": job_id,
                "now": now(),
            },
        ).rowcount
    )


def get_event(catalog: Catalog, event_id: str) -> dict[str, Any] | None:
    return catalog.row("SELECT * FROM sys_stripe_events WHERE id = :id", id=event_id)


def mark_event(
    conn: sa.Connection,
    event_id: str,
    status: str,
    tenant_id: str | None = None,
    error: str | None = None,
) -> None:
    """Record what handling did: processed, ignored or failed; or, with status 'received',
    the error of an attempt that will be retried."""
    conn.execute(
        sa.text("""UPDATE sys_stripe_events SET status = :status, error = :error,
                       tenant_id = COALESCE(:tenant, tenant_id), processed_at = :at
                   WHERE id = :id"""),
        {
            "status": status,
            "error": error,
            "tenant": tenant_id,
            "at": None if status == "received" else now(),
            "id": event_id,
        },
    )
