"""The operator console at /admin and impersonation (issue 13 item 5).

The walker tries every route of the `superuser` class (found in the app's route table, so a
new admin route is covered the day it is added) signed out, as every tenant role and from an
impersonation session: all refused. Then the console itself: search, suspend and resume,
failed jobs with retry, people, and impersonation with its banner, its limits, its time
limit and its audit entries in both trails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime

import pytest

from app.cli import users_promote
from app.factory import create_app
from app.work.jobs import job_handler, job_manager
from tests.conftest import dev_sign_in, page_csrf
from tests.test_team import EMAILS, hx, make_team, own_tenant, user_id

OPERATOR = "root@example.com"


@job_handler("test.admin_broken")
def broken(ctx):
    raise ConnectionError("the upstream answered 503")


@pytest.fixture
def app(make_settings, backend):
    application = create_app(
        make_settings(**backend, SUPERUSER_EMAILS=f"Other@example.com {OPERATOR}")
    )
    yield application
    application.state.databases.dispose()
    application.state.catalog.dispose()


@pytest.fixture
def console(app, client, new_client):
    """Olive's team, a failed job in her workspace, and the operator signed in."""
    team = make_team(app, client, new_client)
    manager = job_manager(app)
    job_id, task = manager.submit(team.tenant, "test.admin_broken", max_attempts=1)
    asyncio.run(task())
    operator = new_client()
    dev_sign_in(operator, OPERATOR)
    return team, operator, job_id


def admin_routes(app) -> list[tuple[str, str]]:
    return [
        (method, route.path)
        for route in app.routes
        if app.state.access.classify(getattr(route, "path", "")) == "superuser"
        for method in sorted(set(route.methods or []) - {"HEAD"})
    ]


def filled(path: str, team, job_id: str) -> str:
    return path.format(tenant_id=team.tenant, job_id=job_id)


def test_every_admin_route_refuses_signed_out_every_tenant_role_and_impersonation(
    app, console, new_client
):
    team, operator, job_id = console
    routes = admin_routes(app)
    assert len(routes) >= 9 and ("GET", "/admin") in routes
    before = app.state.catalog.tenant(team.tenant)
    stranger = new_client()
    wrong = []
    for method, path in routes:
        url = filled(path, team, job_id)
        out = stranger.request(method, url, follow_redirects=False)
        # A signed-out POST has no CSRF token to offer: refused (403) before the guard.
        if out.status_code not in (403, 404) or "Operator console" in out.text:
            wrong.append(f"signed out {method} {path}: {out.status_code}")
        for role in ("owner", "admin", "member"):
            browser = team.client(role)
            answer = browser.request(method, url, headers=hx(browser), follow_redirects=False)
            if answer.status_code != 404 or "Operator console" in answer.text:
                wrong.append(f"{role} {method} {path}: {answer.status_code}")
        allowed = operator.request(
            method,
            url,
            data={"tenant_id": team.tenant} if method == "POST" else None,
            headers={"X-CSRF-Token": page_csrf(operator, "/admin")},
            follow_redirects=False,
        )
        if allowed.status_code >= 500 or (
            allowed.status_code in (403, 404) and "/impersonate" not in path
        ):
            wrong.append(f"superuser {method} {path}: {allowed.status_code}")
    assert not wrong, "\n".join(wrong)
    assert app.state.catalog.tenant(team.tenant)["name"] == before["name"]
    # From an impersonation session, the console is refused too.
    mia = user_id(app, EMAILS["member"])
    start = operator.post(
        f"/admin/workspaces/{team.tenant}/impersonate",
        data={
            "user_id": mia,
            "csrf_token": page_csrf(operator, f"/admin/workspaces/{team.tenant}"),
        },
        follow_redirects=False,
    )
    assert start.status_code == 303
    token = page_csrf(operator)
    for method, path in routes:
        answer = operator.request(
            method,
            filled(path, team, job_id),
            headers={"X-CSRF-Token": token},
            follow_redirects=False,
        )
        assert answer.status_code == 403, (method, path, answer.status_code)


