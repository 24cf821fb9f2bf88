"""A real OpenID provider on 127.0.0.1 (oidc-provider-mock), for sign-in tests."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import oidc_provider_mock
import werkzeug.serving
from oidc_provider_mock import User

CLIENT_ID = "starter-test-client"
CLIENT_SECRET = "starter-test-secret"


@contextmanager
def oidc_provider(users: list[User], tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve the provider in a thread (over https with a `tls` server context); yields its
    base URL (the issuer)."""
    wsgi = oidc_provider_mock.app(require_nonce=True, user_claims=users)
    server = werkzeug.serving.make_server("127.0.0.1", 0, wsgi, threaded=True, ssl_context=tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def oidc_env(issuer: str) -> dict[str, str]:
    """Settings that point the app's sign-in at the test provider."""
    return {
        "GOOGLE_CLIENT_ID": CLIENT_ID,
        "GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_METADATA_URL": f"{issuer}/.well-known/openid-configuration",
    }
