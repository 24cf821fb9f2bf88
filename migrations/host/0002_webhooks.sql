-- Inbound webhook endpoints, and a fencing token for system jobs.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- A webhook URL is /webhooks/<source>/<token>. The token is 256 random bits shown once, when
-- the endpoint is created; only its SHA-256 is stored, so a copy of this catalog reveals no
-- live URL. The lookup is by hash, so a guess never compares against a stored token byte by
-- byte. Signing secrets live in the tenant's own database (webhook_secrets), not here.
CREATE TABLE core_webhook_endpoints (
    id TEXT PRIMARY KEY,                 -- management id for settings routes; not the URL token
    token_hash TEXT NOT NULL UNIQUE,     -- SHA-256 hex of the URL token
    token_hint TEXT NOT NULL,            -- its first characters, so people can tell URLs apart
    tenant_id TEXT NOT NULL REFERENCES core_tenants (id),
    source TEXT NOT NULL,                -- 'demo', 'stripe', 'github', ...: picks the scheme
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
-- One live endpoint per tenant and source; revoked ones stay for the record.
CREATE UNIQUE INDEX ux_webhook_endpoints_live ON core_webhook_endpoints (tenant_id, source)
    WHERE revoked_at IS NULL;

-- Each claim of a job writes a fresh random token; only the holder of the current token may
-- record progress or an outcome. A run that lost its lease (or was cancelled) is fenced out.
ALTER TABLE sys_jobs ADD COLUMN lease_token TEXT;
