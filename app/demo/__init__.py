"""The demo: every moving part working on a fresh clone, with nothing to configure.

- graphql.py   a small GraphQL API of orders (served in-process and at /demo/graphql)
- sync.py      the "Demo orders" sync of that API into the `demo_orders` table
- handlers.py  a slow job with a progress bar, and a webhook handler that writes notes
- routes.py    /demo: buttons to try them, and the GraphQL endpoint

`app/factory.py` installs it outside production only; production never imports it. To
remove the demo, delete this folder and the `install_demo` lines in `app/factory.py`.
(Its table stays in migrations/tenant/0003_sync.sql: applied migrations are never edited.)
"""

from __future__ import annotations

from fasthtml.common import APIRouter

from app.demo import handlers, routes
from app.demo.sync import DEMO
from app.syncs.sources import register_spec


def install() -> list[tuple[str, APIRouter]]:
    """Register the demo's handlers and sync; return its routers with their access classes."""
    handlers.register()
    register_spec(DEMO, default=True)
    return [("public", routes.public_rt), ("tenant", routes.rt)]