def test_workspaces_people_suspend_resume_and_retry(app, console):
    team, operator, job_id = console
    listing = operator.get("/admin?q=olive").text
    assert "Olive&#x27;s workspace" in listing or "Olive's workspace" in listing
    assert "root" not in operator.get("/admin?q=olive").text.split("<main")[1].split("Workspace")[0]
    assert ">3<" in listing  # members
    assert " KB" in listing or " MB" in listing  # its database's size
    assert "Olive" not in operator.get("/admin?q=zzz-nobody").text.split("<main")[1]
    people = operator.get("/admin/people?q=mia").text
    assert EMAILS["member"] in people and EMAILS["owner"] not in people
    for bad in ("/admin?page=abc", "/admin?page=0", "/admin/people?page=-1"):
        assert operator.get(bad).status_code == 400, bad
    assert operator.get("/admin/workspaces/" + "f" * 32).status_code == 404
    csrf = page_csrf(operator, "/admin")
    suspended = operator.post(
        f"/admin/workspaces/{team.tenant}/suspend",
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert suspended.status_code == 303
    assert team.member.get("/dashboard").status_code == 403  # suspended for everyone
    again = operator.post(
        f"/admin/workspaces/{team.tenant}/suspend", headers={"X-CSRF-Token": csrf}
    )
    assert again.status_code == 409
    operator.post(f"/admin/workspaces/{team.tenant}/resume", headers={"X-CSRF-Token": csrf})
    assert team.member.get("/dashboard").status_code == 200
    jobs = operator.get("/admin/jobs").text
    assert job_id in jobs and "the upstream answered 503" in jobs
    retried = operator.post(
        f"/admin/jobs/{job_id}/retry",
        data={"tenant_id": team.tenant},
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert retried.status_code == 303
    job = job_manager(app).get_job(team.tenant, job_id)
    assert job["attempts"] >= 1 and job["status"] in ("pending", "running", "failed")
    assert (
        operator.post(
            f"/admin/jobs/{'0' * 32}/retry",
            data={"tenant_id": team.tenant},
            headers={"X-CSRF-Token": csrf},
        ).status_code
        == 404
    )
    assert (
        operator.post(
            f"/admin/jobs/{job_id}/retry",
            data={"tenant_id": "nope!"},
            headers={"X-CSRF-Token": csrf},
        ).status_code
        == 404
    )
    host = [
        r["action"]
        for r in app.state.catalog.rows("SELECT action FROM sys_audit_logs WHERE tenant_id IS NULL")
    ]
    trail = [r["action"] for r in app.state.catalog.recent_audit(team.tenant, limit=50)]
    for action in ("admin.tenant_suspended", "admin.tenant_active", "admin.job_retried"):
        assert action in host and action in trail, action


def entries(app, action: str, tenant: str | None) -> list[dict]:
    where = "tenant_id IS NULL" if tenant is None else "tenant_id = :t"
    return app.state.catalog.rows(
        f"SELECT actor_user_id, details FROM sys_audit_logs WHERE action = :a AND {where}",
        a=action,
        t=tenant,
    )


def test_impersonation_banner_limits_and_both_trails(app, console):
    team, operator, _ = console
    catalog, mia = app.state.catalog, user_id(app, EMAILS["member"])
    page = f"/admin/workspaces/{team.tenant}"
    # Superusers cannot be impersonated: promote Olive, then try.
    users_promote(app.state.settings, argparse.Namespace(email=EMAILS["owner"]))
    assert "cannot be opened as" in operator.get(page).text
    refused = operator.post(
        f"{page}/impersonate",
        data={"user_id": user_id(app, EMAILS["owner"]), "csrf_token": page_csrf(operator, page)},
    )
    assert refused.status_code == 403
    for bad in ("", "x" * 5000, "' OR '1'='1", "0" * 32):
        answer = operator.post(
            f"{page}/impersonate", data={"user_id": bad, "csrf_token": page_csrf(operator, page)}
        )
        assert answer.status_code in (400, 404), bad
    started = operator.post(
        f"{page}/impersonate",
        data={"user_id": mia, "csrf_token": page_csrf(operator, page)},
        follow_redirects=False,
    )
    assert started.status_code == 303 and started.headers["location"] == "/dashboard"
    dashboard = operator.get("/dashboard").text
    assert "you are acting as mia@example.com" in dashboard and "Stop impersonating" in dashboard
    assert "acting as" in operator.get("/account").text  # the banner is on every page
    # No sign-in method of Mia's can change from here.
    token = page_csrf(operator)
    for path in (
        "/account/passkeys/options",
        "/account/passkeys",
        "/account/sessions/revoke-others",
        "/account/delete",
        "/login/second-step/recover",
    ):
        answer = operator.post(
            path, headers={"X-CSRF-Token": token}, data={"confirm": EMAILS["member"]}
        )
        assert answer.status_code == 403, path
    assert operator.get("/login/second-step").status_code == 403
    assert catalog.user(mia)["deleted_at"] is None
    for where in (None, team.tenant):
        [row] = entries(app, "admin.impersonation_started", where)
        assert json.loads(row["details"])["target"] == mia
        assert row["actor_user_id"] == user_id(app, OPERATOR)
    # Mia sees it on her own account page.
    assert "Support access" in team.member.get("/account").text
    stopped = operator.post(
        "/impersonation/stop", headers={"X-CSRF-Token": token}, follow_redirects=False
    )
    assert stopped.status_code == 303 and stopped.headers["location"] == "/admin"
    assert "Operator console" in operator.get("/admin").text  # the operator's own session again
    for where in (None, team.tenant):
        [row] = entries(app, "admin.impersonation_stopped", where)
        assert json.loads(row["details"])["reason"] == "stopped"
    assert (
        operator.post(
            "/impersonation/stop", headers={"X-CSRF-Token": page_csrf(operator, "/admin")}
        ).status_code
        == 400
    )


def test_impersonation_ends_after_its_time_limit(app, console):
    team, operator, _ = console
    mia = user_id(app, EMAILS["member"])
    page = f"/admin/workspaces/{team.tenant}"
    operator.post(
        f"{page}/impersonate", data={"user_id": mia, "csrf_token": page_csrf(operator, page)}
    )
    [session] = app.state.catalog.rows(
        "SELECT id_hash, created_at, expires_at FROM core_sessions WHERE impersonator_id IS NOT NULL"
    )
    lasts = datetime.fromisoformat(session["expires_at"]) - datetime.fromisoformat(
        session["created_at"]
    )
    assert abs(lasts.total_seconds() - 30 * 60) < 1
    app.state.catalog.execute(
        "UPDATE core_sessions SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE id_hash = :h",
        h=session["id_hash"],
    )
    back = operator.get("/dashboard", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/admin"
    assert "Operator console" in operator.get("/admin").text
    for where in (None, team.tenant):
        [row] = entries(app, "admin.impersonation_stopped", where)
        assert json.loads(row["details"])["reason"] == "time limit"


def test_superusers_come_from_the_setting_or_the_cli(app, client, new_client):
    dev_sign_in(client, "olive@example.com")
    assert client.get("/admin").status_code == 404
    assert "/admin" not in client.get("/dashboard").text
    users_promote(app.state.settings, argparse.Namespace(email="Olive@Example.com"))
    assert client.get("/admin").status_code == 200
    assert 'href="/admin"' in client.get("/dashboard").text
    named = new_client()
    dev_sign_in(named, "other@example.com")  # in SUPERUSER_EMAILS, whatever its case there
    assert named.get("/admin").status_code == 200
    assert own_tenant(app, "other@example.com")
