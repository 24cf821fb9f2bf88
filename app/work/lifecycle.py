"""The jobs behind an account's life: building a personal export, and purging a deleted
workspace's database and files (app/routes/account_lifecycle.py submits them)."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.work.jobs import JobContext
from tenants import lifecycle
from tenants.export import write_export
from tenants.stamp import from_now

EXPORT_JOB = "account.export"
PURGE_JOB = "tenant.purge"
EXPORT_HOURS = 24


def build_export(ctx: JobContext, user_id: str, tenant_tables: bool, directory: str) -> dict:
    path = Path(directory) / f"{ctx.job_id}.zip"
    size = write_export(path, ctx.catalog, user_id, ctx.db if tenant_tables else None)
    return {"bytes": size, "expires_at": from_now(hours=EXPORT_HOURS)}


def purge_tenant(ctx: JobContext, tenant: str, exports: str) -> None:
    lifecycle.purge_database(ctx.catalog, ctx.databases, tenant)
    shutil.rmtree(exports, ignore_errors=True)
