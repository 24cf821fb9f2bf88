"""Sign-in: the login page and the OpenID redirect and callback."""

from __future__ import annotations

import logging

import httpx
import httpx2
from authlib.integrations.base_client import OAuthError
from fasthtml.common import APIRouter, Redirect
from joserfc.errors import JoseError
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.ui.components import DevSignInForm
from app.ui.kit import Button
from app.ui.layout import SignInPage
from app.web.signin import Identity, sign_in

log = logging.getLogger(__name__)
rt = APIRouter()
# The provider could not be reached or answered garbage: authlib makes its requests with
# httpx2 (httpx when httpx2 is missing), and neither's errors derive from the other's.
PROVIDER_UNREACHABLE = (httpx2.HTTPError, httpx.HTTPError)


def _unavailable(error: Exception) -> HTTPException:
    log.warning("OpenID provider unavailable: %s: %s", type(error).__name__, error)
    return HTTPException(503, "The sign-in provider is unavailable. Try again shortly.")


def OidcButton():
    return Button("Sign in with Google", href="/login/oidc", variant="outline", cls="btn-block")


@rt.get("/login")
def login(req: Request, sess):
    state = req.app.state
    token = sess.get("sid")
    if token and state.catalog.resolve(token, idle_minutes=state.settings.session_idle_minutes):
        return Redirect("/dashboard")
    body = DevSignInForm(req) if state.settings.dev_login_enabled else OidcButton()
    return SignInPage(req, body)


@rt.get("/login/oidc")
async def login_oidc(req: Request):
    oauth = req.app.state.oauth
    if oauth is None:
        raise HTTPException(404)
    redirect_uri = f"{req.app.state.settings.base_url}/auth/callback"
    try:
        return await oauth.oidc.authorize_redirect(req, redirect_uri)
    except (*PROVIDER_UNREACHABLE, OAuthError) as e:
        raise _unavailable(e) from None


def _verified(userinfo: dict) -> bool:
    return userinfo.get("email_verified") in (True, "true")


@rt.get("/auth/callback")
async def auth_callback(req: Request, sess):
    oauth = req.app.state.oauth
    if oauth is None:
        raise HTTPException(404)
    try:
        token = await oauth.oidc.authorize_access_token(req)
    except PROVIDER_UNREACHABLE as e:
        raise _unavailable(e) from None
    except (OAuthError, JoseError, KeyError, ValueError, TypeError) as e:
        log.warning("sign-in refused: %s: %s", type(e).__name__, e)
        raise HTTPException(400, "Sign-in failed or expired. Please start again.") from None
    userinfo = token.get("userinfo") or {}
    if not userinfo.get("sub") or not userinfo.get("email"):
        raise HTTPException(400, "Your provider did not share an email address.")
    if not _verified(userinfo):
        raise HTTPException(403, "Your email address is not verified with your provider.")
    who = Identity(
        issuer=userinfo["iss"],
        subject=str(userinfo["sub"]),
        email=str(userinfo["email"]).lower(),
        name=str(userinfo.get("name", ""))[:100],
        avatar_url=str(userinfo.get("picture", ""))[:500],
    )
    return await sign_in(req, sess, who)
