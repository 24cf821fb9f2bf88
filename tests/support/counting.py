"""TenantDatabases that count what they open: handles asked for and engines built (each build
runs the tenant's migrations and reflects its schema), per tenant."""

from __future__ import annotations

from collections import Counter

from tenants.routing import TenantDatabases, TenantDB, _Entry


class CountingDatabases(TenantDatabases):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.handles: Counter[str] = Counter()
        self.builds: Counter[str] = Counter()

    def handle(self, tenant_id: str) -> TenantDB:
        self.handles[tenant_id] += 1
        return super().handle(tenant_id)

    def _build(self, tenant_id: str) -> _Entry:
        self.builds[tenant_id] += 1
        return super()._build(tenant_id)

    def reset(self) -> None:
        self.handles.clear()
        self.builds.clear()

    @property
    def opened(self) -> set[str]:
        """Tenants whose database was asked for since the last reset."""
        return set(self.handles) | set(self.builds)
