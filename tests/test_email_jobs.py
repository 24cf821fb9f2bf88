"""Email through the job system: delivered in the background, retried while SMTP is down."""

from __future__ import annotations

import asyncio

import pytest

from app.lib.email import outbox_for
from app.work import email as email_jobs
from app.work.jobs import HANDLERS, JobConfig, JobManager
from app.work.scheduler import Scheduler
from tenants.catalog import Catalog
from tenants.routing import TenantDatabases
from tests.support.smtp import closed_port, connection_counter, smtp_server
from tests.test_email_outbox import smtp_env
from tests.test_email_send import welcome


@pytest.fixture
def jobs(make_settings, monkeypatch):
    """A job manager on a fresh catalog, and `configure(**env)` to point email somewhere."""
    monkeypatch.setattr(email_jobs, "_mailer", None)  # put back whatever was there after
    settings = make_settings()
    catalog = Catalog(settings.database_url)
    catalog.migrate()
    databases = TenantDatabases(settings.tenant_database_url)

    def configure(**env: str):
        configured = make_settings(**env)
        email_jobs.configure(configured)
        return configured

    yield JobManager(catalog, databases, JobConfig(retry_base_seconds=0)), configure
    databases.dispose()
    catalog.dispose()


def run(task) -> None:
    asyncio.run(task())


def drain(manager: JobManager) -> int:
    return asyncio.run(Scheduler(manager).run_once())


def test_the_handlers_are_registered_by_name():
    assert HANDLERS["email.send"] is email_jobs.send_email
    assert HANDLERS["email.send_batch"] is email_jobs.send_email_batch


def test_a_send_job_delivers_and_records_the_message_id(jobs):
    manager, configure = jobs
    settings = configure()  # test mode: the outbox
    job_id, task = manager.submit_system(
        "email.send", template="welcome", to="ada@example.com", variables=welcome()
    )
    run(task)
    job = manager.get_job(None, job_id)
    assert job["status"] == "completed"
    [stored] = outbox_for(settings).ids()
    assert job["result"] == {
        "to": "ada@example.com",
        "message_id": outbox_for(settings).get(stored).message_id,
    }


def test_a_send_is_retried_until_the_smtp_server_is_back(jobs):
    manager, configure = jobs
    port = closed_port()
    configure(APP_ENV="development", **smtp_env(port))
    job_id, task = manager.submit_system(
        "email.send", template="welcome", to="ada@example.com", variables=welcome()
    )
    run(task)
    job = manager.get_job(None, job_id)
    assert (job["status"], job["attempts"]) == ("pending", 1)
    assert job["error"].startswith(f"DeliveryError: cannot use SMTP server 127.0.0.1:{port}")
    with smtp_server(port=port) as server:
        assert drain(manager) == 1
    assert manager.get_job(None, job_id)["status"] == "completed"
    assert [m["To"] for m in server.messages] == ["ada@example.com"]


def test_a_template_mistake_fails_the_job_without_a_connection(jobs):
    manager, configure = jobs
    with connection_counter() as counter:
        configure(APP_ENV="development", **smtp_env(counter.port))
        job_id, task = manager.submit_system(
            "email.send",
            max_attempts=1,
            template="welcome",
            to="ada@example.com",
            variables={"name": "Ada"},
        )
        run(task)
        assert counter.connections() == 0
    job = manager.get_job(None, job_id)
    assert job["status"] == "failed"
    assert job["error"].startswith("TemplateError: email template 'welcome': missing")


def test_a_batch_job_reports_each_failure_and_delivers_the_rest(jobs):
    manager, configure = jobs
    recipients = [
        {"to": f"{n.lower()}@example.com", "variables": welcome(n)} for n in ("Ada", "Bob", "Cy")
    ]
    with smtp_server(refuse={"bob@example.com"}) as server:
        configure(APP_ENV="development", **smtp_env(server.port))
        job_id, task = manager.submit_system(
            "email.send_batch", template="welcome", recipients=recipients
        )
        run(task)
    job = manager.get_job(None, job_id)
    assert job["status"] == "completed"  # a retry would send Ada and Cy a second copy
    assert job["result"]["sent"] == 2
    [failed] = job["result"]["failed"]
    assert failed["to"] == "bob@example.com" and "550" in failed["error"]
    assert sorted(m["To"] for m in server.messages) == ["ada@example.com", "cy@example.com"]


def test_a_batch_job_with_nothing_delivered_is_retried(jobs):
    manager, configure = jobs
    port = closed_port()
    configure(APP_ENV="development", **smtp_env(port))
    recipients = [{"to": "ada@example.com", "variables": welcome()}]
    job_id, task = manager.submit_system(
        "email.send_batch", template="welcome", recipients=recipients
    )
    run(task)
    job = manager.get_job(None, job_id)
    assert (job["status"], job["attempts"]) == ("pending", 1)
    assert job["error"].startswith("DeliveryError: no message delivered")
    with smtp_server(port=port) as server:
        drain(manager)
    assert manager.get_job(None, job_id)["result"] == {"sent": 1, "failed": []}
    assert len(server.messages) == 1


def test_sending_before_configure_is_a_clear_error(jobs):
    with pytest.raises(RuntimeError, match=r"call app\.work\.email\.configure"):
        email_jobs.send_email(None, template="welcome", to="a@example.com", variables={})
