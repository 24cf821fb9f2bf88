"""The app factory: settings in, a FastHTML app out. `main.py` and the tests both call it."""

from __future__ import annotations

from pathlib import Path

from fasthtml.common import Beforeware, FastHTML
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from app.access import Access
from app.auth import ReleaseTenantDB, authenticate, check_csrf, refuse_foreign_tenant
from app.components import APP_NAME, StaticHeaders
from app.errors import ERROR_HANDLERS
from app.jobs import background_lifespan
from app.oidc import register_oidc
from app.routes import ROUTERS
from app.security import SecurityHeaders
from app.settings import Settings, load_settings, secret_key
from tenants.catalog import Catalog
from tenants.routing import TenantDatabases

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


class SaasApp(FastHTML):
    def build_middleware_stack(self):
        # Outermost, so even Starlette's last-resort 500 response carries the headers.
        stack = super().build_middleware_stack()
        return SecurityHeaders(stack, hsts=self.state.settings.is_production)


async def _lifespan(app: SaasApp):
    async with background_lifespan(app):  # job scheduler and recovery
        yield
    app.state.databases.dispose()
    app.state.catalog.dispose()


def create_app(settings: Settings | None = None) -> SaasApp:
    settings = settings or load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(settings.database_url)
    catalog.migrate()
    routers = ROUTERS(settings)
    access = Access()
    for kind, router in routers:
        access.add(kind, router)

    key = secret_key(settings)
    app = SaasApp(
        title=APP_NAME,
        hdrs=StaticHeaders(),
        default_hdrs=False,
        canonical=False,  # pages set their own canonical URL from BASE_URL
        secret_key=key,
        session_cookie=settings.session_cookie,
        max_age=settings.session_absolute_hours * 3600,
        same_site="lax",
        sess_https_only=settings.secure_cookies,
        before=[
            Beforeware(check_csrf, skip=access.skip_csrf()),
            Beforeware(authenticate, skip=access.skip_auth()),
            Beforeware(refuse_foreign_tenant, skip=access.skip_auth()),
        ],
        middleware=[Middleware(ReleaseTenantDB)],
        exception_handlers=ERROR_HANDLERS,
        lifespan=_lifespan,
    )
    state = app.state
    state.settings, state.catalog, state.access, state.secret_key = settings, catalog, access, key
    state.databases = TenantDatabases(
        settings.tenant_database_url, cache_size=settings.tenant_engine_cache_size
    )
    state.oauth = register_oidc(settings, catalog)
    for _, router in routers:
        router.to_app(app)
    # Static files come from static/ only: FastHTML's default would serve the working tree.
    app.routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    return app
