-- Who may see the workspace's plan, usage and invoices (Settings -> Billing). Changing the
-- plan, the payment method or cancelling stays billing.manage (owners, 0001_core.sql); a
-- workspace may grant it to admins with a row of its own.
INSERT INTO core_permissions (id, role, resource, action) VALUES
    ('owner-billing-view', 'owner', 'billing', 'view'),
    ('admin-billing-view', 'admin', 'billing', 'view');
