"""Passkeys: sign in with one alone (public), add, rename and remove them under Account, and
the second step a workspace may require (signed in). The ceremonies are app/web/passkeys.py;
static/passkeys.js is the browser's half.

The browser's half speaks JSON: every answer here is JSON, with `error` on a refusal (4xx)
and `redirect` on success.
"""

from __future__ import annotations

from typing import Any

from fasthtml.common import A, APIRouter, Div, Form, FtResponse, P, Small
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.ui.account import PasskeysPanel, may_change_passkeys
from app.ui.components import CsrfField, Toasts
from app.ui.kit import Button, Card, PageHeader
from app.ui.layout import APP_NAME, Page
from app.ui.signin import CheckEmailPage, passkey_script
from app.web import passkeys
from app.web.audit import record
from app.web.link_mail import send_link
from app.web.operators import refuse_if_impersonating
from app.web.passkeys import NAME_MAX, PasskeyRefused, RelyingParty
from app.web.second_step import pass_second_step
from app.web.security import csrf_token
from app.web.signin import client_ip, start_session
from tenants.catalog import Auth

rt = APIRouter()  # public: sign in with a passkey
account_rt = APIRouter()  # signed in: the person's passkeys and the second step


def _rp(req: Request) -> RelyingParty:
    return RelyingParty.of(req.app.state.settings, APP_NAME)


