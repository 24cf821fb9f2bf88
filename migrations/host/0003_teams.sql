-- Teams: invitations to join a tenant, and the end of an account.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- An invitation link carries a random token; only its SHA-256 is stored, so a copy of this
-- table opens no doors. Status follows from the timestamps: accepted, revoked, expired (past
-- expires_at) or pending. Resending makes a new token, so an older link stops working.
CREATE TABLE core_invitations (
    id TEXT PRIMARY KEY,                 -- management id for settings routes; not the token
    tenant_id TEXT NOT NULL REFERENCES core_tenants (id),
    email TEXT NOT NULL,                 -- lower-case; the invitee may accept as another account
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    token_hash TEXT NOT NULL UNIQUE,     -- SHA-256 hex of the link's token
    invited_by TEXT NOT NULL REFERENCES core_users (id),
    email_job_id TEXT,                   -- the system job (sys_jobs) that mails the link
    created_at TEXT NOT NULL,
    sent_at TEXT NOT NULL,               -- the last (re)send
    expires_at TEXT NOT NULL,
    accepted_at TEXT,
    accepted_by TEXT REFERENCES core_users (id),
    revoked_at TEXT
);
-- One open invitation per tenant and address; used and withdrawn ones stay for the record.
CREATE UNIQUE INDEX ux_invitations_open ON core_invitations (tenant_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX ix_invitations_tenant ON core_invitations (tenant_id, created_at);

-- A deleted account keeps its row (memberships, sessions and audit entries refer to it) but
-- loses its profile and its identity: the same Google account signing in again is a new user.
ALTER TABLE core_users ADD COLUMN deleted_at TEXT;
