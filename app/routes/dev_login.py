"""Development sign-in: type an email, become that person. Never registered in production."""

from __future__ import annotations

from fasthtml.common import APIRouter, FtResponse
from starlette.requests import Request

from app.lib.email_send import normalize_address
from app.ui.components import DevSignInForm
from app.ui.layout import SignInPage
from app.web.signin import Identity, sign_in

rt = APIRouter()

DEV_ISSUER = "urn:dev-sign-in"
NAME_MAX = 100


@rt.post("/login/dev")
async def dev_login(req: Request, sess, email: str = "", name: str = ""):
    try:
        address = normalize_address(email.strip())
    except ValueError as e:
        form = DevSignInForm(req, email, name, f"Enter a valid email address. {e}")
        return FtResponse(SignInPage(req, form), status_code=400)
    identity = Identity(DEV_ISSUER, address, address, name.strip()[:NAME_MAX], method="dev")
    return await sign_in(req, sess, identity)
