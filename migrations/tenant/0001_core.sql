-- Core tables of every tenant database. Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- People of this tenant. `id` is the global user id (core_users.id in the host catalog), so
-- app tables can reference users locally. Access is decided by the host membership on every
-- request; `role` mirrors it for queries inside the tenant.
CREATE TABLE core_tenant_users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    preferences TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    last_active_at TEXT
);

-- What each role may do: resource + action. Defaults below; a tenant may add rows.
CREATE TABLE core_permissions (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    resource TEXT NOT NULL,
    action TEXT NOT NULL,
    UNIQUE (role, resource, action)
);
INSERT INTO core_permissions (id, role, resource, action) VALUES
    ('owner-tenant-delete', 'owner', 'tenant', 'delete'),
    ('owner-billing-manage', 'owner', 'billing', 'manage'),
    ('owner-members-manage', 'owner', 'members', 'manage'),
    ('owner-settings-edit', 'owner', 'settings', 'edit'),
    ('owner-webhooks-manage', 'owner', 'webhooks', 'manage'),
    ('owner-audit-view', 'owner', 'audit', 'view'),
    ('owner-data-read', 'owner', 'data', 'read'),
    ('owner-data-write', 'owner', 'data', 'write'),
    ('admin-members-manage', 'admin', 'members', 'manage'),
    ('admin-settings-edit', 'admin', 'settings', 'edit'),
    ('admin-webhooks-manage', 'admin', 'webhooks', 'manage'),
    ('admin-audit-view', 'admin', 'audit', 'view'),
    ('admin-data-read', 'admin', 'data', 'read'),
    ('admin-data-write', 'admin', 'data', 'write'),
    ('member-data-read', 'member', 'data', 'read'),
    ('member-data-write', 'member', 'data', 'write');

-- One row of tenant-wide settings.
CREATE TABLE core_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    timezone TEXT NOT NULL DEFAULT 'UTC',
    currency TEXT NOT NULL DEFAULT 'USD',
    feature_flags TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT
);
INSERT INTO core_settings (id) VALUES (1);

-- A small example app table the dashboard writes to ("notes"), to show the pattern.
CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    author_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
