-- Owners may export the tenant's tables with their personal data export.
INSERT INTO core_permissions (id, role, resource, action) VALUES
    ('owner-tenant-export', 'owner', 'tenant', 'export');
