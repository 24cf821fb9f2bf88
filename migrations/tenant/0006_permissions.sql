-- Permissions for decisions that routes used to make from hard-coded role lists, so every
-- authorization on a tenant route goes through this table (app/web/permissions.py).
-- Running a sync (and cancelling one) is everyone's; its schedule is for owners and admins.
INSERT INTO core_permissions (id, role, resource, action) VALUES
    ('owner-sync-run', 'owner', 'sync', 'run'),
    ('admin-sync-run', 'admin', 'sync', 'run'),
    ('member-sync-run', 'member', 'sync', 'run'),
    ('owner-sync-manage', 'owner', 'sync', 'manage'),
    ('admin-sync-manage', 'admin', 'sync', 'manage');
