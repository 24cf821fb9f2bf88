"""Friendly error pages. Never a stack trace: the app always runs with debug off.

A handler that raises (an HTTPException included) loses its tenant writes: the page here
rolls them back before the response goes out.
"""

from __future__ import annotations

import logging

from fasthtml.common import HttpHeader
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.api.problems import from_exception, is_api
from app.billing.limits import plan_limit_answer
from app.ui.components import Toasts
from app.ui.layout import ErrorPage

log = logging.getLogger(__name__)

_HEADINGS = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Not signed in", "This needs credentials."),
    403: ("Not allowed", "You do not have access to this."),
    404: ("Not found", "There is nothing here."),
    405: ("Not allowed", "That method is not allowed here."),
    409: ("Conflict", "That clashes with the current state. Reload and try again."),
    410: ("Gone", "This link is no longer valid."),
    413: ("Too large", "The request body is too large."),
    415: ("Unsupported", "That content type is not accepted here."),
    422: ("Invalid", "The request was understood but its content is not valid."),
    429: ("Slow down", "Too many requests. Try again in a moment."),
    500: ("Something went wrong", "The error was logged. Please try again."),
    503: ("Unavailable", "A service this depends on did not answer. Try again in a moment."),
}


def _handler(status: int):
    heading, default = _HEADINGS[status]

    def handle(req: Request, exc: Exception):
        if status == 500 and not isinstance(exc, HTTPException):
            log.error("unhandled error on %s %s", req.method, req.url.path, exc_info=exc)
            if req.app.state.settings.sentry_dsn:  # only then is the SDK imported at all
                from app.telemetry.sentry import report

                report(req, exc)
        db = getattr(req.scope.get("auth"), "db", None)
        if db is not None:  # the handler raised: none of its tenant writes land
            db.rollback()
        if is_api(req.url.path):  # the REST API answers in one format, RFC 9457
            return from_exception(req.url.path, status, exc, default)
        detail = getattr(exc, "detail", None) if isinstance(exc, HTTPException) else None
        # Starlette's default detail is just the status phrase; ours are sentences.
        message = detail if detail and detail.endswith(".") else default
        if "hx-request" in req.headers:  # an HTMX action failed: say so in a toast, swap nothing
            return Toasts(message, kind="error"), HttpHeader("HX-Reswap", "none")
        return ErrorPage(req, status, heading, message)

    return handle


ERROR_HANDLERS: dict = {status: _handler(status) for status in _HEADINGS}
# FastHTML parses a JSON body before any handler (the Beforeware's included) and catches only
# ValueError: a body nested deep enough to exhaust the parser's recursion is bad input.
ERROR_HANDLERS[RecursionError] = _handler(400)


def _plan_limit(req: Request, exc: Exception):
    """The plan does not allow it: a page or toast saying how to upgrade; the API's format
    for the API."""
    if not is_api(req.url.path):
        return plan_limit_answer(req, exc)
    db = getattr(req.scope.get("auth"), "db", None)
    if db is not None:
        db.rollback()
    return from_exception(req.url.path, 402, exc, "Your plan does not allow this.")


ERROR_HANDLERS[402] = _plan_limit
