"""The ways in, as the login page and its follow-up pages show them: provider buttons, the
email-link form and its code form, the passkey button (static/passkeys.js drives it)."""

from __future__ import annotations

from fasthtml.common import Div, Form, Input, P, Script

from app.settings import Provider
from app.ui.components import CsrfField, DevSignInForm, EmailInput
from app.ui.kit import Button, Field
from app.ui.layout import SignInPage
from app.web.security import csrf_token


def passkey_script() -> tuple:
    return (Script(src="/static/passkeys.js", defer=True),)


def ProviderButton(provider: Provider):
    return Button(
        f"Sign in with {provider.label}",
        href=f"/auth/{provider.slug}",
        variant="outline",
        cls="btn-block",
    )


def EmailLinkForm(req, email: str = "", error: str = ""):
    return Form(
        CsrfField(req),
        Field(
            "Email me a sign-in link",
            EmailInput(email),
            error or None,
            id="email-link-address",  # the dev sign-in form has an email field too
        ),
        Button("Email me a link", type="submit", variant="secondary", cls="btn-block"),
        method="post",
        action="/login/email",
        id="email-link-form",
        cls="stack",
    )


def PasskeySignIn(req):
    """A button that asks the browser for a passkey; its script posts the answer."""
    return Div(
        Button(
            "Sign in with a passkey",
            variant="outline",
            icon="shield",
            cls="btn-block",
            id="passkey-sign-in",
            data_csrf=csrf_token(req),
            data_options="/login/passkey/options",
            data_verify="/login/passkey",
        ),
        P("", cls="field-error", id="passkey-error", role="alert"),
    )


def LoginPage(req, *, email: str = "", error: str = ""):
    settings = req.app.state.settings
    ways: list = [ProviderButton(p) for p in settings.providers]
    if settings.email_signin_enabled:
        ways.append(EmailLinkForm(req, email, error))
    ways.append(PasskeySignIn(req))
    if settings.dev_login_enabled:
        ways.append(DevSignInForm(req))
    return SignInPage(req, Div(*ways, cls="sign-in-ways"), *passkey_script())


def CodeForm(req, action: str, error: str = ""):
    return Form(
        CsrfField(req),
        Field(
            "Or type the code from the email",
            Input(
                name="code",
                inputmode="numeric",
                autocomplete="one-time-code",
                maxlength=12,
                required=True,
            ),
            error or None,
        ),
        Button("Continue", type="submit", cls="btn-block"),
        method="post",
        action=action,
        id="code-form",
        cls="stack",
    )


def CheckEmailPage(req, error: str = "", action: str = "/login/email/code"):
    """The same answer for every address, with an account or without."""
    return SignInPage(
        req,
        P(
            "Check your email. If the address can receive mail, a sign-in link is on its way."
            " It works once, for 15 minutes, in this browser only.",
            cls="lead",
        ),
        CodeForm(req, action, error),
    )
