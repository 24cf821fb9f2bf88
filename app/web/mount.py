"""How route handlers are added to the app, and where they run.

FastHTML runs a plain `def` handler in a worker thread. On SQLite a read takes tens of
microseconds, while the hop to a thread and back costs 250-430 us of CPU under load, so
there a handler that only answers GET runs on the event loop instead. That is safe because
such a handler never waits on anything: it runs start to end without an await, SQLite reads
in WAL mode never wait for a writer, SQLite pools never make a checkout wait (app/factory.py
sizes them unbounded), and the request's connection is back in the pool before the response
is sent. Handlers that write (POST, PUT, PATCH, DELETE) still get a thread, because a write
can wait for SQLite's lock; on PostgreSQL every plain handler does, since every query
waits on the network.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fasthtml.common import APIRouter, FastHTML

READS = ({"get"}, {"get", "head"})


def mount(app: FastHTML, router: APIRouter, *, reads_on_loop: bool) -> None:
    """Add the router's routes to `app` (what `router.to_app(app)` does, plus the choice)."""
    if type(router).to_app is not APIRouter.to_app:  # a router that mounts itself (raw routes)
        return router.to_app(app)
    for func, path, methods, name, include_in_schema, body_wrap in router.routes:
        if reads_on_loop and _reads_only(methods) and not inspect.iscoroutinefunction(func):
            func = _on_loop(func)
        app._add_route(func, path, methods, name, include_in_schema, body_wrap)
    for args in router.wss:
        app._add_ws(*args)


def _reads_only(methods: Any) -> bool:
    if not methods:
        return False
    listed = {methods} if isinstance(methods, str) else set(methods)
    return {m.lower() for m in listed} in READS


def _on_loop(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` as a coroutine function with the same signature (FastHTML reads it through
    `__wrapped__` to fill the parameters), so FastHTML calls it inline."""

    @functools.wraps(func)
    async def inline(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return inline
