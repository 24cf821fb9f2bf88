"""The ways in, as the login page and its follow-up pages show them: provider buttons, the
email-link form and its code form, the passkey button (static/passkeys.js drives it)."""

from __future__ import annotations

from fasthtml.common import H1, A, Article, Button, Div, Form, Input, Label, P, Script, Small

from app.settings import Provider
from app.ui.components import CsrfField, DevSignInForm
from app.ui.layout import Page
from app.web.security import csrf_token


def passkey_script() -> tuple:
    return (Script(src="/static/passkeys.js", defer=True),)


def ProviderButton(provider: Provider):
    return A(
        f"Sign in with {provider.label}", href=f"/auth/{provider.slug}", role="button", cls="wide"
    )


def EmailLinkForm(req, email: str = "", error: str = ""):
    return Form(
        CsrfField(req),
        Label(
            "Email me a sign-in link",
            Input(
                type="email",
                name="email",
                value=email,
                required=True,
                maxlength=254,
                autocomplete="email",
                placeholder="you@example.com",
                aria_invalid="true" if error else None,
            ),
            Small(error, cls="error") if error else "",
        ),
        Button("Email me a link", type="submit", cls="secondary"),
        method="post",
        action="/login/email",
        id="email-link-form",
    )


def PasskeySignIn(req):
    """A button that asks the browser for a passkey; its script posts the answer."""
    return Div(
        Button(
            "Sign in with a passkey",
            type="button",
            cls="outline",
            id="passkey-sign-in",
            data_csrf=csrf_token(req),
            data_options="/login/passkey/options",
            data_verify="/login/passkey",
        ),
        Small("", cls="error", id="passkey-error", role="alert"),
    )


def LoginPage(req, *, email: str = "", error: str = ""):
    settings = req.app.state.settings
    ways: list = [ProviderButton(p) for p in settings.providers]
    if settings.email_signin_enabled:
        ways.append(EmailLinkForm(req, email, error))
    ways.append(PasskeySignIn(req))
    if settings.dev_login_enabled:
        ways.append(DevSignInForm(req))
    return Page(
        req, "Sign in", H1("Sign in"), Article(*ways, cls="sign-in-ways"), head=passkey_script()
    )


def CodeForm(req, action: str, error: str = ""):
    return Form(
        CsrfField(req),
        Label(
            "Or type the code from the email",
            Input(
                name="code",
                inputmode="numeric",
                autocomplete="one-time-code",
                maxlength=12,
                required=True,
                aria_invalid="true" if error else None,
            ),
            Small(error, cls="error") if error else "",
        ),
        Button("Continue", type="submit"),
        method="post",
        action=action,
        id="code-form",
    )


def CheckEmailPage(req, error: str = "", action: str = "/login/email/code"):
    """The same answer for every address, with an account or without."""
    return Page(
        req,
        "Check your email",
        H1("Check your email"),
        Article(
            P(
                "If the address can receive mail, a sign-in link is on its way. It works once,"
                " for 15 minutes, in this browser only."
            ),
            CodeForm(req, action, error),
        ),
    )
