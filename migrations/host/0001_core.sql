-- Host catalog: who people are, which tenants exist, who may enter which.
-- Portable SQL only: every migration runs unchanged on SQLite and PostgreSQL.
-- Ids are random hex strings made by the app; timestamps are fixed-width ISO-8601 UTC text.

CREATE TABLE core_users (
    id TEXT PRIMARY KEY,
    issuer TEXT NOT NULL,            -- OpenID issuer; identity is (issuer, subject), never email
    subject TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    avatar_url TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    last_login_at TEXT,
    UNIQUE (issuer, subject)
);

CREATE TABLE core_tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'provisioning'
        CHECK (status IN ('provisioning', 'active', 'suspended', 'deleted')),
    plan_tier TEXT NOT NULL DEFAULT 'free',
    db_name TEXT NOT NULL,           -- file or database name only: never a DSN, never credentials
    created_by TEXT NOT NULL REFERENCES core_users (id),
    personal_key TEXT UNIQUE,        -- 'first:<user id>': makes first-sign-in provisioning happen once
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE core_memberships (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES core_users (id),
    tenant_id TEXT NOT NULL REFERENCES core_tenants (id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at TEXT NOT NULL,
    UNIQUE (user_id, tenant_id)
);
CREATE INDEX ix_memberships_tenant ON core_memberships (tenant_id);

CREATE TABLE core_subscriptions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL UNIQUE REFERENCES core_tenants (id),
    plan_tier TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('trialing', 'active', 'past_due', 'canceled')),
    provider TEXT NOT NULL DEFAULT '',
    provider_subscription_id TEXT,
    trial_ends_at TEXT,
    current_period_end TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Append-only: the app has no code path that updates or deletes these rows.
CREATE TABLE sys_audit_logs (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    actor_user_id TEXT,
    tenant_id TEXT,
    action TEXT NOT NULL,
    ip TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX ix_audit_tenant_at ON sys_audit_logs (tenant_id, at);

CREATE TABLE sys_jobs (
    id TEXT PRIMARY KEY,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    payload TEXT NOT NULL DEFAULT '{}',
    result TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    run_at TEXT NOT NULL,
    lease_until TEXT,
    progress INTEGER NOT NULL DEFAULT 0,
    progress_message TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX ix_sys_jobs_due ON sys_jobs (status, run_at);

-- Server-side sessions. The cookie carries an opaque random id; only its SHA-256 is stored,
-- so a copy of this table opens no sessions.
CREATE TABLE core_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES core_users (id),
    tenant_id TEXT REFERENCES core_tenants (id),
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    ip TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ix_sessions_user ON core_sessions (user_id);

-- OpenID state, nonce and PKCE verifier between /login and /auth/callback, server-side and
-- single use, so the cookie never carries them and every app process can finish a sign-in.
CREATE TABLE core_oauth_states (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
