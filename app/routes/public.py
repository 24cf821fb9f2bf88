"""Public pages: the landing page."""

from __future__ import annotations

from fasthtml.common import H1, H2, A, APIRouter, Article, Div, P, Section
from starlette.requests import Request

from app.lib.seo import FeedLink, SiteHead
from app.ui.layout import APP_NAME, Page

rt = APIRouter()

DESCRIPTION = (
    "A multi-tenant SaaS starter on FastHTML: one command on a laptop, one container in production."
)
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
        description=DESCRIPTION,
        head=(
            *SiteHead(req.app.state.settings.base_url, APP_NAME, DESCRIPTION),
            FeedLink("/rss.xml", f"{APP_NAME} blog"),
        ),
    )
