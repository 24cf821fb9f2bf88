-- Background jobs and inbound webhooks of one tenant.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- Durable jobs: a job is a row before it runs. Same shape as the host's sys_jobs.
-- status: pending (waiting for run_at) -> running (claimed until lease_until by the holder
-- of lease_token) -> completed | failed (attempts exhausted) | cancelled.
CREATE TABLE tenant_jobs (
    id TEXT PRIMARY KEY,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    payload TEXT NOT NULL DEFAULT '{}',  -- JSON object: the handler's keyword arguments
    result TEXT,                         -- JSON returned by the handler
    error TEXT,                          -- last failure, kept after the job has failed
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    run_at TEXT NOT NULL,                -- not before: set by submit and by retry backoff
    lease_until TEXT,                    -- a running job whose lease passed was abandoned
    lease_token TEXT,                    -- fencing token of the current claim
    progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    progress_message TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX ix_tenant_jobs_due ON tenant_jobs (status, run_at);
CREATE INDEX ix_tenant_jobs_created ON tenant_jobs (created_at);

-- Signing secrets of this tenant's webhook endpoints (core_webhook_endpoints.id in the host).
-- Rotation adds a secret and gives the old ones an expiry; until then both verify.
CREATE TABLE webhook_secrets (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,                     -- NULL: valid until rotated or revoked
    revoked_at TEXT
);
CREATE INDEX ix_webhook_secrets_endpoint ON webhook_secrets (endpoint_id);

-- Every verified delivery, stored once under the provider's event id before it is
-- acknowledged. A redelivery hits the unique key and is not processed again.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    source TEXT NOT NULL,
    event_key TEXT NOT NULL,             -- the provider's event or delivery id
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,               -- the verified body, exactly as received
    status TEXT NOT NULL DEFAULT 'received'
        CHECK (status IN ('received', 'processed', 'ignored', 'failed')),
    error TEXT,
    job_id TEXT,                         -- the tenant_jobs row that handles it
    received_at TEXT NOT NULL,
    processed_at TEXT,
    UNIQUE (source, event_key)
);
CREATE INDEX ix_webhook_events_received ON webhook_events (received_at);
