"""Email sign-in: ask for a link, open it (or type its code) in the same browser.

The rules live in app/web/email_links.py. A link for a passkey recovery (asked for on the
second-step page) comes back through the same two doors and ends in app/web/second_step.py.
"""

from __future__ import annotations

from fasthtml.common import APIRouter, FtResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.lib.email_send import normalize_address
from app.ui.signin import CheckEmailPage, LoginPage
from app.web import email_links
from app.web.email_links import Link, LinkRefused
from app.web.link_mail import send_link
from app.web.second_step import complete_recovery
from app.web.signin import Identity, sign_in

rt = APIRouter()
EMAIL_ISSUER = "email"  # identities proved by an email link: (email, the address)


def _enabled(req: Request) -> None:
    if not req.app.state.settings.email_signin_enabled:
        raise HTTPException(404)


@rt.post("/login/email")
def ask_for_link(req: Request, sess, email: str = ""):
    _enabled(req)
    try:
        address = normalize_address(email.strip())
    except ValueError as e:
        page = LoginPage(req, email=email, error=f"Enter a valid email address. {e}")
        return FtResponse(page, status_code=400)
    task = send_link(req, sess, address)
    return FtResponse(CheckEmailPage(req), background=task)


async def _finish(req: Request, sess, link: Link):
    if link.purpose == "recovery":
        return await run_in_threadpool(complete_recovery, req, sess, link)
    _enabled(req)
    return await sign_in(req, sess, Identity(EMAIL_ISSUER, link.email, link.email, method="email"))


@rt.get("/login/email/{token}")
async def open_link(req: Request, sess, token: str):
    catalog, browser = req.app.state.catalog, sess.get(email_links.BROWSER_KEY)
    try:
        link = await run_in_threadpool(email_links.redeem_token, catalog, token, browser)
    except LinkRefused as e:
        raise HTTPException(e.status, e.message) from None
    return await _finish(req, sess, link)


@rt.post("/login/email/code")
async def type_code(req: Request, sess, code: str = ""):
    state, browser = req.app.state, sess.get(email_links.BROWSER_KEY)
    try:
        link = await run_in_threadpool(
            email_links.redeem_code, state.catalog, state.secret_key, code, browser
        )
    except LinkRefused as e:
        return FtResponse(CheckEmailPage(req, e.message), status_code=e.status)
    return await _finish(req, sess, link)
