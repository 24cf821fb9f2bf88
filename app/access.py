"""Every route belongs to exactly one access class; the Beforeware is configured from them.

- public:    anyone (landing, login, blog, health). The auth Beforeware skips these.
- signed_in: a signed-in user, no tenant needed (sign out, switch tenant).
- tenant:    a member of the session's current tenant; gets `auth.db`.
- webhook:   machines; no session and no CSRF token, a signature instead.

A test walks the app's routes and fails on any route that is in none of them.
"""

from __future__ import annotations

import re

from fasthtml.common import APIRouter
from starlette.routing import compile_path

ACCESS_CLASSES = ("public", "signed_in", "tenant", "webhook")


class Access:
    def __init__(self) -> None:
        self.routers: dict[str, list[APIRouter]] = {c: [] for c in ACCESS_CLASSES}
        self._signed_in: list[re.Pattern] | None = None

    def add(self, access: str, router: APIRouter) -> None:
        self.routers[access].append(router)
        self._signed_in = None

    def paths(self, access: str) -> list[str]:
        return [path for router in self.routers[access] for _, path, *_ in router.routes]

    def skip_auth(self) -> list[str]:
        """Regexes (for FastHTML's `Beforeware(skip=...)`) of routes that need no session."""
        return [compile_path(p)[0].pattern for a in ("public", "webhook") for p in self.paths(a)]

    def skip_csrf(self) -> list[str]:
        return [compile_path(p)[0].pattern for p in self.paths("webhook")]

    def signed_in_only(self, path: str) -> bool:
        if self._signed_in is None:
            self._signed_in = [compile_path(p)[0] for p in self.paths("signed_in")]
        return any(r.fullmatch(path) for r in self._signed_in)

    def classify(self, path: str) -> str | None:
        """The access class of a route path, or None if no router declared it."""
        return next((a for a in ACCESS_CLASSES if path in self.paths(a)), None)
