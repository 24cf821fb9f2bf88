"""Helpers for API tests: keys made the way the settings page makes them, and sample data."""

from __future__ import annotations

import json

from tenants import jobs as store
from tenants.stamp import from_now, new_id, now


def make_key(app, tenant_id: str, scope: str = "write", expires_at: str | None = None) -> str:
    """A key of the tenant (made by its first owner), as the settings page makes it."""
    owner = app.state.catalog.row(
        "SELECT user_id FROM core_memberships WHERE tenant_id = :t AND role = 'owner'", t=tenant_id
    )["user_id"]
    return app.state.api_keys.create(tenant_id, f"{scope} key", scope, owner, expires_at)[1]


def expired_key(app, tenant_id: str) -> str:
    key = make_key(app, tenant_id, "write", from_now(days=1))
    app.state.catalog.execute(  # as if a day had passed
        "UPDATE core_api_keys SET expires_at = :t WHERE prefix = :p",
        t=from_now(seconds=-1),
        p=key[:11],
    )
    return key


def revoked_key(app, tenant_id: str) -> str:
    key = make_key(app, tenant_id, "write")
    key_id = app.state.catalog.row("SELECT id FROM core_api_keys WHERE prefix = :p", p=key[:11])[
        "id"
    ]
    assert app.state.api_keys.revoke(tenant_id, key_id)
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def add_note(app, tenant_id: str, body: str) -> str:
    note = new_id()
    with app.state.databases.begin(tenant_id) as db:
        db.q(
            "INSERT INTO notes (id, body, author_id, created_at) VALUES (:id, :b, 'someone', :t)",
            id=note,
            b=body,
            t=now(),
        )
    return note


def add_sync_run(app, tenant_id: str) -> str:
    """A finished sync job, as the sync runner leaves one (no scheduler picks it up)."""
    job = store.NewJob("sync.run", {"source_id": "ab" * 16, "mode": "full"}, 3)
    with app.state.databases.begin(tenant_id) as db:
        store.create(db.conn, "tenant_jobs", job)
        db.q(
            """UPDATE tenant_jobs SET status = 'completed', finished_at = :t, result = :r
               WHERE id = :id""",
            t=now(),
            r=json.dumps({"status": "succeeded", "pages": 2, "fetched": 60, "written": 60}),
            id=job.job_id,
        )
    return job.job_id


def member_id(app, tenant_id: str) -> str:
    return app.state.catalog.row(
        "SELECT user_id FROM core_memberships WHERE tenant_id = :t", t=tenant_id
    )["user_id"]
