"""A small OAuth 2 server on 127.0.0.1 shaped like GitHub's: authorize, access token (with
PKCE), and the API's /user and /user/emails, for sign-in tests.

    with github_server({"octo": GitHubUser(1, "Octo", [("octo@example.com", True, True)])}) as url:
        ...GITHUB_URL=url, GITHUB_API_URL=url...

The person's consent is the test's: add `login=<name>` to the authorize URL the app sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import werkzeug.serving
from werkzeug.wrappers import Request, Response

CLIENT_ID, CLIENT_SECRET = "github-test-client", "github-test-secret"


@dataclass(frozen=True)
class GitHubUser:
    id: int
    name: str
    emails: list[tuple[str, bool, bool]]  # (address, primary, verified)


def _json(value, status: int = 200) -> Response:
    return Response(json.dumps(value), status=status, mimetype="application/json")


class GitHub:
    def __init__(self, users: dict[str, GitHubUser]):
        self.users = users
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, str] = {}

    def __call__(self, environ, start_response):
        request = Request(environ)
        route = {
            "/login/oauth/authorize": self.authorize,
            "/login/oauth/access_token": self.access_token,
            "/user": self.user,
            "/user/emails": self.emails,
        }.get(request.path)
        response = route(request) if route else _json({"message": "Not Found"}, 404)
        return response(environ, start_response)

    def authorize(self, request: Request) -> Response:
        args = request.args
        login = args.get("login")
        if args.get("client_id") != CLIENT_ID or login not in self.users:
            return _json({"error": "bad authorize request"}, 400)
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return _json({"error": "PKCE required"}, 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "login": login,
            "challenge": args["code_challenge"],
            "redirect_uri": args.get("redirect_uri"),
        }
        query = urlencode({"code": code, "state": args.get("state", "")})
        return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{query}"})

    def access_token(self, request: Request) -> Response:
        form = request.form
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if request.authorization:  # client_secret_basic, authlib's default
            client_id, secret = request.authorization.username, request.authorization.password
        if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
            return _json({"error": "incorrect_client_credentials"}, 401)
        grant = self.codes.pop(form.get("code", ""), None)  # single use
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
        if grant is None or digest.decode() != grant["challenge"]:
            return _json({"error": "bad_verification_code"}, 400)
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return _json({"error": "redirect_uri_mismatch"}, 400)
        token = secrets.token_urlsafe(16)
        self.tokens[token] = grant["login"]
        return _json(
            {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"}
        )

    def _who(self, request: Request) -> GitHubUser | None:
        header = request.headers.get("Authorization", "")
        login = self.tokens.get(header.split(" ", 1)[-1]) if " " in header else None
        return self.users.get(login) if login else None

    def user(self, request: Request) -> Response:
        who = self._who(request)
        if who is None:
            return _json({"message": "Requires authentication"}, 401)
        login = next(k for k, v in self.users.items() if v is who)
        return _json({"id": who.id, "login": login, "name": who.name, "avatar_url": ""})

    def emails(self, request: Request) -> Response:
        who = self._who(request)
        if who is None:
            return _json({"message": "Requires authentication"}, 401)
        return _json(
            [
                {"email": e, "primary": p, "verified": v, "visibility": None}
                for e, p, v in who.emails
            ]
        )


@contextmanager
def github_server(users: dict[str, GitHubUser]) -> Iterator[str]:
    """Serve it in a thread; yields its base URL (both GITHUB_URL and GITHUB_API_URL)."""
    server = werkzeug.serving.make_server("127.0.0.1", 0, GitHub(users), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def github_env(url: str) -> dict[str, str]:
    return {
        "GITHUB_CLIENT_ID": CLIENT_ID,
        "GITHUB_CLIENT_SECRET": CLIENT_SECRET,
        "GITHUB_URL": url,
        "GITHUB_API_URL": url,
    }
