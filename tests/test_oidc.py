"""End-to-end sign-in against a real OpenID provider on 127.0.0.1."""

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from oidc_provider_mock import User
from starlette.testclient import TestClient

from app.factory import create_app
from tests.support.oidc import oidc_env, oidc_provider

USERS = [
    User(
        sub="alice-sub",
        claims={"email": "alice@example.com", "email_verified": True, "name": "Alice"},
    ),
    User(
        sub="eve-sub", claims={"email": "eve@example.com", "email_verified": False, "name": "Eve"}
    ),
]


@pytest.fixture
def provider():
    with oidc_provider(USERS) as issuer:
        yield issuer


@pytest.fixture
def oidc_app(make_settings, provider):
    settings = make_settings(
        **oidc_env(provider),
        BASE_URL="http://localhost",
    )
    app = create_app(settings)
    yield app
    app.state.databases.dispose()
    app.state.catalog.dispose()


def start(client: TestClient) -> str:
    """Follow /login to the provider; returns the provider's authorization URL."""
    assert "Sign in with Google" in client.get("/login").text
    response = client.get("/auth/google", follow_redirects=False)
    assert response.status_code == 302
    return response.headers["location"]


def consent(authorize_url: str, subject: str) -> str:
    """Play the person at the provider: pick an account; returns our callback path + query."""
    response = httpx.post(authorize_url, data={"sub": subject}, follow_redirects=False)
    assert response.status_code == 302, response.text
    callback = urlsplit(response.headers["location"])
    assert callback.path == "/auth/callback"
    return f"{callback.path}?{callback.query}"


def signed_in(client: TestClient) -> bool:
    return client.get("/dashboard", follow_redirects=False).status_code == 200


def test_request_carries_state_nonce_and_pkce(oidc_app):
    with TestClient(oidc_app, base_url="http://localhost") as client:
        query = parse_qs(urlsplit(start(client)).query)
    assert query["state"] and query["nonce"]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert "email" in query["scope"][0]


def test_sign_in_lands_on_the_dashboard(oidc_app):
    with TestClient(oidc_app, base_url="http://localhost") as client:
        response = client.get(consent(start(client), "alice-sub"), follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/dashboard"
        page = client.get("/dashboard")
        assert "alice@example.com" in page.text
    user = oidc_app.state.catalog.row("SELECT issuer, subject FROM core_users")
    assert user["subject"] == "alice-sub" and user["issuer"].startswith("http://127.0.0.1:")


def test_forged_state_is_refused(oidc_app):
    with TestClient(oidc_app, base_url="http://localhost") as client:
        callback = consent(start(client), "alice-sub")
        path, query = callback.split("?", 1)
        params = {k: v[0] for k, v in parse_qs(query).items()}
        params["state"] = "forged-" + params["state"]
        response = client.get(f"{path}?{urlencode(params)}", follow_redirects=False)
        assert response.status_code == 400
        assert "Sign-in failed" in response.text
        assert not signed_in(client)


def test_replayed_callback_is_refused(oidc_app):
    with TestClient(oidc_app, base_url="http://localhost") as victim:
        callback = consent(start(victim), "alice-sub")
        cookies = dict(victim.cookies)
        assert victim.get(callback, follow_redirects=False).status_code == 303
    with TestClient(oidc_app, base_url="http://localhost", cookies=cookies) as attacker:
        response = attacker.get(callback, follow_redirects=False)
        assert response.status_code == 400
        assert not signed_in(attacker)
    assert oidc_app.state.catalog.row("SELECT count(*) AS n FROM core_sessions")["n"] == 1


def test_callback_without_the_starting_browser_is_refused(oidc_app):
    with TestClient(oidc_app, base_url="http://localhost") as victim:
        callback = consent(start(victim), "alice-sub")
    with TestClient(oidc_app, base_url="http://localhost") as stranger:
        assert stranger.get(callback, follow_redirects=False).status_code == 400
        assert not signed_in(stranger)


def test_unverified_email_is_refused(oidc_app):
    with TestClient(oidc_app, base_url="http://localhost") as client:
        response = client.get(consent(start(client), "eve-sub"), follow_redirects=False)
        assert response.status_code == 403
        assert "not verified" in response.text
        assert not signed_in(client)
    assert oidc_app.state.catalog.row("SELECT count(*) AS n FROM core_users")["n"] == 0


def test_dev_sign_in_does_not_exist_when_oidc_is_configured(oidc_app):
    with TestClient(oidc_app, base_url="http://localhost") as client:
        assert "Development only" not in client.get("/login").text
        # no route at all: Starlette answers before any Beforeware (a 403 would prove nothing)
        response = client.post("/login/dev", data={"email": "x@example.com"})
        assert response.status_code == 404


# Issue 16 item 5: authlib talks to the provider with httpx2, whose errors are not httpx's.


def test_a_provider_that_is_down_at_the_start_is_503(make_settings):
    with oidc_provider(USERS) as issuer:
        pass  # stopped: nothing listens at its address any more
    app = create_app(make_settings(**oidc_env(issuer), BASE_URL="http://localhost"))
    try:
        with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as client:
            response = client.get("/auth/google", follow_redirects=False)
    finally:
        app.state.databases.dispose()
        app.state.catalog.dispose()
    assert response.status_code == 503, response.text
    assert "sign-in provider is unavailable" in response.text


def test_a_provider_that_goes_down_before_the_callback_is_503(make_settings):
    with oidc_provider(USERS) as issuer:
        app = create_app(make_settings(**oidc_env(issuer), BASE_URL="http://localhost"))
        client = TestClient(app, base_url="http://localhost", raise_server_exceptions=False)
        callback = consent(start(client), "alice-sub")
    try:  # the provider is stopped: the code cannot be exchanged for a token
        response = client.get(callback, follow_redirects=False)
        assert response.status_code == 503, response.text
        assert "sign-in provider is unavailable" in response.text
        assert not signed_in(client)
    finally:
        client.close()
        app.state.databases.dispose()
        app.state.catalog.dispose()
