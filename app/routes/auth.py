"""Sign-in: the login page (every way in that is configured) and the providers' redirect
and callback. Email links are app/routes/email_signin.py, passkeys app/routes/passkeys.py."""

from __future__ import annotations

import logging

import httpx
import httpx2
from authlib.integrations.base_client import OAuthError
from fasthtml.common import APIRouter, Redirect
from joserfc.errors import JoseError
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.settings import Provider
from app.ui.signin import LoginPage
from app.web.providers import SignInRefused, identity_from_callback
from app.web.signin import sign_in

log = logging.getLogger(__name__)
rt = APIRouter()
# The provider could not be reached or answered garbage: authlib makes its requests with
# httpx2 (httpx when httpx2 is missing), and neither's errors derive from the other's.
PROVIDER_UNREACHABLE = (httpx2.HTTPError, httpx.HTTPError)


def _unavailable(error: Exception) -> HTTPException:
    log.warning("sign-in provider unavailable: %s: %s", type(error).__name__, error)
    return HTTPException(503, "The sign-in provider is unavailable. Try again shortly.")


@rt.get("/login")
def login(req: Request, sess):
    state = req.app.state
    token = sess.get("sid")
    if token and state.catalog.resolve(token, idle_minutes=state.settings.session_idle_minutes):
        return Redirect("/dashboard")
    return LoginPage(req)


def _provider(req: Request, slug: str) -> Provider:
    found = next((p for p in req.app.state.settings.providers if p.slug == slug), None)
    if found is None or req.app.state.oauth is None:
        raise HTTPException(404)
    return found


async def _callback(req: Request, sess, slug: str):
    chosen = _provider(req, slug)
    try:
        who = await identity_from_callback(req.app.state.oauth, chosen, req)
    except PROVIDER_UNREACHABLE as e:
        raise _unavailable(e) from None
    except SignInRefused as e:
        raise HTTPException(e.status, e.message) from None
    except (OAuthError, JoseError, KeyError, ValueError, TypeError) as e:
        log.warning("sign-in refused: %s: %s", type(e).__name__, e)
        raise HTTPException(400, "Sign-in failed or expired. Please start again.") from None
    return await sign_in(req, sess, who)


@rt.get("/auth/callback")
async def auth_callback(req: Request, sess):
    """Google's callback (the redirect URI deployments registered before there were more)."""
    return await _callback(req, sess, "google")


@rt.get("/auth/{provider}/callback")
async def provider_callback(req: Request, sess, provider: str):
    if provider == "google":  # Google comes back to /auth/callback only
        raise HTTPException(404)
    return await _callback(req, sess, provider)


# After /auth/callback: routes match in order, and this pattern would take that path too.
@rt.get("/auth/{provider}")
async def login_with(req: Request, provider: str):
    chosen = _provider(req, provider)
    redirect_uri = f"{req.app.state.settings.base_url}{chosen.callback_path}"
    try:
        client = req.app.state.oauth.create_client(chosen.slug)
        return await client.authorize_redirect(req, redirect_uri)
    except (*PROVIDER_UNREACHABLE, OAuthError) as e:
        raise _unavailable(e) from None
