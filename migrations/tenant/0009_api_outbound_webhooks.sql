-- The REST API's idempotency keys, outbound webhooks (endpoints, deliveries, attempts) and
-- who may manage API keys. Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- The first answer to a POST with an Idempotency-Key, stored in the same transaction as
-- what the POST did, so a repeat (also a concurrent one) gets the same answer and does
-- nothing again. Kept 24 hours.
CREATE TABLE api_idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,           -- SHA-256 of method, path and body
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX ix_api_idempotency_created ON api_idempotency (created_at);

-- Where this workspace wants to be told about events, and with which secret we sign.
CREATE TABLE outbound_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    event_types TEXT NOT NULL,           -- JSON list of event type names
    secret TEXT NOT NULL,                -- whsec_<base64>: Standard Webhooks signing secret
    status TEXT NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    disabled_reason TEXT,
    failed_in_a_row INTEGER NOT NULL DEFAULT 0,  -- deliveries that failed for good, in a row
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One event for one endpoint. Its id is the Standard Webhooks message id (webhook-id), the
-- same on every attempt, so the receiver can drop repeats. Each attempt is a run of its job.
CREATE TABLE outbound_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES outbound_endpoints (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,               -- the JSON body, exactly as signed and sent
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    response_status INTEGER,             -- of the last attempt
    duration_ms INTEGER,                 -- of the last attempt
    error TEXT,                          -- of the last attempt
    job_id TEXT,                         -- the tenant_jobs row that delivers it
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX ix_outbound_deliveries_endpoint ON outbound_deliveries (endpoint_id, created_at);

CREATE TABLE outbound_attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES outbound_deliveries (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    at TEXT NOT NULL,
    response_status INTEGER,
    duration_ms INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX ix_outbound_attempts_delivery ON outbound_attempts (delivery_id, attempt);

INSERT INTO core_permissions (id, role, resource, action) VALUES
    ('owner-api-manage', 'owner', 'api', 'manage'),
    ('admin-api-manage', 'admin', 'api', 'manage');
