"""The demo GraphQL API at /demo/graphql (development only: not mounted in production).

GET runs queries (`?query=...&variables=...`), POST runs queries and mutations. POST passes
the CSRF check like any form, so it works from the app's own pages; the built-in demo sync
does not come through here at all (see app/syncs/demo.py).
"""

from __future__ import annotations

from fasthtml.common import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.demo_graphql import STORE, respond

rt = APIRouter()


@rt("/demo/graphql", methods=["get", "post"])
async def demo_graphql(req: Request) -> JSONResponse:
    return await respond(req, STORE)
