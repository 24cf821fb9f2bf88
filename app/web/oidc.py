"""Sign-in with any OpenID provider (Google by default) through authlib.

authlib sends state, nonce and PKCE (S256) and checks the ID token's issuer, audience, nonce
and expiry. The state data lives server-side in the catalog (authlib's cache protocol), so
the cookie never carries the PKCE verifier and every app process can finish a sign-in.
"""

from __future__ import annotations

from authlib.integrations.starlette_client import OAuth

from app.settings import Settings
from tenants.catalog import Catalog


def register_oidc(settings: Settings, catalog: Catalog) -> OAuth | None:
    if not settings.google_configured:
        return None
    oauth = OAuth(cache=catalog)
    oauth.register(
        "oidc",
        client_id=settings.google_client_id,
        client_secret=settings.google_client_secret,
        server_metadata_url=settings.oidc_metadata_url,
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
    )
    return oauth
