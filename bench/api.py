"""CPU per REST API request, in process, against a bare FastHTML hello world (issue 14).

    uv run python -m bench.api [--requests 2000]

The same method as bench.request_cost (ASGI calls, no sockets; process CPU per request):
a key-authenticated list of notes (a page of 20) and a note created through the API, with
the /notes page of a signed-in browser for comparison. The per-key rate limit stays in the
path, set high enough never to refuse.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from app.factory import create_app
from app.settings import load_settings
from bench.request_cost import Caller, cpu_per_call, hello_app, signed_in


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        env = {
            "APP_ENV": "test",
            "DATA_DIR": str(Path(d) / "data"),
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_API": "100000000/minute",
        }
        app = create_app(load_settings(env=env, env_file=None))
        browser, _ = asyncio.run(signed_in(app))
        tenant_id = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
        owner = app.state.catalog.row("SELECT id FROM core_users")["id"]
        _, key = app.state.api_keys.create(tenant_id, "bench", "write", owner, None)
        api = Caller(app)
        auth = {"authorization": f"Bearer {key}"}
        create_headers = {**auth, "content-type": "application/json"}
        note = json.dumps({"body": "a note from the API"}).encode()
        hello = Caller(hello_app())
        cases = {
            "hello": (lambda: hello.request("GET", "/"), 200),
            "notes page": (
                lambda: browser.request("GET", "/notes", headers={"hx-request": "true"}),
                200,
            ),
            "api list": (lambda: api.request("GET", "/api/v1/notes?limit=20", headers=auth), 200),
            "api create": (
                lambda: api.request("POST", "/api/v1/notes", note, create_headers),
                201,
            ),
        }
        for _ in range(25):  # a full first page for the list
            asyncio.run(cases["api create"][0]())
        for name, (call, expected) in cases.items():
            status, _, body = asyncio.run(call())
            assert status == expected, (name, status, body[:300])
        base = cpu_per_call(cases["hello"][0], args.requests)
        print(f"{'hello':<11} {base:8.0f} us CPU/request   1.00 of hello")
        for name, (call, _) in cases.items():
            if name != "hello":
                cost = cpu_per_call(call, args.requests)
                print(f"{name:<11} {cost:8.0f} us CPU/request   {base / cost:4.2f} of hello")
        app.state.databases.dispose()
        app.state.catalog.dispose()


if __name__ == "__main__":
    main()
