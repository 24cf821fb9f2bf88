"""Email as background jobs, so a slow or failing SMTP server never holds up a request.

    job_id, task = jobs_for(req).submit(
        auth.tenant_id, "email.send", template="invitation", to="ada@example.com",
        variables={"inviter_name": ..., "tenant_name": ..., ...},
    )
    jobs_for(req).submit_system("email.send_batch", template="tenant_deleted",
                                recipients=[{"to": "ada@example.com", "variables": {...}}])

Mail about a person rather than a workspace (the sign-in notice) is a system job. `app_name`
and `base_url` are filled in for every template. A failed send raises, and the job system
retries it with backoff. A batch raises only when nothing was delivered: after a partial
failure a retry would send duplicates, so the failures are reported in its result instead.

The handlers are registered in app/work/handlers.py; `configure(settings)` at startup picks
SMTP or the outbox.
"""

from __future__ import annotations

from typing import Any

from app.lib.email import DeliveryError, Mailer, mailer_for
from app.settings import Settings
from app.ui.layout import APP_NAME
from app.work.jobs import JobContext

_mailer: Mailer | None = None


def configure(settings: Settings) -> None:
    """Choose where mail goes (SMTP or the outbox) for these settings; call once at startup.

    Raises `SmtpConfigError` (a `SettingsError`) on bad `SMTP_*` settings.
    """
    global _mailer
    _mailer = mailer_for(settings, app_name=APP_NAME)


def _configured() -> Mailer:
    if _mailer is None:
        raise RuntimeError("email is not configured: call app.work.email.configure(settings)")
    return _mailer


def send_email(
    ctx: JobContext,
    template: str,
    to: str,
    variables: dict[str, str],
    workspace: str | None = None,
) -> dict:
    """`workspace`: the tenant the mail is about (an invitation's), for the dev outbox."""
    return {"to": to, "message_id": _configured().send(template, to, variables, workspace)}


def send_email_batch(ctx: JobContext, template: str, recipients: list[dict[str, Any]]) -> dict:
    deliveries = _configured().send_batch(
        template, [(r["to"], r.get("variables", {})) for r in recipients]
    )
    failed = [{"to": d.to, "error": d.error} for d in deliveries if not d.ok]
    if deliveries and len(failed) == len(deliveries):  # nothing went out: safe to retry
        raise DeliveryError(f"no message delivered; the first failure: {failed[0]['error']}")
    return {"sent": len(deliveries) - len(failed), "failed": failed}
