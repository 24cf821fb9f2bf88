"""Who sees what of a workspace's jobs (issue 16 item 12): everyone sees the list; the details
(payload, result, error, steps) belong to the person who started a job and to roles with the
jobs.manage permission; no payload or page carries a server path; the permission table, not a
role list, decides."""

from __future__ import annotations

import asyncio
import json
import re

from app.work.jobs import job_handler, job_manager
from app.work.lifecycle import EXPORT_JOB, PURGE_JOB
from tests.conftest import page_csrf
from tests.test_team import hx, make_team, user_id

JOB_ROW = re.compile(r'id="job-([0-9a-f]{32})"')


@job_handler("test.visibility_broken")
def broken(ctx, secret: str):
    raise RuntimeError(f"could not reach {secret}")


def start_export(client) -> str:
    response = client.post("/account/export", headers=hx(client))
    assert response.status_code == 200, response.text
    return re.search(r'id="export-([0-9a-f]{32})"', response.text).group(1)


def start_demo_job(client) -> str:
    response = client.post("/demo/jobs", headers=hx(client))
    assert response.status_code == 200, response.text
    return JOB_ROW.search(response.text).group(1)


def test_members_see_every_job_but_only_their_own_jobs_details(app, client, new_client):
    team = make_team(app, client, new_client)
    manager = job_manager(app)
    olives_export = start_export(team.owner)
    mias_job = start_demo_job(team.member)
    failed, task = manager.submit(team.tenant, "test.visibility_broken", 1, secret="db.internal")
    asyncio.run(task())

    listing = team.member.get("/jobs").text
    assert all(f'id="job-{job}"' in listing for job in (olives_export, mias_job, failed))
    assert f'href="/jobs/{mias_job}"' in listing  # her own: a link to its page
    assert f'href="/jobs/{olives_export}"' not in listing
    assert "db.internal" not in listing  # another job's error is a detail
    for job_id in (olives_export, failed):
        assert team.member.get(f"/jobs/{job_id}").status_code == 404
        row = team.member.get(f"/jobs/{job_id}", headers={"HX-Request": "true"})
        assert row.status_code == 200 and f'id="job-{job_id}"' in row.text  # what the list shows
        assert "db.internal" not in row.text and "user_id" not in row.text
    own = team.member.get(f"/jobs/{mias_job}")
    assert own.status_code == 200 and "Payload" in own.text

    for manager_client in (team.owner, team.admin):  # jobs.manage: every job's details
        page = manager_client.get(f"/jobs/{failed}")
        assert page.status_code == 200 and "could not reach db.internal" in page.text
        assert manager_client.get(f"/jobs/{mias_job}").status_code == 200
        assert "db.internal" in manager_client.get("/jobs").text


def test_no_job_payload_or_page_carries_a_server_path(app, client, new_client):
    team = make_team(app, client, new_client)
    data_dir = str(app.state.settings.data_dir.resolve())
    export = start_export(team.member)
    job = job_manager(app).get_job(team.tenant, export)
    assert job["job_type"] == EXPORT_JOB and job["status"] == "completed"
    assert job["payload"] == {"user_id": user_id(app, "mia@example.com"), "tenant_tables": False}
    assert job["submitted_by"] == user_id(app, "mia@example.com")
    for page in (team.member.get(f"/jobs/{export}").text, team.owner.get(f"/jobs/{export}").text):
        assert "user_id" in page and data_dir not in page and "exports/" not in page

    name = app.state.catalog.tenant(team.tenant)["name"]
    token = page_csrf(team.owner, "/tenant/delete")
    gone = team.owner.post("/tenant/delete", data={"confirm": name, "csrf_token": token})
    assert gone.status_code == 200, gone.text
    [purge] = job_manager(app).list_jobs(None, job_type=PURGE_JOB)
    assert purge["payload"] == {"tenant": team.tenant} and purge["status"] == "completed"
    assert not (app.state.settings.data_dir / "exports" / team.tenant).exists()
    assert data_dir not in json.dumps(job_manager(app).list_jobs(None))


def test_the_permission_table_decides_who_manages_jobs(app, client, new_client):
    team = make_team(app, client, new_client)
    manager = job_manager(app)
    waiting = manager.enqueue(
        team.tenant, "test.visibility_broken", run_at="2999-01-01", secret="x"
    )
    with app.state.databases.handle(team.tenant) as db:
        db.q("DELETE FROM core_permissions WHERE role = 'admin' AND resource = 'jobs'")
        db.q("""INSERT INTO core_permissions (id, role, resource, action)
                VALUES ('member-jobs-manage', 'member', 'jobs', 'manage')""")
        db.commit()
    refused = team.admin.post(f"/jobs/{waiting}/cancel", headers=hx(team.admin))
    assert refused.status_code == 403
    assert team.admin.get(f"/jobs/{waiting}").status_code == 404  # not hers, no longer manager
    assert manager.get_job(team.tenant, waiting)["status"] == "pending"
    assert f"/jobs/{waiting}/cancel" in team.member.get("/jobs").text
    allowed = team.member.post(f"/jobs/{waiting}/cancel", headers=hx(team.member))
    assert allowed.status_code == 200 and "Job cancelled." in allowed.text
    assert team.member.get(f"/jobs/{waiting}").status_code == 200
