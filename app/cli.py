"""The command line behind `main.py`: serve (the default) and operations.

    uv run main.py                            serve the app
    uv run main.py migrate                    the host catalog, then every tenant
    uv run main.py check                      settings, migrations, databases, SMTP, OpenID
    uv run main.py tenants list [--status S]
    uv run main.py tenants suspend|resume ID
    uv run main.py tenants delete ID --yes    drops the tenant's database: no undo
    uv run main.py users list [--email TEXT]
    uv run main.py users promote|demote EMAIL   superuser: the operator console at /admin
    uv run main.py jobs list [--tenant ID] [--status S] [--type T] [--limit N]
    uv run main.py jobs retry JOB_ID [--tenant ID]
    uv run main.py billing sync               every workspace's subscription from Stripe

Exit status: 0 done, 1 failed (the message says what), 2 bad usage or settings.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn
from sqlalchemy.engine import URL

from app.billing.jobs import end_subscription
from app.billing.reconcile import reconcile
from app.billing.stripe_api import StripeUnavailable
from app.factory import create_app, open_data_layer
from app.lib.email_send import SmtpConfig, _connection
from app.log_config import configure_logging
from app.routes.health import database_problems
from app.settings import Settings, SettingsError, load_settings
from app.work.jobs import JobManager
from app.work.scheduler import SHUTDOWN_GRACE_SECONDS
from tenants import billing
from tenants import jobs as store
from tenants.catalog import Catalog
from tenants.due import DueWork
from tenants.engines import (
    TENANT_ID,
    create_engine,
    is_sqlite,
    normalize_url,
    sqlite_path,
    tenant_url,
)
from tenants.migrate import HOST_MIGRATIONS, TENANT_MIGRATIONS, MigrationError
from tenants.migrate import check as check_migrations
from tenants.pg_roles import drop_tenant_role, ensure_tenant_role
from tenants.provision import drop_database
from tenants.routing import TenantDatabases
from tenants.stamp import now

CHECK_TIMEOUT_SECONDS = 5
MIGRATION_FOLDERS = (HOST_MIGRATIONS, TENANT_MIGRATIONS)


class CliError(Exception):
    """A mistake or a refusal to report in one line, without a traceback."""


def _print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[str(row[c]) if row[c] is not None else "" for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# -- serve and migrate --------------------------------------------------------------------


def _migration_folders() -> str:
    """Both migration folders, tried on a scratch database; raises MigrationError."""
    counts = [f"{check_migrations(folder)} {folder.name}" for folder in MIGRATION_FOLDERS]
    return f"{', '.join(counts)} migrations run on a scratch database"


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    """How `serve` runs the app (the logging tests run it the same way)."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep app/log_config.py's handlers: one format, redaction, request ids
        log_level=settings.log_level.lower(),
        proxy_headers=False,  # app/web/client_ip.py reads X-Forwarded-For from TRUSTED_PROXIES only
        server_header=False,
        # Longer than the usual proxy idle timeout (60 s): with uvicorn's 5 s default the
        # server closes idle keep-alive connections just as a proxy or client reuses them,
        # which the client sees as a dropped request.
        timeout_keep_alive=75,
        # On SIGTERM: in-flight requests and the jobs they started get this long, then the
        # jobs go back to the queue; the scheduler's own jobs get as long again (docs/deploy.md:
        # give the container 30 s to stop).
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE_SECONDS),  # uvicorn takes whole seconds
    )


def serve(settings: Settings, args: argparse.Namespace) -> int:
    _migration_folders()  # a broken folder stops here, not at every tenant's first request
    app = create_app(settings)
    # The ~1 M objects made by imports and startup live as long as the process: moved out of
    # the collector's generations, they are no longer walked by every collection.
    gc.collect()
    gc.freeze()
    print(f"Serving on http://{settings.host}:{settings.port} ({settings.app_env})")
    uvicorn.Server(uvicorn_config(app, settings)).run()
    return 0


def migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Migrate the host catalog, then every tenant; report each failure and exit non-zero.

    With TENANT_DB_ROLES, each tenant's role is refreshed first (new password after a
    SECRET_KEY rotation, tables made before roles were turned on handed over).
    """
    _migration_folders()  # even with no tenant yet to find a broken tenant folder
    catalog, databases = open_data_layer(settings)
    applied = catalog.migrate()
    print(f"host: {len(applied)} migration(s) applied")
    tenants = catalog.rows("SELECT id FROM core_tenants WHERE status IN ('active', 'suspended')")
    failures, due_work = 0, DueWork(catalog)
    for tenant in tenants:
        try:
            if databases.role_secret:
                url = tenant_url(settings.tenant_database_url, tenant["id"])
                ensure_tenant_role(url, databases.role_secret)
            with databases.handle(tenant["id"]) as db:  # migrates it on first open
                due_work.index_tenant(tenant["id"], db.engine)  # work from before the index
            databases.forget(tenant["id"])  # one engine open at a time, however many tenants
        except Exception as e:  # report and carry on with the others
            failures += 1
            print(f"tenant {tenant['id']}: FAILED: {_first_line(e)}")
    if not failures:
        due_work.backfill_done()
    databases.dispose()
    catalog.dispose()
    print(f"tenants: {len(tenants) - failures} migrated, {failures} failed")
    return 1 if failures else 0


# -- check ----------------------------------------------------------------------------------

Verdict = tuple[bool | None, str]  # (True ok / False failed / None not configured, detail)


def _probe_engine(url: str | URL) -> sa.Engine:
    """An engine that gives up connecting after a few seconds, keeps no pool and never
    creates a SQLite file."""
    url = normalize_url(url)
    if is_sqlite(url):
        return create_engine(url, create_file=False)
    return sa.create_engine(
        url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": CHECK_TIMEOUT_SECONDS}
    )


def _check_host(settings: Settings) -> Verdict:
    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        return False, f"{path} does not exist yet; `main.py migrate` creates it"
    engine = _probe_engine(settings.database_url)
    try:
        with engine.connect():
            pass
        problems = database_problems(engine)
    except sa.exc.SQLAlchemyError as e:
        return False, f"cannot connect: {_first_line(e)}"
    finally:
        engine.dispose()
    return (False, "; ".join(problems)) if problems else (True, "reachable, migrations current")


def _check_tenant_template(settings: Settings) -> Verdict:
    longest = tenant_url(settings.tenant_database_url, "0" * 40)  # the longest valid tenant id
    path = sqlite_path(longest)
    if path is not None:
        folder = next(p for p in (path.parent, *path.parents) if p.exists())
        if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
            return False, f"{folder} is not a writable directory"
        return True, f"SQLite files in {path.parent}"
    if len(str(longest.database).encode()) > 63:
        return False, "database names would exceed PostgreSQL's 63 bytes; shorten the template"
    engine = _probe_engine(longest.set(database="postgres"))
    try:
        with engine.connect() as conn:
            can_create_db, can_create_role = conn.execute(
                sa.text("""SELECT rolcreatedb OR rolsuper, rolcreaterole OR rolsuper
                           FROM pg_roles WHERE rolname = current_user""")
            ).one()
    except sa.exc.SQLAlchemyError as e:
        return False, f"cannot connect to the server: {_first_line(e)}"
    finally:
        engine.dispose()
    if not can_create_db:
        return False, "the template's user may not CREATE DATABASE"
    if settings.tenant_db_roles and not can_create_role:
        return False, "TENANT_DB_ROLES needs a user that may CREATE ROLE"
    return True, "PostgreSQL server reachable; the user may create tenant databases"


def _check_smtp(settings: Settings) -> Verdict:
    config = SmtpConfig.from_settings(settings)
    if config is None:
        return None, "SMTP_HOST not set: mail goes to the outbox in DATA_DIR"
    quick = replace(config, timeout=min(config.timeout, CHECK_TIMEOUT_SECONDS))
    try:
        with _connection(quick):  # connects, secures and logs in, as sending would
            pass
    except Exception as e:
        return False, _first_line(e)
    return True, f"{config.server} accepted the connection"


def _check_oidc(settings: Settings) -> Verdict:
    openid = [p for p in settings.providers if p.kind == "oidc"]
    if not openid:
        return None, "no OpenID provider configured"
    found = []
    for provider in openid:
        try:
            response = httpx.get(provider.metadata_url, timeout=CHECK_TIMEOUT_SECONDS)
            response.raise_for_status()
            found.append(f"{provider.label}: issuer {response.json()['issuer']}")
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as e:
            return False, f"{provider.metadata_url}: {type(e).__name__}: {_first_line(e)}"
    return True, f"metadata reachable ({'; '.join(found)})"


def _check_migrations(settings: Settings) -> Verdict:
    try:
        return True, _migration_folders()
    except MigrationError as e:
        return False, str(e)


CHECKS: dict[str, Callable[[Settings], Verdict]] = {
    "migrations": _check_migrations,
    "host database": _check_host,
    "tenant databases": _check_tenant_template,
    "email (SMTP)": _check_smtp,
    "sign-in (OpenID)": _check_oidc,
}


def check(settings: Settings, args: argparse.Namespace) -> int:
    print(f"ok    settings: {settings.app_env}")
    failed = 0
    for name, probe in CHECKS.items():
        ok, detail = probe(settings)
        failed += ok is False
        print(f"{({True: 'ok', False: 'FAIL', None: 'skip'})[ok]:<5} {name}: {detail}")
    return 1 if failed else 0


# -- tenants --------------------------------------------------------------------------------


def _tenant(catalog: Catalog, tenant_id: str) -> dict[str, Any]:
    tenant = catalog.tenant(tenant_id) if TENANT_ID.fullmatch(tenant_id) else None
    if tenant is None:
        raise CliError(f"no tenant with id {tenant_id!r}")
    return tenant


def tenants_list(settings: Settings, args: argparse.Namespace) -> int:
    catalog = Catalog(settings.database_url)
    rows = catalog.rows(
        f"""SELECT t.id, t.status, t.plan_tier AS plan, COUNT(m.id) AS members, t.created_at,
                  t.name
           FROM core_tenants t LEFT JOIN core_memberships m ON m.tenant_id = t.id
           {"WHERE t.status = :status" if args.status else ""}
           GROUP BY t.id, t.status, t.plan_tier, t.created_at, t.name
           ORDER BY t.created_at, t.id""",
        status=args.status,
    )
    catalog.dispose()
    _print_table(rows, ["id", "status", "plan", "members", "created_at", "name"])
    return 0


def _change_status(settings: Settings, tenant_id: str, before: str, after: str) -> int:
    catalog = Catalog(settings.database_url)
    tenant = _tenant(catalog, tenant_id)
    if tenant["status"] == after:
        print(f"tenant {tenant_id} is already {after}")
        return 0
    if tenant["status"] != before:
        raise CliError(f"tenant {tenant_id} is {tenant['status']}, not {before}")
    catalog.set_tenant_status(tenant_id, after)
    catalog.audit(f"tenant.{after}", actor=None, tenant=tenant_id, via="cli")
    catalog.dispose()
    print(f"tenant {tenant_id} is now {after}")
    return 0


def tenants_suspend(settings: Settings, args: argparse.Namespace) -> int:
    return _change_status(settings, args.tenant_id, "active", "suspended")


def tenants_resume(settings: Settings, args: argparse.Namespace) -> int:
    return _change_status(settings, args.tenant_id, "suspended", "active")


def tenants_delete(settings: Settings, args: argparse.Namespace) -> int:
    """Refuse the tenant everywhere at once (status, memberships), then drop its database.

    The catalog row stays as a tombstone for the audit log; running this again retries a
    drop that failed.
    """
    catalog = Catalog(settings.database_url)
    tenant = _tenant(catalog, args.tenant_id)
    if not args.yes:
        raise CliError(
            f"this drops the database of tenant {tenant['id']} ({tenant['name']}) and all its "
            "data, with no undo; add --yes to go ahead"
        )
    with catalog.begin() as conn:
        conn.execute(
            sa.text("UPDATE core_tenants SET status = 'deleted', updated_at = :t WHERE id = :id"),
            {"t": now(), "id": tenant["id"]},
        )
        conn.execute(
            sa.text("DELETE FROM core_memberships WHERE tenant_id = :id"), {"id": tenant["id"]}
        )
    try:
        ended = end_subscription(catalog, settings, tenant["id"])
        if ended != "none":
            print(f"its Stripe subscription is {ended}")
    except StripeUnavailable as e:
        print(f"warning: its Stripe subscription was not cancelled ({e}): cancel it in Stripe")
    url = tenant_url(settings.tenant_database_url, tenant["id"])
    drop_database(url)
    if settings.tenant_db_roles:
        drop_tenant_role(url)
    catalog.audit("tenant.deleted", actor=None, tenant=tenant["id"], via="cli")
    catalog.dispose()
    print(f"tenant {tenant['id']} deleted and its database dropped")
    return 0


# -- users ----------------------------------------------------------------------------------


def users_list(settings: Settings, args: argparse.Namespace) -> int:
    catalog = Catalog(settings.database_url)
    rows = catalog.rows(
        """SELECT u.id, u.email, u.name, COUNT(m.id) AS tenants, u.last_login_at
           FROM core_users u LEFT JOIN core_memberships m ON m.user_id = u.id
           GROUP BY u.id, u.email, u.name, u.last_login_at, u.created_at
           ORDER BY u.created_at, u.id"""
    )
    catalog.dispose()
    needle = (args.email or "").lower()
    _print_table(
        [r for r in rows if needle in r["email"]],
        ["id", "email", "name", "tenants", "last_login_at"],
    )
    return 0


def _set_superuser(settings: Settings, email: str, on: bool) -> int:
    catalog = Catalog(settings.database_url)
    try:
        found = catalog.rows(
            "SELECT id FROM core_users WHERE email = :e AND deleted_at IS NULL", e=email.lower()
        )
        if not found:
            raise CliError(f"nobody has signed in as {email!r} yet")
        for user in found:
            catalog.execute(
                "UPDATE core_users SET is_superuser = :on WHERE id = :id", on=int(on), id=user["id"]
            )
            catalog.audit(
                "admin.superuser_granted" if on else "admin.superuser_revoked",
                actor=None,
                tenant=None,
                via="cli",
                user=user["id"],
            )
    finally:
        catalog.dispose()
    print(f"{email} is {'now' if on else 'no longer'} a superuser")
    return 0


def users_promote(settings: Settings, args: argparse.Namespace) -> int:
    return _set_superuser(settings, args.email, True)


def users_demote(settings: Settings, args: argparse.Namespace) -> int:
    return _set_superuser(settings, args.email, False)


# -- jobs -----------------------------------------------------------------------------------


def _queue(
    catalog: Catalog, databases: TenantDatabases, tenant_id: str | None
) -> tuple[sa.Engine, str]:
    """(engine, table) of the host's system jobs (None) or a tenant's jobs."""
    if tenant_id is None:
        return catalog.engine, "sys_jobs"
    if _tenant(catalog, tenant_id)["status"] == "deleted":
        raise CliError(f"tenant {tenant_id} is deleted")
    with databases.handle(tenant_id) as db:
        return db.engine, "tenant_jobs"


def jobs_list(settings: Settings, args: argparse.Namespace) -> int:
    catalog, databases = open_data_layer(settings)
    if args.tenant:
        scopes = [args.tenant]
    else:
        live = catalog.rows("SELECT id FROM core_tenants WHERE status IN ('active', 'suspended')")
        scopes = [None, *(t["id"] for t in live)]
    found, unreadable = [], 0
    for scope in scopes:
        try:
            engine, table = _queue(catalog, databases, scope)
            with engine.connect() as conn:
                jobs = store.listing(
                    conn, table, job_type=args.type, status=args.status, limit=args.limit
                )
        except sa.exc.SQLAlchemyError as e:  # one broken tenant must not hide the others
            unreadable += 1
            print(f"{scope or 'host'}: cannot read its jobs: {_first_line(e)}", file=sys.stderr)
            continue
        finally:
            if scope is not None:
                databases.forget(scope)  # one tenant engine open at a time
        found += [{**job, "where": scope or "host"} for job in jobs]
    databases.dispose()
    catalog.dispose()
    found.sort(key=lambda job: (job["created_at"], job["id"]), reverse=True)
    rows = [
        {
            **job,
            "tries": f"{job['attempts']}/{job['max_attempts']}",
            "error": (job["error"] or "").splitlines()[0][:60] if job["error"] else "",
        }
        for job in found[: args.limit]
    ]
    _print_table(rows, ["where", "id", "job_type", "status", "tries", "updated_at", "error"])
    return 1 if unreadable else 0


def jobs_retry(settings: Settings, args: argparse.Namespace) -> int:
    """Give a failed or cancelled job fresh attempts and hand it to the scheduler of a running
    app process (the CLI never runs handlers itself)."""
    catalog, databases = open_data_layer(settings)
    if args.tenant:
        _queue(catalog, databases, args.tenant)  # refuses unknown and deleted tenants
    manager = JobManager(catalog, databases)
    where = f"tenant {args.tenant}" if args.tenant else "the host's system jobs"
    job = manager.get_job(args.tenant, args.job_id)
    if job is None:
        raise CliError(f"no job {args.job_id!r} in {where}")
    if not manager.requeue(args.tenant, args.job_id):
        raise CliError(
            f"job {args.job_id} is {job['status']}: only failed or cancelled jobs are retried"
        )
    databases.dispose()
    catalog.dispose()
    print(f"job {args.job_id} is pending again; a running app process will pick it up")
    return 0


# -- the parser -----------------------------------------------------------------------------


# -- billing --------------------------------------------------------------------------------


def billing_sync(settings: Settings, args: argparse.Namespace) -> int:
    """Reconcile every workspace that has a Stripe customer (after the webhook route was
    down, or to apply a new BILLING_GRACE_DAYS); 1 if any could not be."""
    if not settings.billing_configured:
        raise CliError("billing is not configured: set STRIPE_SECRET_KEY")
    catalog = Catalog(settings.database_url)
    rows, failed = billing.customers(catalog), 0
    for row in rows:
        try:
            outcome = reconcile(catalog, settings, row["tenant_id"])
        except StripeUnavailable as e:
            outcome, failed = f"failed: {e}", failed + 1
        print(f"{row['tenant_id']}  {outcome}  ({row['name']})")
    catalog.dispose()
    print(f"{len(rows) - failed} of {len(rows)} workspaces reconciled with Stripe")
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="main.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="serve the app (the default)").set_defaults(run=serve)
    commands.add_parser("migrate", help="migrate the host and every tenant").set_defaults(
        run=migrate
    )
    commands.add_parser("check", help="check settings and connectivity").set_defaults(run=check)

    tenants = commands.add_parser("tenants", help="list, suspend, resume or delete tenants")
    tenant_commands = tenants.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = tenant_commands.add_parser("list", help="every tenant")
    listing.add_argument("--status", choices=["provisioning", "active", "suspended", "deleted"])
    listing.set_defaults(run=tenants_list)
    for action, run in (("suspend", tenants_suspend), ("resume", tenants_resume)):
        command = tenant_commands.add_parser(action, help=f"{action} a tenant")
        command.add_argument("tenant_id")
        command.set_defaults(run=run)
    delete = tenant_commands.add_parser("delete", help="delete a tenant and drop its database")
    delete.add_argument("tenant_id")
    delete.add_argument("--yes", action="store_true", help="confirm: there is no undo")
    delete.set_defaults(run=tenants_delete)

    users = commands.add_parser("users", help="list users, promote or demote superusers")
    user_commands = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    users_listing = user_commands.add_parser("list", help="every user")
    users_listing.add_argument("--email", help="only emails containing this text")
    users_listing.set_defaults(run=users_list)
    for action, run_it in (("promote", users_promote), ("demote", users_demote)):
        command = user_commands.add_parser(action, help=f"{action} a superuser (by email)")
        command.add_argument("email")
        command.set_defaults(run=run_it)

    jobs = commands.add_parser("jobs", help="list or retry background jobs")
    job_commands = jobs.add_subparsers(dest="action", metavar="ACTION", required=True)
    jobs_listing = job_commands.add_parser("list", help="newest first, host and every tenant")
    jobs_listing.add_argument("--tenant", help="only this tenant's jobs")
    jobs_listing.add_argument("--status", choices=store.STATUSES)
    jobs_listing.add_argument("--type", help="only jobs of this type")
    jobs_listing.add_argument("--limit", type=_positive, default=50)
    jobs_listing.set_defaults(run=jobs_list)
    retry = job_commands.add_parser("retry", help="run a failed or cancelled job again")
    retry.add_argument("job_id")
    retry.add_argument("--tenant", help="the tenant the job belongs to (default: the host)")
    retry.set_defaults(run=jobs_retry)

    billing_command = commands.add_parser("billing", help="reconcile subscriptions with Stripe")
    billing_actions = billing_command.add_subparsers(dest="action", metavar="ACTION", required=True)
    billing_actions.add_parser(
        "sync", help="every workspace's subscription from Stripe"
    ).set_defaults(run=billing_sync)
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)  # usage mistakes: a message and exit status 2
    command = getattr(args, "run", serve)
    try:
        settings = load_settings()
        configure_logging(settings)
        return command(settings, args)
    except SettingsError as e:
        print(e)
        return 2
    except MigrationError as e:
        print(f"migration failed: {e}", file=sys.stderr)
        return 1
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except sa.exc.OperationalError as e:
        print(f"error: a database could not be reached: {_first_line(e)}", file=sys.stderr)
        return 1
