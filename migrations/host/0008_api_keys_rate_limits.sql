-- API keys of workspaces, and rate limits shared by every app process.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- A key is shown once, when it is made; only its SHA-256 is stored, so a copy of this table
-- opens nothing. The lookup is by hash. `prefix` is the key's first characters, shown so
-- people can tell keys apart. A key acts as its workspace, never as a person: `created_by`
-- says who made it, not who it is.
CREATE TABLE core_api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES core_tenants (id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    created_by TEXT NOT NULL REFERENCES core_users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT,                     -- NULL: until revoked
    last_used_at TEXT,                   -- written at most once a minute per key
    revoked_at TEXT
);
CREATE INDEX ix_api_keys_tenant ON core_api_keys (tenant_id, created_at);

-- Token buckets shared by every process (app/web/ratelimit.py), kept as GCRA's theoretical
-- arrival time in milliseconds: one row per limit and key, one statement per request.
CREATE TABLE sys_rate_limits (
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    tat_ms BIGINT NOT NULL,
    refused INTEGER NOT NULL DEFAULT 0,  -- whether the last request was refused
    PRIMARY KEY (name, key)
);
CREATE INDEX ix_rate_limits_tat ON sys_rate_limits (tat_ms);