def _refused(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _answer(req: Request) -> tuple[Any, str]:
    """The credential the browser sent, and the name typed for it."""
    # A form post has had its stream read already (its CSRF field): never read it again.
    if req.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise PasskeyRefused("The request was not JSON.")
    try:
        body = await req.json()
    except ValueError:
        raise PasskeyRefused("The request was not JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        raise PasskeyRefused("The request carried no passkey.")
    name = body.get("name", "")
    return body["credential"], name if isinstance(name, str) else ""


async def _ceremony(work, *args) -> Response:
    """Run a ceremony step in a thread; a refusal becomes a JSON error."""
    try:
        return await run_in_threadpool(work, *args)
    except PasskeyRefused as e:
        return _refused(e.message, e.status)


# -- sign in with a passkey alone ---------------------------------------------------------


@rt.post("/login/passkey/options")
async def sign_in_options(req: Request, sess):
    catalog, rp = req.app.state.catalog, _rp(req)
    return await _ceremony(
        lambda: Response(
            passkeys.authentication_options(catalog, rp, sess, "sign_in"),
            media_type="application/json",
        )
    )


@rt.post("/login/passkey")
async def sign_in_with_passkey(req: Request, sess):
    try:
        answer, _ = await _answer(req)
    except PasskeyRefused as e:
        return _refused(e.message)

    def finish() -> Response:
        user_id = passkeys.authenticate(req.app.state.catalog, _rp(req), sess, "sign_in", answer)
        landing, mail = start_session(
            req, sess, user_id, created=False, method="passkey", second_factor="passkey"
        )
        return JSONResponse({"redirect": landing}, background=mail)

    return await _ceremony(finish)


# -- the person's passkeys ------------------------------------------------------------------


def _user(req: Request, auth: Auth) -> dict:
    return req.app.state.catalog.user(auth.user_id) or {}


def _editable(req: Request, auth: Auth) -> None:
    refuse_if_impersonating(auth)
    count = len(passkeys.passkeys_of(req.app.state.catalog, auth.user_id))
    if not may_change_passkeys(auth, count):
        raise HTTPException(403, "Confirm with one of your passkeys first.")


@account_rt.post("/account/passkeys/options")
async def register_options(req: Request, sess, auth):
    if auth.impersonator_id is not None:
        return _refused("Not while impersonating: passkeys are the person's own.", 403)
    count = len(await run_in_threadpool(passkeys.passkeys_of, req.app.state.catalog, auth.user_id))
    if not may_change_passkeys(auth, count):
        return _refused("Confirm with one of your passkeys first.", 403)
    catalog, rp, user = req.app.state.catalog, _rp(req), await run_in_threadpool(_user, req, auth)
    return await _ceremony(
        lambda: Response(
            passkeys.registration_options(catalog, rp, sess, user), media_type="application/json"
        )
    )


@account_rt.post("/account/passkeys")
async def register(req: Request, sess, auth):
    if auth.impersonator_id is not None:
        return _refused("Not while impersonating: passkeys are the person's own.", 403)
    try:
        answer, name = await _answer(req)
    except PasskeyRefused as e:
        return _refused(e.message)

    def finish() -> Response:
        catalog = req.app.state.catalog
        passkey_id = passkeys.register(catalog, _rp(req), sess, auth.user_id, answer, name)
        if not auth.second_factor:  # it was just used to register: the step is passed
            pass_second_step(catalog, auth.session_hash, "passkey")
        catalog.audit(
            "auth.passkey_added",
            actor=auth.user_id,
            tenant=None,
            ip=client_ip(req),
            passkey=passkey_id,
        )
        return JSONResponse({"redirect": "/account#passkeys"})

    return await _ceremony(finish)


def _own_passkey(req: Request, auth: Auth, passkey_id: str) -> dict:
    found = req.app.state.catalog.row(
        "SELECT id, name FROM core_passkeys WHERE id = :id AND user_id = :u",
        id=passkey_id,
        u=auth.user_id,
    )
    if found is None:
        raise HTTPException(404)
    return found


@account_rt.post("/account/passkeys/{passkey_id}/rename")
def rename(req: Request, auth, passkey_id: str, name: str = ""):
    _own_passkey(req, auth, passkey_id)
    _editable(req, auth)
    cleaned = " ".join(name.split())[:NAME_MAX] if isinstance(name, str) else ""
    if not cleaned:
        return PasskeysPanel(req, auth, "Give the passkey a name."), Toasts(
            "Give the passkey a name.", kind="error"
        )
    req.app.state.catalog.execute(
        "UPDATE core_passkeys SET name = :n WHERE id = :id AND user_id = :u",
        n=cleaned,
        id=passkey_id,
        u=auth.user_id,
    )
    return PasskeysPanel(req, auth), Toasts("Passkey renamed.")


@account_rt.post("/account/passkeys/{passkey_id}/remove")
def remove(req: Request, auth, passkey_id: str):
    found = _own_passkey(req, auth, passkey_id)
    _editable(req, auth)
    catalog = req.app.state.catalog
    catalog.execute(
        "DELETE FROM core_passkeys WHERE id = :id AND user_id = :u", id=passkey_id, u=auth.user_id
    )
    catalog.audit(
        "auth.passkey_removed",
        actor=auth.user_id,
        tenant=None,
        ip=client_ip(req),
        passkey=found["id"],
    )
    return PasskeysPanel(req, auth), Toasts(f"Passkey {found['name']} removed.")


# -- the second step ------------------------------------------------------------------------


def SecondStepPage(req: Request, auth: Auth):
    have = passkeys.passkeys_of(req.app.state.catalog, auth.user_id)
    why = (
        f"{auth.tenant_name} asks everyone for a passkey as well."
        if auth.require_passkey
        else "Confirm it is you with one of your passkeys."
    )
    use = Div(
        Button(
            "Use my passkey",
            icon="shield",
            id="passkey-step",
            data_csrf=csrf_token(req),
            data_options="/login/second-step/options",
            data_verify="/login/second-step",
        ),
        P("", cls="field-error", id="passkey-error", role="alert"),
    )
    lost = Div(
        P(
            Small(
                "Lost your passkey? We can email you a link that lets you in once, to add a new one."
            )
        ),
        Form(
            CsrfField(req),
            Button("Email me a recovery link", type="submit", variant="outline"),
            method="post",
            action="/login/second-step/recover",
        ),
    )
    none_yet = P(
        "You have no passkey yet: add one under ", A("Account", href="/account#passkeys"), "."
    )
    return Page(
        req,
        "One more step",
        PageHeader("One more step", why),
        Card(use if have else none_yet, lost if have else ""),
        head=passkey_script(),
    )


@account_rt.get("/login/second-step")
def second_step_page(req: Request, auth):
    if auth.impersonator_id is not None:
        raise HTTPException(403, "Not while impersonating.")
    return SecondStepPage(req, auth)


@account_rt.post("/login/second-step/options")
async def second_step_options(req: Request, sess, auth):
    catalog, rp = req.app.state.catalog, _rp(req)
    return await _ceremony(
        lambda: Response(
            passkeys.authentication_options(catalog, rp, sess, "second_step", auth.user_id),
            media_type="application/json",
        )
    )


@account_rt.post("/login/second-step")
async def second_step(req: Request, sess, auth):
    try:
        answer, _ = await _answer(req)
    except PasskeyRefused as e:
        return _refused(e.message)

    def finish() -> Response:
        catalog = req.app.state.catalog
        passkeys.authenticate(catalog, _rp(req), sess, "second_step", answer)
        pass_second_step(catalog, auth.session_hash, "passkey")
        return JSONResponse(
            {"redirect": "/dashboard" if auth.require_passkey else "/account#passkeys"}
        )

    return await _ceremony(finish)


@account_rt.post("/login/second-step/recover")
def recover(req: Request, sess, auth):
    """Email a recovery link to the person's own address (whatever the form says)."""
    refuse_if_impersonating(auth)
    task = send_link(req, sess, auth.email, purpose="recovery", user_id=auth.user_id)
    if auth.tenant_id:
        record(req, auth, "auth.passkey_recovery_asked")
    return FtResponse(CheckEmailPage(req), background=task)
