-- Due work: which tenant has background work due, and when, so the schedulers open only the
-- databases of tenants with something to do (tenants/due.py explains the rules that keep an
-- entry from ever being later than its work). Also the steps and owner of system jobs.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- One row per unfinished tenant job or enabled sync schedule, never one per tenant: a job
-- that finishes and a new one in the same tenant each touch their own row.
CREATE TABLE sys_due_work (
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('job', 'sync')),
    item_id TEXT NOT NULL,               -- tenant_jobs.id or sync_sources.id in the tenant
    due_at TEXT NOT NULL,                -- no later than the work really becomes due
    revision INTEGER NOT NULL,           -- the item row's revision this entry accounts for
    announced_at TEXT NOT NULL,          -- when the work was last brought forward
    PRIMARY KEY (tenant_id, kind, item_id)
);
CREATE INDEX ix_due_work_due ON sys_due_work (due_at);

-- One-off tasks an upgrade needs, run by `main.py migrate` and at startup until done.
CREATE TABLE sys_maintenance (
    task TEXT PRIMARY KEY,
    done_at TEXT                         -- NULL: still to run
);
-- Jobs and schedules made before this migration have no entries yet: index them once.
INSERT INTO sys_maintenance (task) VALUES ('due_work_backfill');

-- Same shape as tenant_jobs (tenant migration 0005).
ALTER TABLE sys_jobs ADD COLUMN steps TEXT;
ALTER TABLE sys_jobs ADD COLUMN submitted_by TEXT;
ALTER TABLE sys_jobs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
