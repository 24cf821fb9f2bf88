"""The jobs behind an account's life: building a personal export, and purging a deleted
workspace's database and files (app/routes/account_lifecycle.py submits them).

The export is a workflow (app/work/workflow.py) of three steps, each writing one file under
DATA_DIR/exports/<tenant>/, named after the job: the workspace's tables (for roles that may
export them), the person's own rows from the catalog, then the zip made of both. A retry
after a failure or a crash starts at the step that did not finish. Where the files live comes
from the settings, never from the payload: payloads are shown on the job's page.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from app.settings import Settings
from app.work.jobs import JobContext
from app.work.workflow import Workflow
from tenants import billing, lifecycle
from tenants.due import DueWork
from tenants.export import combine, write_account, write_tables
from tenants.stamp import from_now

EXPORT_JOB = "account.export"
PURGE_JOB = "tenant.purge"
EXPORT_HOURS = 24


def exports_dir(settings: Settings, tenant_id: str) -> Path:
    """Where a workspace's exports are kept (the download route serves them from here)."""
    return settings.data_dir / "exports" / tenant_id


def export_path(settings: Settings, tenant_id: str, job_id: str) -> Path:
    return exports_dir(settings, tenant_id) / f"{job_id}.zip"


def _settings(ctx: JobContext) -> Settings:
    if ctx.settings is None:
        raise RuntimeError("these jobs need the app's settings (JobManager(settings=...))")
    return ctx.settings


def _file(ctx: JobContext, part: str = "") -> Path:
    """The export's zip, or one of its parts (hidden beside it until the zip is made)."""
    if ctx.tenant_id is None:
        raise RuntimeError("an export is a tenant job")
    if not part:
        return export_path(_settings(ctx), ctx.tenant_id, ctx.job_id)
    return exports_dir(_settings(ctx), ctx.tenant_id) / f".{ctx.job_id}.{part}.zip"


# `directory` was in the payload of exports queued before it was derived from the settings.
def collect_tenant_rows(
    ctx: JobContext, user_id: str, tenant_tables: bool, directory: str = ""
) -> dict[str, Any]:
    if not tenant_tables:
        return {"tables": 0}
    if ctx.db is None:
        raise RuntimeError("an export is a tenant job")
    billing_records = {"billing": billing.records(ctx.catalog, ctx.db.tenant_id)}
    return {"tables": write_tables(_file(ctx, "tenant"), ctx.db, billing_records)}


def collect_account_rows(
    ctx: JobContext, user_id: str, tenant_tables: bool, directory: str = ""
) -> None:
    write_account(_file(ctx, "account"), ctx.catalog, user_id)


def write_zip(
    ctx: JobContext, user_id: str, tenant_tables: bool, directory: str = ""
) -> dict[str, Any]:
    export = _file(ctx)
    parts = [_file(ctx, "account")] + ([_file(ctx, "tenant")] if tenant_tables else [])
    if all(part.is_file() for part in parts):  # else this step combined them before a crash
        combine(export, parts)
    for part in parts:
        part.unlink(missing_ok=True)
    return {"bytes": export.stat().st_size, "expires_at": from_now(hours=EXPORT_HOURS)}


build_export = Workflow(
    ("tenant rows", collect_tenant_rows),
    ("account rows", collect_account_rows),
    ("zip", write_zip),
)


# `exports` was in the payload of purges queued before it was derived from the settings.
def purge_tenant(ctx: JobContext, tenant: str, exports: str = "") -> None:
    lifecycle.purge_database(ctx.catalog, ctx.databases, tenant)
    shutil.rmtree(exports_dir(_settings(ctx), tenant), ignore_errors=True)
    DueWork(ctx.catalog).forget_tenant(tenant)
