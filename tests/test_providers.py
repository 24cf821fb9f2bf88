"""Several providers at once, each signing in against a local provider the suite runs:
Google, Microsoft and a generic OpenID provider (oidc-provider-mock), GitHub (a small OAuth 2
server shaped like GitHub's, with its verified-email API). Identity stays issuer + subject;
an address the provider does not vouch for is refused (issue 13 item 2)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from oidc_provider_mock import User
from starlette.testclient import TestClient

from app.factory import create_app
from app.lib.email import outbox_for
from tests.support.github import GitHubUser, github_env, github_server
from tests.support.oidc import CLIENT_ID, CLIENT_SECRET, oidc_provider

OPENID_USERS = [
    User(sub="gwen", claims={"email": "gwen@example.com", "email_verified": True, "name": "Gwen"}),
    # Microsoft vouches with xms_edov (no email_verified), or for personal accounts.
    User(sub="max", claims={"email": "max@example.com", "xms_edov": True, "name": "Max"}),
    User(sub="mia", claims={"email": "mia@example.com", "name": "Mia"}),  # nobody vouches
]
GITHUB_USERS = {
    "octo": GitHubUser(
        42, "Octo", [("old@example.com", False, True), ("octo@example.com", True, True)]
    ),
    "ghost": GitHubUser(43, "Ghost", [("ghost@example.com", True, False)]),
}


@pytest.fixture(scope="module")
def providers():
    with (
        oidc_provider(OPENID_USERS) as google,
        oidc_provider(OPENID_USERS) as microsoft,
        oidc_provider(OPENID_USERS) as generic,
        github_server(GITHUB_USERS) as github,
    ):
        yield {"google": google, "microsoft": microsoft, "oidc": generic, "github": github}


@pytest.fixture
def app(make_settings, providers):
    env = {"BASE_URL": "http://localhost", **github_env(providers["github"])}
    for prefix, slug in (("GOOGLE", "google"), ("MICROSOFT", "microsoft"), ("OIDC", "oidc")):
        env |= {
            f"{prefix}_CLIENT_ID": CLIENT_ID,
            f"{prefix}_CLIENT_SECRET": CLIENT_SECRET,
            f"{prefix}_METADATA_URL": f"{providers[slug]}/.well-known/openid-configuration",
        }
    application = create_app(make_settings(**env, OIDC_NAME="Acme ID"))
    yield application
    application.state.databases.dispose()
    application.state.catalog.dispose()


def through(client: TestClient, slug: str, who: str):
    """Start at /auth/<slug>, consent at the provider as `who`, come back."""
    started = client.get(f"/auth/{slug}", follow_redirects=False)
    assert started.status_code == 302, started.text
    authorize = started.headers["location"]
    if slug == "github":
        consented = httpx.get(f"{authorize}&login={who}", follow_redirects=False)
    else:
        consented = httpx.post(authorize, data={"sub": who}, follow_redirects=False)
    assert consented.status_code == 302, consented.text
    back = urlsplit(consented.headers["location"])
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def test_every_provider_has_its_button(app):
    with TestClient(app, base_url="http://localhost") as client:
        page = client.get("/login").text
    for label, slug in (
        ("Google", "google"),
        ("Microsoft", "microsoft"),
        ("GitHub", "github"),
        ("Acme ID", "oidc"),
    ):
        assert f'href="/auth/{slug}"' in page and f"Sign in with {label}" in page
    assert "Development only" not in page  # real providers: no dev sign-in


@pytest.mark.parametrize(
    ("slug", "who", "email"),
    [
        ("google", "gwen", "gwen@example.com"),
        ("microsoft", "max", "max@example.com"),
        ("oidc", "gwen", "gwen@example.com"),
        ("github", "octo", "octo@example.com"),  # the primary verified address
    ],
)
def test_each_kind_signs_in(app, providers, slug, who, email):
    with TestClient(app, base_url="http://localhost") as client:
        landed = through(client, slug, who)
        assert landed.status_code == 303 and landed.headers["location"] == "/dashboard"
        assert email in client.get("/dashboard").text
    [identity] = app.state.catalog.rows("SELECT issuer, subject, email FROM core_identities")
    expected_subject = "42" if slug == "github" else who
    assert (identity["issuer"], identity["subject"]) == (providers[slug], expected_subject)
    outbox = outbox_for(app.state.settings)  # the first sign-up is welcomed, whichever way
    sent = [outbox.get(i) for i in outbox.ids()]
    assert [m.subject.startswith("Welcome to") for m in sent if m.to == email] == [True]


@pytest.mark.parametrize(
    ("slug", "who"), [("google", "max"), ("oidc", "mia"), ("microsoft", "mia"), ("github", "ghost")]
)
def test_an_address_the_provider_does_not_vouch_for_is_refused(app, slug, who):
    with TestClient(app, base_url="http://localhost") as client:
        refused = through(client, slug, who)
        assert refused.status_code == 403 and "verified" in refused.text
    assert app.state.catalog.rows("SELECT id FROM core_users") == []


def test_github_requests_carry_state_and_pkce_and_a_forged_state_is_refused(app):
    with TestClient(app, base_url="http://localhost") as client:
        started = client.get("/auth/github", follow_redirects=False)
        query = parse_qs(urlsplit(started.headers["location"]).query)
        assert query["state"] and query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == ["http://localhost/auth/github/callback"]
        consented = httpx.get(started.headers["location"] + "&login=octo")
        back = urlsplit(consented.headers["location"])
        forged = back.query.replace("state=", "state=x")
        assert client.get(f"{back.path}?{forged}", follow_redirects=False).status_code == 400
    assert app.state.catalog.rows("SELECT id FROM core_users") == []


def test_unknown_providers_are_not_found(app):
    with TestClient(app, base_url="http://localhost") as client:
        for path in ("/auth/facebook", "/auth/facebook/callback", "/auth/google/callback"):
            assert client.get(path, follow_redirects=False).status_code == 404, path
