"""Account lifecycle: export my data (mine only, expiring link), delete my account, delete
the workspace (typed confirmation, database removed, catalog marked, members told)."""

from __future__ import annotations

import io
import json
import zipfile

import sqlalchemy as sa

from app.lib.email import outbox_for
from tenants.engines import is_sqlite, sqlite_path, tenant_url
from tests.conftest import dev_sign_in, page_csrf
from tests.test_team import EMAILS, add_member, hx, make_team, own_tenant, user_id


def export(app, client, tenant_id: str) -> str:
    """Ask for an export (it runs after the response); returns the job id."""
    response = client.post("/account/export", headers=hx(client))
    assert response.status_code == 200 and "preparing" in response.text
    with app.state.databases.handle(tenant_id) as db:
        return db.q(
            "SELECT id FROM tenant_jobs WHERE job_type = 'account.export' ORDER BY created_at DESC"
        )[0]["id"]


def download(client, job_id: str) -> dict[str, object]:
    response = client.get(f"/account/exports/{job_id}/download")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {name: json.loads(archive.read(name)) for name in archive.namelist()}


def database_exists(app, tenant_id: str) -> bool:
    url = tenant_url(app.state.databases.url_template, tenant_id)
    if is_sqlite(url):
        return sqlite_path(url).exists()
    engine = sa.create_engine(url.set(database="postgres"), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
        ).first()
    engine.dispose()
    return found is not None


def post_form(client, path: str, **form: str):
    token = page_csrf(client, "/account")
    return client.post(path, data={"csrf_token": token, **form}, follow_redirects=False)


def test_an_export_holds_my_data_and_nothing_from_other_workspaces(app, client, new_client):
    team = make_team(app, client, new_client)
    team.owner.post("/notes", data={"body": "olive's plan"}, headers=hx(team.owner))
    carol = new_client()
    dev_sign_in(carol, "carol@example.com")
    carol.post("/notes", data={"body": "carol's secret"}, headers=hx(carol))
    bobs = new_client()
    dev_sign_in(bobs, "bob@example.com")
    add_member(app, own_tenant(app, "bob@example.com"), EMAILS["owner"], "member")

    files = download(team.owner, export(app, team.owner, team.tenant))
    assert files["profile.json"]["email"] == EMAILS["owner"]
    assert sorted((m["tenant_name"], m["role"]) for m in files["memberships.json"]) == [
        ("Olive's workspace", "owner"),
        ("bob's workspace", "member"),
    ]
    assert [n["body"] for n in files["tenant/notes.json"]] == ["olive's plan"]
    people = {u["email"] for u in files["tenant/core_tenant_users.json"]}
    assert people == {EMAILS["owner"], EMAILS["admin"], EMAILS["member"]}
    assert "tenant/webhook_secrets.json" not in files
    assert "tenant/schema_migrations.json" not in files
    everything = json.dumps(files)
    assert "carol" not in everything  # a workspace Olive does not belong to
    assert "bob@example.com" not in everything  # another person's profile

    # a member gets their own data, not the workspace's tables
    mias = download(team.member, export(app, team.member, team.tenant))
    assert sorted(mias) == ["memberships.json", "profile.json"]
    assert mias["profile.json"]["email"] == EMAILS["member"]


def test_an_export_link_is_personal_and_expires(app, client, new_client):
    team = make_team(app, client, new_client)
    job_id = export(app, team.owner, team.tenant)
    assert "Download" in team.owner.get("/account").text
    for path in (f"/account/exports/{job_id}", f"/account/exports/{job_id}/download"):
        assert team.admin.get(path).status_code == 404  # Adam is in the workspace, not the export
    with app.state.databases.handle(team.tenant) as db:
        db.execute(
            sa.text("UPDATE tenant_jobs SET result = :r WHERE id = :id"),
            {
                "r": json.dumps({"bytes": 1, "expires_at": "2000-01-01T00:00:00.000000Z"}),
                "id": job_id,
            },
        )
        db.commit()
    expired = team.owner.get(f"/account/exports/{job_id}/download")
    assert expired.status_code == 410 and "expired" in expired.text
    zip_file = app.state.settings.data_dir / "exports" / team.tenant / f"{job_id}.zip"
    assert not zip_file.exists()
    assert (
        "expired"
        in team.owner.get(f"/account/exports/{job_id}", headers={"HX-Request": "true"}).text
    )


