-- Who may require a passkey as a second step for everyone in the workspace: owners.
INSERT INTO core_permissions (id, role, resource, action) VALUES
    ('owner-security-manage', 'owner', 'security', 'manage');
