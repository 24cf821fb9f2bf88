-- Workflow steps and the person behind each job; revisions for the due-work index; who may
-- manage jobs. Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- A workflow job's steps, in order, as JSON: [{"name", "status", "result", "error", ...}].
-- NULL for a job that is not a workflow. A step's "completed" is written in the same
-- transaction as the step's own writes.
ALTER TABLE tenant_jobs ADD COLUMN steps TEXT;
-- The user who started the job (core_users.id); NULL for work the system started (webhooks,
-- schedules). Members see the details of their own jobs only.
ALTER TABLE tenant_jobs ADD COLUMN submitted_by TEXT;

-- Every change of a job or a schedule counts up its revision, so the host's due-work index
-- can tell which state of the row an entry accounts for (tenants/due.py).
ALTER TABLE tenant_jobs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_sources ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

-- Cancelling and retrying jobs, and seeing every job's details.
INSERT INTO core_permissions (id, role, resource, action) VALUES
    ('owner-jobs-manage', 'owner', 'jobs', 'manage'),
    ('admin-jobs-manage', 'admin', 'jobs', 'manage');
