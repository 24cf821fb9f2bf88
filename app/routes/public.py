"""Public pages: the landing page (hero, a look at the app, features, pricing, FAQ).

The page is the same for every visitor but for one thing, the header's way in (a session
cookie or not), so its body is rendered once (`LandingBody`). Pricing comes from the one
plan definition billing uses too (app/billing/plans.py).
"""

from __future__ import annotations

from fasthtml.common import (
    H1,
    H2,
    H3,
    APIRouter,
    Details,
    Div,
    Img,
    Li,
    P,
    Section,
    Span,
    Summary,
    Ul,
)
from starlette.requests import Request

from app.billing.plans import PLANS, Plan
from app.ui.components import rendered_once
from app.ui.icons import Icon
from app.ui.kit import Badge, Button
from app.ui.layout import APP_NAME, Page
from app.ui.seo import FeedLink, SiteHead

rt = APIRouter()

DESCRIPTION = (
    "A multi-tenant SaaS starter on FastHTML: one command on a laptop, one container in production."
)
FEATURES = [
    (
        "rocket",
        "Runs anywhere",
        "SQLite on your laptop with one command; PostgreSQL in production.",
    ),
    (
        "database",
        "A database per tenant",
        "Each workspace has its own database: no row can leak across.",
    ),
    (
        "shield",
        "Secure by default",
        "OpenID sign-in, server-side sessions, CSRF tokens, a strict CSP.",
    ),
    ("jobs", "Background jobs", "Retries, progress bars and workflows, surviving restarts."),
    ("sync", "Data sync", "Incremental syncs from any API, scheduled, with live progress."),
    ("code", "Readable in an afternoon", "Short modules, plain SQL migrations, FastHTML idiom."),
]
FAQ = [
    (
        "Do I need Docker or a database server to start?",
        "No. uv run main.py starts the app on SQLite, one file per workspace. Production runs "
        "the same code as one container against PostgreSQL.",
    ),
    (
        "How are tenants kept apart?",
        "Every workspace has its own database, and every request checks the membership again, "
        "so one tenant's ids simply do not exist in another's.",
    ),
    (
        "Can I use my own sign-in provider?",
        "Yes: any OpenID Connect provider works (Google is the default). In development you can "
        "sign in as anyone by typing an email.",
    ),
    (
        "Does it need Node or a front-end build?",
        "No. Pages are FastHTML components; htmx, the CSS and a few small scripts are served from "
        "static/ under a strict Content Security Policy.",
    ),
    (
        "Is it free?",
        "The starter is open source. The plans above are an example of what you could charge; "
        "change them in one place, app/billing/plans.py.",
    ),
]


def Feature(icon: str, title: str, text: str):
    return Div(Span(Icon(icon, large=True), cls="feature-icon"), H3(title), P(text), cls="feature")


def PlanCard(plan: Plan):
    action = (
        Button("Contact us", href="mailto:sales@example.com", variant="outline", cls="btn-block")
        if plan.monthly_cents is None
        else Button(
            "Start free" if plan.monthly_cents == 0 else f"Choose {plan.name}",
            href="/login",
            variant="primary" if plan.featured else "outline",
            cls="btn-block",
        )
    )
    return Div(
        Div(
            H3(plan.name),
            Badge("Most popular", "primary") if plan.featured else "",
            cls="plan-head",
        ),
        P(plan.tagline, cls="muted"),
        Div(
            plan.price,
            Span(" per workspace a month", cls="sr-only") if plan.monthly_cents else "",
            Span(" /month", aria_hidden="true") if plan.monthly_cents else "",
            cls="plan-price",
        ),
        Ul(*[Li(Icon("check"), Span(f)) for f in plan.features]),
        action,
        cls="card plan" + (" plan-featured" if plan.featured else ""),
    )


def Screenshot():
    """The app itself, light or dark as the page is (docs/ has the same pictures)."""
    alt = "The dashboard: stat cards, the onboarding checklist and recent activity."
    return Div(
        Img(
            src="/static/img/dashboard-light.png", alt=alt, width=1280, height=800, cls="shot-light"
        ),
        Img(src="/static/img/dashboard-dark.png", alt=alt, width=1280, height=800, cls="shot-dark"),
        cls="shot",
    )


def Band(id: str, title: str, lead: str, *content):
    return Section(
        Div(Div(H2(title), P(lead), cls="band-head"), *content, cls="container"), id=id, cls="band"
    )


@rendered_once
def LandingBody():
    return (
        Section(
            Div(
                Span(Icon("bolt"), "Open source · FastHTML · htmx", cls="eyebrow"),
                H1("Launch your SaaS in Python, today"),
                P(
                    "Multi-tenant, secure and fast, on FastHTML. Sign-in, workspaces, teams, jobs, "
                    "syncs and webhooks are done: clone it, run it, ship it.",
                    cls="lead",
                ),
                Div(
                    Button("Open your dashboard", href="/dashboard", size="lg"),
                    Button(
                        "Read the guide", href="/blog/getting-started", variant="outline", size="lg"
                    ),
                    cls="row",
                ),
                Screenshot(),
                cls="container",
            ),
            cls="hero",
        ),
        Band(
            "features",
            "Everything a SaaS needs on day one",
            "The parts every product rebuilds, built once and tested in a real browser.",
            Div(*[Feature(*f) for f in FEATURES], cls="features"),
        ),
        Band(
            "pricing",
            "Simple pricing",
            "Per workspace, billed monthly. Start free; upgrade when your team grows.",
            Div(*[PlanCard(p) for p in PLANS], cls="pricing"),
        ),
        Band(
            "faq",
            "Questions",
            "What people ask before they clone it.",
            Div(*[Details(Summary(q), P(a)) for q, a in FAQ], cls="faq"),
            Div(
                H2("Ready to build?"),
                P("Sign in and your own workspace is waiting.", cls="muted"),
                Button("Get started", href="/login", size="lg"),
                cls="cta",
            ),
        ),
    )


@rt.get("/")
def index(req: Request):
    return Page(
        req,
        APP_NAME,
        LandingBody(),
        description=DESCRIPTION,
        head=(
            *SiteHead(req.app.state.settings.base_url, APP_NAME, DESCRIPTION),
            FeedLink("/rss.xml", f"{APP_NAME} blog"),
        ),
    )
