"""Public pages: the landing page and the health endpoints."""

from __future__ import annotations

import sqlalchemy as sa
from fasthtml.common import H1, H2, A, APIRouter, Article, Div, P, Section
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.components import APP_NAME, Page
from tenants.migrate import HOST_MIGRATIONS, pending

rt = APIRouter()

FEATURES = [
    ("Runs anywhere", "SQLite on your laptop with one command; PostgreSQL in production."),
    ("A database per tenant", "Each workspace has its own database: no row can leak across."),
    ("Secure by default", "OpenID sign-in, server-side sessions, CSRF tokens, a strict CSP."),
    ("Readable in an afternoon", "Short modules, plain SQL migrations, FastHTML idiom."),
]


def Feature(title: str, text: str):
    return Article(H2(title), P(text))


@rt.get("/")
def index(req: Request):
    return Page(
        req,
        APP_NAME,
        Section(
            H1("Launch your SaaS in Python, today"),
            P("Multi-tenant, secure and fast, on FastHTML. Clone it, run it, ship it."),
            A("Open your dashboard", href="/dashboard", role="button"),
            cls="hero",
        ),
        Div(*[Feature(t, x) for t, x in FEATURES], cls="grid features"),
        description="A multi-tenant SaaS starter on FastHTML: one command on a laptop, "
        "one container in production.",
    )


@rt.get("/healthz")
def healthz():
    """The process is up and serving. Nothing else is checked, so it never flaps."""
    return JSONResponse({"status": "ok"})


@rt.get("/readyz")
def readyz(req: Request):
    """Ready for traffic: the host database answers and its migrations are current."""
    problems = []
    try:
        with req.app.state.catalog.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        if pending(req.app.state.catalog.engine, HOST_MIGRATIONS):
            problems.append("host database migrations are not current")
    except sa.exc.SQLAlchemyError as e:
        problems.append(f"host database unreachable: {type(e).__name__}")
    if problems:
        return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})
