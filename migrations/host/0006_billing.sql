-- Billing: each workspace's subscription as Stripe last told us, its invoices, the plan the
-- request path reads, and Stripe's webhook events, stored once each.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- The plan in force, next to plan_tier, so the session lookup (tenants/catalog.py) carries
-- it: plan_tier applies until plan_ends_at (the end of a trial, of a paid period that was
-- cancelled, of a grace period after a failed payment); after that the workspace has Free
-- limits. NULL: no end in sight.
ALTER TABLE core_tenants ADD COLUMN plan_status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE core_tenants ADD COLUMN plan_ends_at TEXT;

-- core_subscriptions takes Stripe's statuses and what the billing page shows. SQLite cannot
-- change a CHECK constraint, so the table is made anew and the rows copied. Its old rows
-- ("free, trialing") were read by nothing: they become what they meant, Free and active.
CREATE TABLE core_subscriptions_new (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL UNIQUE REFERENCES core_tenants (id),
    plan_tier TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'canceled',
                                           'incomplete', 'incomplete_expired', 'unpaid',
                                           'paused')),
    provider TEXT NOT NULL DEFAULT '',   -- '' (Free or a trial of our own), 'stripe', 'dev'
    provider_customer_id TEXT UNIQUE,    -- made once per workspace, reused ever after
    provider_subscription_id TEXT,
    price_id TEXT,
    billing_interval TEXT,               -- month | year
    quantity INTEGER NOT NULL DEFAULT 1, -- seats paid for (per-seat plans), else 1
    trial_ends_at TEXT,
    current_period_end TEXT,
    cancel_at_period_end INTEGER NOT NULL DEFAULT 0,
    past_due_since TEXT,                 -- when we first saw it past_due: the grace starts here
    next_invoice_at TEXT,
    next_invoice_amount INTEGER,         -- cents
    currency TEXT,
    synced_at TEXT,                      -- when the Stripe state stored here was fetched:
                                         -- an older fetch never overwrites a newer one
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO core_subscriptions_new (id, tenant_id, plan_tier, status, provider,
                                    provider_subscription_id, current_period_end,
                                    created_at, updated_at)
SELECT id, tenant_id, 'free', 'active', '', NULL, NULL, created_at, updated_at
FROM core_subscriptions;
DROP TABLE core_subscriptions;
ALTER TABLE core_subscriptions_new RENAME TO core_subscriptions;

-- The workspace's invoices as Stripe has them (a copy for the billing page and the export;
-- the links open Stripe's hosted pages).
CREATE TABLE core_invoices (
    id TEXT PRIMARY KEY,                 -- Stripe's invoice id
    tenant_id TEXT NOT NULL REFERENCES core_tenants (id),
    number TEXT,
    status TEXT NOT NULL,
    amount_due INTEGER NOT NULL,         -- cents
    amount_paid INTEGER NOT NULL,
    currency TEXT NOT NULL,
    hosted_invoice_url TEXT,
    invoice_pdf TEXT,
    created_at TEXT NOT NULL,            -- Stripe's `created`
    updated_at TEXT NOT NULL
);
CREATE INDEX ix_invoices_tenant ON core_invoices (tenant_id, created_at);

-- Every verified Stripe event, stored once under its id before it is acknowledged, and
-- handled by a system job (app/billing/webhook.py). A redelivery hits the key.
CREATE TABLE sys_stripe_events (
    id TEXT PRIMARY KEY,                 -- Stripe's event id
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,               -- the verified body, exactly as received
    status TEXT NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'processed', 'ignored', 'failed')),
    tenant_id TEXT,                      -- the workspace it was about, once known
    error TEXT,
    job_id TEXT,
    received_at TEXT NOT NULL,
    processed_at TEXT
);
CREATE INDEX ix_stripe_events_received ON sys_stripe_events (received_at);

-- The inbound "stripe" source signed with a scheme of its own that Stripe never used; Stripe
-- now has its own route (POST /webhooks/stripe), so endpoints made for it stop here.
UPDATE core_webhook_endpoints SET revoked_at = '2026-12-01T00:00:00.000000Z'
WHERE source = 'stripe' AND revoked_at IS NULL;
