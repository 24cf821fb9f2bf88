"""Errors to Sentry, when SENTRY_DSN is set; without it this module is never imported, and
neither is the SDK.

What is sent: the exception with its stack (file and line, no local variables), the request
id, the route template and the workspace id as tags. What is not: no request data (cookies,
headers, bodies, query strings), no user, no breadcrumbs (log lines could hold anything), and
every string left in the event is scrubbed of emails, API keys, bearer tokens and secrets.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, cast

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from starlette.requests import Request

from app.settings import Settings
from app.web.request_id import current_request_id

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint

SECRETS = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # emails
    r"|\b(?:sk|whsec|msg)_[A-Za-z0-9_+/=-]{8,}"  # API keys, signing secrets
    r"|(?i:bearer)\s+\S+"  # bearer tokens
    r"|(?i:(?:password|secret|token|key|sid|cookie)[\"']?\s*[=:]\s*)[^\s,;&\"']+"
)
REDACTED = "[redacted]"


def init(settings: Settings) -> None:
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.app_env,
        send_default_pii=False,
        include_local_variables=False,
        max_breadcrumbs=0,
        default_integrations=False,  # no request data, no breadcrumbs from other libraries
        integrations=[LoggingIntegration(level=None, event_level=logging.ERROR)],
        before_send=scrub,
    )


def report(req: Request, exc: BaseException) -> None:
    """A request's unhandled error, tagged with what finds it in our logs."""
    route = req.scope.get("route")
    tenant = getattr(req.scope.get("auth"), "tenant_id", None)
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("route", getattr(route, "path", "unmatched"))
        if tenant:
            scope.set_tag("tenant_id", tenant)
        scope.set_tag("handled_by", "error_page")
        sentry_sdk.capture_exception(exc)


def scrub(event: Event, hint: Hint) -> Event | None:
    record = hint.get("log_record")
    if record is not None and record.name == "app.web.errors":
        return None  # the request's error page reported it already, with its tags
    request_id = current_request_id()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    for leaky in ("request", "user", "breadcrumbs", "extra", "contexts", "modules"):
        event.pop(leaky, None)  # type: ignore[misc]  # Event is a TypedDict; these are optional
    return cast("Event", _clean(event))


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return SECRETS.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
