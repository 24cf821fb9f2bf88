"""Security headers for every response, and CSRF tokens bound to the session."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import HTTPConnection

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # no inline script anywhere, so XSS cannot run what it injects
        "style-src 'self'",
        "img-src 'self' data: https:",  # https: for OpenID avatars
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ]
)


def security_headers(*, hsts: bool) -> list[tuple[bytes, bytes]]:
    """The headers every response carries (the edge adds those a response did not set)."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"x-frame-options", b"DENY"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return headers


def _seed(conn: HTTPConnection) -> str:
    """The value a CSRF token is bound to: the session id, or for visitors an anonymous one."""
    session = conn.scope.get("session")
    if session is None:
        return ""
    if "sid" in session:
        return session["sid"]
    if "anon" not in session:
        session["anon"] = secrets.token_urlsafe(24)
    return session["anon"]


def csrf_token(conn: HTTPConnection) -> str:
    key = conn.app.state.secret_key.encode()
    return hmac.new(key, b"csrf:" + _seed(conn).encode(), hashlib.sha256).hexdigest()


def csrf_valid(conn: HTTPConnection, submitted: str | None) -> bool:
    """Whether `submitted` is this session's token. Anything malformed is simply not it
    (compare_digest refuses non-ASCII text, so compare bytes)."""
    if not submitted or not _seed(conn):
        return False
    return hmac.compare_digest(csrf_token(conn).encode(), submitted.encode(errors="replace"))
