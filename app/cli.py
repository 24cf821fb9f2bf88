"""The command line behind `main.py`: serve (default) and operations subcommands."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from app.settings import Settings, SettingsError, load_settings
from tenants.catalog import Catalog
from tenants.migrate import MigrationError
from tenants.routing import TenantDatabases


def serve(settings: Settings) -> int:
    from app.factory import create_app

    app = create_app(settings)
    print(f"Serving on http://{settings.host}:{settings.port} ({settings.app_env})")
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
    )
    return 0


def migrate(settings: Settings) -> int:
    """Migrate the host catalog, then every tenant; report each failure and exit non-zero."""
    catalog = Catalog(settings.database_url)
    applied = catalog.migrate()
    print(f"host: {len(applied)} migration(s) applied")
    tenants = catalog.rows("SELECT id FROM core_tenants WHERE status IN ('active', 'suspended')")
    databases = TenantDatabases(settings.tenant_database_url, cache_size=1)
    failures = 0
    for tenant in tenants:
        try:
            databases.handle(tenant["id"]).close()
        except Exception as e:  # report and carry on with the others
            failures += 1
            print(f"tenant {tenant['id']}: FAILED: {e}")
    databases.dispose()
    catalog.dispose()
    print(f"tenants: {len(tenants) - failures} migrated, {failures} failed")
    return 1 if failures else 0


COMMANDS = {"serve": serve, "migrate": migrate}


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="main.py", description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=sorted(COMMANDS))
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        logging.basicConfig(level=settings.log_level)
        return COMMANDS[args.command](settings)
    except SettingsError as e:
        print(e)
        return 2
    except MigrationError as e:
        print(f"migration failed: {e}")
        return 1
