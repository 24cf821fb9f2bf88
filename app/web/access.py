"""Every route belongs to exactly one access class, which decides what the Beforeware checks.

- public:    anyone (landing, login, blog, health). CSRF still applies to their forms.
- signed_in: a signed-in user, no tenant needed (sign out, switch tenant).
- tenant:    a member of the session's current tenant; gets `auth.db`.
- webhook:   machines; no session and no CSRF token, a signature instead.
- api:       the REST API (/api/v1): an API key as `Authorization: Bearer`, acting as its
             workspace; no CSRF token, and cookies never authenticate (app/api/keys.py).
- superuser: the service's operators (/admin); never a tenant role, never an impersonation.

A test walks the app's routes and fails on any route that is in none of them. A route added
outside the routers (say `@app.route`) is treated as `tenant`: the strictest class.
"""

from __future__ import annotations

from fasthtml.common import APIRouter
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

ACCESS_CLASSES = ("public", "signed_in", "tenant", "webhook", "api", "superuser")


class Access:
    def __init__(self) -> None:
        self.routers: dict[str, list[APIRouter]] = {c: [] for c in ACCESS_CLASSES}
        self._by_endpoint: dict[object, str] = {}

    def add(self, access: str, router: APIRouter) -> None:
        self.routers[access].append(router)

    def paths(self, access: str) -> list[str]:
        return [path for router in self.routers[access] for _, path, *_ in router.routes]

    def classify(self, path: str) -> str | None:
        """The access class of a route path, or None if no router declared it."""
        return next((a for a in ACCESS_CLASSES if path in self.paths(a)), None)

    def index(self, routes: list[BaseRoute]) -> None:
        """Map each route's endpoint to its class once, so a request costs one dict lookup."""
        for route in routes:
            if isinstance(route, Route) and (access := self.classify(route.path)):
                self._by_endpoint[route.endpoint] = access

    def of(self, scope: Scope) -> str:
        return self._by_endpoint.get(scope.get("endpoint"), "tenant")
