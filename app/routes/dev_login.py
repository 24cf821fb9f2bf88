"""Development sign-in: type an email, become that person. Never registered in production."""

from __future__ import annotations

import re

from fasthtml.common import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.web.signin import Identity, sign_in

rt = APIRouter()

EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,24}$")
DEV_ISSUER = "urn:dev-sign-in"


@rt.post("/login/dev")
async def dev_login(req: Request, sess, email: str = "", name: str = ""):
    email = email.strip().lower()
    if not EMAIL.fullmatch(email):
        raise HTTPException(400, "Enter a valid email address.")
    name = name.strip()[:100]
    return await sign_in(req, sess, Identity(DEV_ISSUER, email, email, name))
