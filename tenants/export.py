"""A person's data export: a zip of JSON files.

- `profile.json`: the account as the catalog knows it.
- `memberships.json`: the tenants they belong to, with their role.
- `tenant/<table>.json`: every table of one tenant's database, when the caller allows it
  (the web app does for owners), and `tenant/billing.json`: the workspace's subscription and
  invoices from the catalog. Rows are streamed into the zip one at a time, so a large
  table does not have to fit in memory.

Nothing else is read: no other person's profile, no tenant the person does not belong to.
Signing secrets stay out even for owners (an export is a file that travels).

It is built in parts, so a job can make each part in a step of its own: `write_account` and
`write_tables` each write a zip of their files, and `combine` joins the parts into the export.
Every file appears at once, complete (written aside, then renamed), so a part is either there
or not, and writing one again just replaces it.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from tenants.catalog import Catalog
from tenants.routing import TenantDB

LEFT_OUT = frozenset({"schema_migrations", "webhook_secrets"})


@contextmanager
def _new_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    """A zip written aside and renamed to `path` when complete: readers never see half a file."""
    partial = path.with_name(f".{path.name}.partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        yield archive
    partial.replace(path)


def write_account(path: Path, catalog: Catalog, user_id: str) -> None:
    """The person's part: `profile.json` and `memberships.json`."""
    with _new_zip(path) as archive:
        archive.writestr("profile.json", _json(profile(catalog, user_id)))
        archive.writestr("memberships.json", _json(memberships(catalog, user_id)))


def write_tables(path: Path, tenant_db: TenantDB, extra: dict[str, Any] | None = None) -> int:
    """The workspace's part: `tenant/<table>.json` for each table, and `tenant/<name>.json`
    for each of `extra` (records about the workspace kept elsewhere); returns how many."""
    tables = [
        table
        for table in sorted(tenant_db.meta.tables.values(), key=lambda t: t.name)
        if table.name not in LEFT_OUT
    ]
    with _new_zip(path) as archive:
        for table in tables:
            with archive.open(f"tenant/{table.name}.json", "w") as file:
                _stream_rows(tenant_db.conn, table, file)
        for name, value in (extra or {}).items():
            archive.writestr(f"tenant/{name}.json", _json(value))
    return len(tables) + len(extra or {})


def combine(path: Path, parts: Sequence[Path]) -> None:
    """The export at `path`, holding every file of `parts`."""
    with _new_zip(path) as archive:
        for part in parts:
            with zipfile.ZipFile(part) as source:
                for name in source.namelist():
                    with source.open(name) as src, archive.open(name, "w") as dest:
                        shutil.copyfileobj(src, dest)


def profile(catalog: Catalog, user_id: str) -> dict[str, Any] | None:
    return catalog.row(
        """SELECT id, email, name, avatar_url, issuer, subject, created_at, last_login_at
           FROM core_users WHERE id = :u""",
        u=user_id,
    )


def memberships(catalog: Catalog, user_id: str) -> list[dict[str, Any]]:
    return catalog.rows(
        """SELECT t.id AS tenant_id, t.name AS tenant_name, t.status, m.role,
                  m.created_at AS joined_at
           FROM core_memberships m JOIN core_tenants t ON t.id = m.tenant_id
           WHERE m.user_id = :u ORDER BY m.created_at, t.id""",
        u=user_id,
    )


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _stream_rows(conn: sa.Connection, table: sa.Table, file: IO[bytes]) -> None:
    """A JSON array, one row per line, written as the rows arrive."""
    file.write(b"[")
    query = sa.select(table).order_by(*table.primary_key).execution_options(yield_per=500)
    rows = conn.execute(query)
    for n, row in enumerate(rows.mappings()):
        file.write(b"\n" if n == 0 else b",\n")
        file.write(json.dumps(dict(row), sort_keys=True, default=str).encode())
    file.write(b"\n]\n")
