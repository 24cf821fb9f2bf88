"""Sending an email link: the limits, the link, and the email job that carries it."""

from __future__ import annotations

import math

from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.web import email_links
from app.web.email_links import LINK_MINUTES
from app.web.signin import client_ip
from app.work.in_request import jobs_for


def send_link(
    req: Request, sess: dict, address: str, purpose: str = "sign_in", user_id: str | None = None
) -> BackgroundTask:
    """Make a link for `address` and queue its email; returns the task that sends it.
    Refuses with 429 past the per-IP and per-address limits (the same for every address)."""
    state = req.app.state
    wait = state.limits.email_link(client_ip(req))
    rate = state.settings.rate_limit_email_address
    if not wait and rate and email_links.asked_recently(state.catalog, address, rate[1]) >= rate[0]:
        wait = rate[1] / rate[0]
    if wait:
        minutes = max(1, math.ceil(wait / 60))
        raise HTTPException(
            429, f"Too many sign-in links were asked for. Try again in {minutes} minutes."
        )
    token, code = email_links.issue(
        state.catalog,
        state.secret_key,
        email=address,
        browser=email_links.browser_value(sess),
        ip=client_ip(req),
        purpose=purpose,
        user_id=user_id,
    )
    recovery = purpose == "recovery"
    _, task = jobs_for(req).submit_system(
        "email.send",
        template="sign_in_link",
        to=address,
        variables={
            "heading": "Recover your passkey step" if recovery else "Sign in",
            "action": "Continue without your passkey" if recovery else "Sign in",
            "link": f"{state.settings.base_url}/login/email/{token}",
            "code": code,
            "minutes": str(LINK_MINUTES),
        },
    )
    return task
