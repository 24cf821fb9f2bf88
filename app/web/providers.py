"""Sign-in through providers: any OpenID provider (Google, Microsoft, a generic one) and
GitHub's OAuth 2, all through authlib, each registered from its own settings.

authlib sends state, nonce (OpenID) and PKCE (S256) and checks the ID token's issuer,
audience, nonce and expiry. The state data lives server-side in the catalog (authlib's cache
protocol), so the cookie never carries the PKCE verifier and every app process can finish a
sign-in. authlib accepts `email_verified=false`, so `_verified` decides: a provider that does
not vouch for the address is refused, and so never links to the person who has it.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.starlette_client import OAuth
from starlette.requests import Request

from app.settings import Provider, Settings
from app.web.signin import Identity
from tenants.catalog import Catalog

OPENID_SCOPE = "openid email profile"
GITHUB_SCOPE = "read:user user:email"
# Personal Microsoft accounts live in this tenant; Microsoft verifies their addresses.
MICROSOFT_CONSUMERS = "9188040d-6c67-4c5b-b112-36a304b66dad"


class SignInRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def register_providers(settings: Settings, catalog: Catalog) -> OAuth | None:
    if not settings.providers:
        return None
    oauth = OAuth(cache=catalog)
    for p in settings.providers:
        common: dict[str, Any] = {"client_id": p.client_id, "client_secret": p.client_secret}
        if p.kind == "github":
            oauth.register(
                p.slug,
                **common,
                authorize_url=f"{p.web_url}/login/oauth/authorize",
                access_token_url=f"{p.web_url}/login/oauth/access_token",
                api_base_url=f"{p.api_url}/",
                client_kwargs={"scope": GITHUB_SCOPE, "code_challenge_method": "S256"},
            )
        else:
            oauth.register(
                p.slug,
                **common,
                server_metadata_url=p.metadata_url,
                client_kwargs={"scope": OPENID_SCOPE, "code_challenge_method": "S256"},
            )
    return oauth


async def identity_from_callback(oauth: OAuth, provider: Provider, req: Request) -> Identity:
    """The verified identity a provider's redirect back carries; raises SignInRefused, or
    authlib's and the HTTP client's errors for the route to answer."""
    client = oauth.create_client(provider.slug)
    if provider.kind == "github":
        return await _github(client, provider, req)
    options = await _issuer_check(client) if provider.slug == "microsoft" else None
    token = await client.authorize_access_token(req, claims_options=options)
    claims = token.get("userinfo") or {}
    if not claims.get("sub") or not claims.get("email"):
        raise SignInRefused(400, "Your provider did not share an email address.")
    if not _verified(provider, claims):
        raise SignInRefused(403, "Your email address is not verified with your provider.")
    return Identity(
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        email=str(claims["email"]).lower(),
        name=str(claims.get("name", ""))[:100],
        avatar_url=str(claims.get("picture", ""))[:500],
        method=provider.slug,
    )


def _verified(provider: Provider, claims: dict) -> bool:
    if claims.get("email_verified") in (True, "true"):
        return True
    # Microsoft sends no email_verified: its addresses count when the domain's owner vouches
    # (the optional xms_edov claim) or for personal accounts, whose addresses it verifies.
    return provider.slug == "microsoft" and (
        claims.get("xms_edov") in (True, "true", 1) or claims.get("tid") == MICROSOFT_CONSUMERS
    )


async def _issuer_check(client) -> dict:
    """Microsoft's multi-tenant metadata names its issuer as a template with `{tenantid}`.
    Passing our own claims options turns authlib's issuer check off, so this is it."""
    issuer = (await client.load_server_metadata())["issuer"]

    def same_issuer(claims: Any, value: object) -> bool:
        return value == issuer.replace("{tenantid}", str(claims.get("tid", "")))

    return {"iss": {"essential": True, "validate": same_issuer}}


async def _github(client, provider: Provider, req: Request) -> Identity:
    """GitHub is OAuth 2 without ID tokens: who it is comes from its API, and the address
    from its list of the person's emails, which says which ones GitHub has verified."""
    token = await client.authorize_access_token(req)
    user = (await client.get("user", token=token)).json()
    emails = (await client.get("user/emails", token=token)).json()
    if not isinstance(user, dict) or not user.get("id") or not isinstance(emails, list):
        raise SignInRefused(400, "GitHub did not say who you are.")
    verified = [e for e in emails if isinstance(e, dict) and e.get("verified") is True]
    verified.sort(key=lambda e: e.get("primary") is not True)  # the primary one first
    if not verified or not isinstance(verified[0].get("email"), str):
        raise SignInRefused(403, "Your GitHub account has no verified email address.")
    return Identity(
        issuer=provider.web_url,
        subject=str(user["id"]),
        email=verified[0]["email"].lower(),
        name=str(user.get("name") or user.get("login") or "")[:100],
        avatar_url=str(user.get("avatar_url") or "")[:500],
        method=provider.slug,
    )
