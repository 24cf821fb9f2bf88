"""Passkeys in headless Chromium with the DevTools virtual authenticator (issue 13 item 3).

The real app runs on `localhost` (a WebAuthn relying party id cannot be an IP address); the
browser gets a virtual platform authenticator over CDP (`WebAuthn.addVirtualAuthenticator`),
so every ceremony is the browser's own, checked by the server with the `webauthn` package.
One walk: register under Account, sign in with the passkey alone, an owner requires it as a
second step and a fresh sign-in has to pass it, then remove it. Refusals: an assertion whose
client data names another origin, and a replay of an assertion that already signed in.
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.support.browser import loopback_only
from tests.support.server import AppServer, free_port

EMAIL = "ada@example.com"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    port = free_port()
    url = f"http://localhost:{port}"
    env = {
        "APP_ENV": "development",
        "DATA_DIR": str(tmp_path_factory.mktemp("passkeys") / "data"),
        "BASE_URL": url,
        "DATABASE_URL": "",
        "TENANT_DATABASE_URL": "",
    }
    with AppServer(env, port=port):
        yield url


@pytest.fixture(scope="module")
def page(browser, site):
    context = browser.new_context(base_url=site)
    loopback_only(context)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.on("dialog", lambda dialog: dialog.accept())  # hx-confirm before removing
    cdp = context.new_cdp_session(tab)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    yield tab
    context.close()


def dev_sign_in(page) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    form = page.locator("form[action='/login/dev']")
    form.locator("input[name=email]").fill(EMAIL)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("load")


def passkey_sign_in(page, rewrite=None) -> dict:
    """Click 'Sign in with a passkey' on a fresh sign-in page; `rewrite` may change the
    body the page posts. Returns the body the server received."""
    page.context.clear_cookies()
    page.goto("/login")
    sent: dict = {}

    def route(r) -> None:
        body = json.loads(r.request.post_data or "{}")
        body = rewrite(body) if rewrite else body
        sent.update(body)
        r.continue_(post_data=json.dumps(body))

    page.route("**/login/passkey", route)
    try:
        page.click("#passkey-sign-in")
        if rewrite is None:
            page.wait_for_url("**/dashboard*")
        else:
            page.locator("#passkey-error").filter(has_text="refused").wait_for()
    finally:
        page.unroute("**/login/passkey")
    return sent


def client_data(credential: dict) -> dict:
    raw = credential["response"]["clientDataJSON"]
    return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))


def signed_in(page) -> bool:
    return page.request.get("/account", max_redirects=0).status == 200


def test_register_sign_in_require_and_remove_a_passkey(page):
    dev_sign_in(page)
    page.goto("/account")
    page.fill("#passkey-name", "Work laptop")
    page.click("#passkey-register")
    page.locator("#passkeys").filter(has_text="Work laptop").wait_for()

    # Sign in with the passkey alone; what the page sent was a real assertion for localhost.
    good = passkey_sign_in(page)
    assert client_data(good["credential"])["origin"] == page.url.split("/dashboard")[0]
    assert signed_in(page)

    # A wrong origin in the client data: refused, and no session.
    def elsewhere(body: dict) -> dict:
        data = client_data(body["credential"])
        data["origin"] = "https://evil.example"
        raw = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
        body["credential"]["response"]["clientDataJSON"] = raw
        return body

    passkey_sign_in(page, elsewhere)
    assert "origin" in page.locator("#passkey-error").inner_text()
    assert not signed_in(page)

    # The assertion that signed in before, replayed against a fresh challenge: refused.
    passkey_sign_in(page, lambda body: {**body, "credential": good["credential"]})
    assert not signed_in(page)

    # The owner requires a passkey as a second step for the workspace.
    passkey_sign_in(page)
    page.goto("/settings/security")
    page.check("input[name=require_passkey]")
    page.click("#security-form button[type=submit]")
    page.get_by_text("Passkeys are now required.").wait_for()

    # A sign-in without a passkey stops at the step until one is used.
    dev_sign_in(page)
    page.wait_for_url("**/login/second-step*")
    assert page.request.get("/dashboard", max_redirects=0).status == 303
    page.click("#passkey-step")
    page.wait_for_url("**/dashboard*")

    # Having used it, the person may remove it.
    page.goto("/account")
    page.locator("#passkeys button", has_text="Remove").click()
    # The page's own confirmation dialog (static/ui.js) where the shell has one, else the
    # browser's confirm(), which the dialog handler above accepts.
    accept = page.locator("#confirm-dialog [data-confirm-accept]")
    removed = page.locator("#passkeys").filter(has_text="No passkeys yet.")
    accept.or_(removed).first.wait_for()
    if accept.is_visible():
        accept.click()
    removed.wait_for()
    assert "Work laptop" not in page.locator("#passkeys").inner_text()


BAD_BODIES = (
    b"not json",
    b"[]",
    b'{"credential": 5}',
    b'{"credential": {"id": 7}}',
    b'{"credential": {"id": "x", "rawId": "x", "type": "public-key", "response": {}}}',
    b'{"credential": {"id": "' + b"A" * 5000 + b'", "response": {"clientDataJSON": "%%"}}}',
)


def test_bad_passkey_input_gets_a_4xx_with_a_message(client):
    from tests.conftest import dev_sign_in as sign_in
    from tests.conftest import page_csrf

    sign_in(client, EMAIL)
    token = page_csrf(client, "/account")
    for options, verify in (
        ("/login/passkey/options", "/login/passkey"),
        ("/account/passkeys/options", "/account/passkeys"),
    ):
        for body in BAD_BODIES:
            assert client.post(options, headers={"X-CSRF-Token": token}).status_code == 200
            answer = client.post(
                verify,
                content=body,
                headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
            )
            assert 400 <= answer.status_code < 500, (verify, body[:40], answer.status_code)
            # A body that is no JSON object is refused (400) before the handler sees it.
            if body.startswith(b"{"):
                assert answer.json()["error"], (verify, body[:40])
    # A form post (its CSRF token read from the body) is no passkey answer either.
    for verify in ("/login/passkey", "/account/passkeys", "/login/second-step"):
        form = client.post(
            verify,
            content=(
                f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n--b--\r\n'
            ).encode(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert form.status_code == 400 and form.json()["error"] == "The request was not JSON."
    assert client.post("/login/second-step/options", headers={"X-CSRF-Token": token}).json() == {
        "error": "You have no passkey yet."
    }
    for path in ("/account/passkeys/nope/rename", "/account/passkeys/" + "f" * 32 + "/remove"):
        assert client.post(path, headers={"X-CSRF-Token": token}).status_code == 404
    assert client.app.state.catalog.rows("SELECT id FROM core_passkeys") == []
