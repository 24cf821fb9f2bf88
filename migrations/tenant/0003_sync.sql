-- External data sync: the tenant's data sources, how far each has synced, and the table the
-- built-in demo source fills. Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- A source is an instance of a sync defined in code (app/syncs, `kind`); the tenant chooses
-- when it runs. Endpoints and credentials come from code and settings, never from this
-- table, so a tenant cannot point the server at an arbitrary URL.
CREATE TABLE sync_sources (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    schedule TEXT NOT NULL DEFAULT 'off' CHECK (schedule IN ('off', 'hourly', 'daily')),
    next_run_at TEXT,  -- when the scheduler starts it next; NULL while the schedule is off
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One row per source. `high_water` is the newest source timestamp committed so far; it
-- moves in the same transaction as each batch of rows, so it never runs ahead of the data.
-- The `run_*` counters describe the current (or last) run for the progress display.
CREATE TABLE sync_state (
    source_id TEXT PRIMARY KEY REFERENCES sync_sources (id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'idle'
        CHECK (status IN ('idle', 'running', 'succeeded', 'failed', 'cancelled')),
    mode TEXT NOT NULL DEFAULT 'incremental' CHECK (mode IN ('full', 'incremental')),
    high_water TEXT,
    job_id TEXT,        -- the tenant_jobs row running it: its retries may take the run over
    run_token TEXT,     -- this attempt's fence: a run that was taken over can write no more
    run_pages INTEGER NOT NULL DEFAULT 0,
    run_fetched INTEGER NOT NULL DEFAULT 0,
    run_written INTEGER NOT NULL DEFAULT 0,
    run_total INTEGER,  -- the source's own count, when it reports one
    started_at TEXT,
    heartbeat_at TEXT,  -- a running sync touches this per batch; a stale one can be taken over
    finished_at TEXT,
    last_success_at TEXT,
    last_error TEXT
);

-- Orders from the demo GraphQL source (app/demo_graphql.py). Money is integer cents.
CREATE TABLE demo_orders (
    id TEXT PRIMARY KEY,
    customer_name TEXT NOT NULL,
    customer_email TEXT,
    status TEXT NOT NULL,
    total_cents BIGINT NOT NULL,
    paid BOOLEAN NOT NULL,
    ordered_on TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX ix_demo_orders_updated_at ON demo_orders (updated_at);
