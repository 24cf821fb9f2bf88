"""The app factory: settings in, a FastHTML app out. `main.py` and the tests both call it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fasthtml.common import FastHTML
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from app.lib.blog import Blog
from app.routes import ROUTERS
from app.routes.api import api
from app.settings import Settings, load_settings, secret_key
from app.telemetry.metrics import ENGINES, process_stopped
from app.ui.layout import APP_NAME
from app.web.access import Access
from app.web.edge import Edge
from app.web.errors import ERROR_HANDLERS
from app.web.guard import guard
from app.web.mount import mount
from app.web.providers import register_providers
from app.web.ratelimit import RateLimits
from app.work import email as email_jobs
from app.work.handlers import register_handlers
from app.work.periodic import every
from app.work.scheduler import background_lifespan
from tenants.api_keys import ApiKeys
from tenants.catalog import Catalog
from tenants.engines import is_sqlite
from tenants.routing import TenantDatabases

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


class SaasApp(FastHTML):
    def build_middleware_stack(self):
        # Outermost, so even Starlette's last-resort 500 response carries the headers and the
        # request id (and the server's crash log line carries the id too).
        stack = super().build_middleware_stack()
        state = self.state
        return Edge(stack, state.settings, state.secret_key, state.limits)


async def _lifespan(app: SaasApp):
    databases, idle_seconds = app.state.databases, app.state.settings.tenant_idle_minutes * 60
    async with (
        background_lifespan(app),  # job scheduler (due jobs and syncs) and recovery
        # thousands of rarely used tenants must not each keep connections open
        every(60, lambda: databases.close_idle(idle_seconds), "closing idle tenant pools"),
        every(15, lambda: ENGINES.set(len(databases)), "counting tenant engines"),
    ):
        yield
    process_stopped()
    app.state.databases.dispose()
    app.state.catalog.dispose()


def open_data_layer(settings: Settings) -> tuple[Catalog, TenantDatabases]:
    """The host catalog and the tenant databases, sized and secured as the settings say."""
    catalog = Catalog(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_overflow=settings.database_pool_overflow,
    )
    databases = TenantDatabases(
        settings.tenant_database_url,
        cache_size=settings.tenant_engine_cache_size,
        pool_size=settings.tenant_pool_size,
        pool_overflow=settings.tenant_pool_overflow,
        role_secret=secret_key(settings) if settings.tenant_db_roles else None,
    )
    return catalog, databases


def create_app(settings: Settings | None = None) -> SaasApp:
    settings = settings or load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.sentry_dsn:  # without a DSN the SDK is never imported
        from app.telemetry import sentry

        sentry.init(settings)
    catalog, databases = open_data_layer(settings)
    catalog.migrate()
    register_handlers()
    routers = ROUTERS(settings)
    # Production never imports the demo; deleting the app/demo/ folder removes it everywhere.
    demo = not settings.is_production and importlib.util.find_spec("app.demo") is not None
    if demo:
        from app.demo import install as install_demo

        routers += install_demo()
    access = Access()
    for kind, router in routers:
        access.add(kind, router)

    key = secret_key(settings)
    app = SaasApp(
        title=APP_NAME,
        default_hdrs=False,
        canonical=False,  # pages set their own canonical URL from BASE_URL
        secret_key=key,
        sess_cls=None,  # the edge (app/web/edge.py) reads and writes the session cookie
        before=guard,
        exception_handlers=ERROR_HANDLERS,
        lifespan=_lifespan,
    )
    app.router.redirect_slashes = False  # it builds the redirect from the Host header
    state = app.state
    state.settings, state.catalog, state.access, state.secret_key = settings, catalog, access, key
    state.databases, state.demo = databases, demo
    state.api, state.api_keys = api, ApiKeys(catalog)  # the REST API (app/routes/api.py)
    # SQLite reads take microseconds and never wait: run them on the loop (app/web/mount.py)
    state.reads_on_loop = is_sqlite(settings.database_url) and is_sqlite(
        settings.tenant_database_url
    )
    state.limits = RateLimits(settings, catalog.engine)
    state.oauth = register_providers(settings, catalog)
    state.blog = Blog(settings.blog_dir)
    state.blog.refresh()  # parse every post now: bad front matter is logged at startup
    email_jobs.configure(settings)  # bad SMTP_* settings stop startup with a clear message
    for _, router in routers:
        mount(app, router, reads_on_loop=state.reads_on_loop)
    access.index(app.routes)
    # Static files come from static/ only: FastHTML's default would serve the working tree.
    # First in the table, so an asset is one match away instead of a walk past every route.
    app.routes.insert(0, Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    return app