def test_deleting_an_account_is_refused_while_sole_owner_of_a_team(app, client, new_client):
    team = make_team(app, client, new_client)
    assert "First make someone else owner of" in team.owner.get("/account").text
    refused = post_form(team.owner, "/account/delete", confirm=EMAILS["owner"])
    assert refused.status_code == 409 and "only owner of Olive" in refused.text
    assert app.state.catalog.user(user_id(app, EMAILS["owner"]))["email"] == EMAILS["owner"]
    wrong = post_form(team.member, "/account/delete", confirm="someone@example.com")
    assert wrong.status_code == 400 and "exactly" in wrong.text
    assert app.state.catalog.user(user_id(app, EMAILS["member"]))["deleted_at"] is None


def test_deleting_an_account(app, client, new_client):
    team = make_team(app, client, new_client)
    mia = user_id(app, EMAILS["member"])
    her_own = own_tenant(app, EMAILS["member"])
    gone = post_form(team.member, "/account/delete", confirm="MIA@example.com")
    assert gone.status_code == 303 and gone.headers["location"] == "/"

    user = app.state.catalog.user(mia)
    assert (user["email"], user["name"], user["subject"]) == ("", "", f"deleted:{mia}")
    assert user["deleted_at"] is not None
    assert app.state.catalog.memberships(mia) == []
    assert app.state.catalog.tenant(her_own)["status"] == "deleted"  # she was alone there
    assert not database_exists(app, her_own)
    assert app.state.catalog.tenant(team.tenant)["status"] == "active"  # the team goes on
    with app.state.databases.handle(team.tenant) as db:
        assert db.q("SELECT id FROM core_tenant_users WHERE id = :u", u=mia) == []
    assert team.member.get("/dashboard", follow_redirects=False).headers["location"] == "/login"
    audit = app.state.catalog.row("SELECT * FROM sys_audit_logs WHERE action = 'account.deleted'")
    assert audit["actor_user_id"] == mia and her_own in audit["details"]

    # the same person signing in again is somebody new, with a fresh workspace
    again = new_client()
    dev_sign_in(again, EMAILS["member"])
    assert user_id(app, EMAILS["member"]) != mia
    assert "role: owner" in again.get("/dashboard").text


def test_deleting_the_workspace(app, client, new_client):
    team = make_team(app, client, new_client)
    team.owner.post("/invitations", data={"email": "ivan@example.com"}, headers=hx(team.owner))
    assert team.admin.get("/tenant/delete").status_code == 403
    page = team.owner.get("/tenant/delete")
    assert "Type the workspace name" in page.text and "3 members" in page.text
    wrong = post_form(team.owner, "/tenant/delete", confirm="olive")
    assert wrong.status_code == 400 and "exactly" in wrong.text
    assert database_exists(app, team.tenant)
    outbox = outbox_for(app.state.settings)
    mail_before = len(outbox.ids())

    deleted = post_form(team.owner, "/tenant/delete", confirm="Olive's workspace")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/tenants"
    catalog = app.state.catalog
    assert catalog.tenant(team.tenant)["status"] == "deleted"
    assert catalog.members(team.tenant) == []
    assert catalog.row("SELECT revoked_at FROM core_invitations")["revoked_at"] is not None
    assert not database_exists(app, team.tenant)
    notices = [outbox.get(i) for i in outbox.ids()[: len(outbox.ids()) - mail_before]]
    assert sorted(m.to for m in notices) == [EMAILS["admin"], EMAILS["member"]]
    assert all(m.subject == "The Olive's workspace workspace has been deleted" for m in notices)
    # the others are moved to their own workspaces on their next request
    assert team.admin.get("/dashboard", follow_redirects=False).status_code == 303
    assert "<h1>adam's workspace</h1>" in team.admin.get("/dashboard").text
    # Olive has no workspace left: she may create one
    assert team.owner.get("/tenants").status_code == 200
    entry = catalog.row("SELECT * FROM sys_audit_logs WHERE action = 'tenant.deleted'")
    assert entry["tenant_id"] == team.tenant and entry["actor_user_id"] == user_id(
        app, EMAILS["owner"]
    )
