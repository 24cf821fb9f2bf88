"""ApiClient: which failures are retried, how long it waits, and what it reports."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.lib.graphql import GraphQLClient
from app.lib.http_client import (
    ApiClient,
    ApiError,
    Retry,
    api_key_auth,
    bearer_auth,
    oauth_token_auth,
    retry_after,
)
from tests.support.graphql_server import FaultInjector, serve

FAST = Retry(attempts=4, backoff=0.01, max_delay=5)


class Script:
    """A transport that answers from a list (responses or exceptions) and records requests."""

    def __init__(self, *steps):
        self.steps, self.requests = list(steps), []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def client(script: Script, sleeps: list | None = None, **kw) -> ApiClient:
    async def record(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    kw.setdefault("retry", FAST)
    return ApiClient(
        "https://api.example/v1/", transport=httpx.MockTransport(script), sleep=record, **kw
    )


def run(coroutine):
    return asyncio.run(coroutine)


def test_retries_5xx_and_429_then_succeeds():
    script = Script(httpx.Response(503), httpx.Response(429), httpx.Response(200, json={"ok": 1}))
    sleeps: list[float] = []

    async def go():
        async with client(script, sleeps) as api:
            return await api.get_json("items", params={"page": 2})

    assert run(go()) == {"ok": 1}
    assert len(script.requests) == 3
    assert str(script.requests[0].url) == "https://api.example/v1/items?page=2"
    assert len(sleeps) == 2


def test_backoff_grows_exponentially_with_jitter():
    retry = Retry(attempts=6, backoff=1, max_delay=100)
    for n in range(5):
        delays = [retry.delay(n) for _ in range(200)]
        assert all(2**n / 2 <= d <= 2**n for d in delays)
        assert len(set(delays)) > 1  # jittered, so clients do not retry in lockstep
    assert Retry(backoff=1, max_delay=3).delay(10) <= 3


def test_retry_after_is_honoured():
    script = Script(httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json=[]))
    sleeps: list[float] = []

    async def go():
        async with client(script, sleeps) as api:
            return await api.get_json()

    assert run(go()) == []
    assert sleeps[0] >= 3


def test_retry_after_longer_than_max_delay_gives_up_at_once():
    script = Script(httpx.Response(429, headers={"Retry-After": "3600"}, text="slow down"))

    async def go():
        async with client(script) as api:
            await api.get_json()

    with pytest.raises(ApiError, match="slow down") as error:
        run(go())
    assert error.value.status == 429 and len(script.requests) == 1


def test_retry_after_as_an_http_date():
    later = datetime.now(UTC) + timedelta(seconds=30)
    response = httpx.Response(503, headers={"Retry-After": format_datetime(later, usegmt=True)})
    assert 25 < retry_after(response) <= 30
    assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(503)) is None


def test_other_4xx_fail_at_once_with_the_body():
    script = Script(httpx.Response(422, json={"error": "amount must be positive"}))

    async def go():
        async with client(script) as api:
            await api.post_json("charges", {"amount": -1})

    with pytest.raises(ApiError, match="amount must be positive") as error:
        run(go())
    assert error.value.status == 422 and len(script.requests) == 1
    assert json.loads(script.requests[0].content) == {"amount": -1}


def test_network_errors_are_retried_then_reported():
    script = Script(
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        httpx.ConnectError("refused again"),
    )

    async def go():
        async with client(script) as api:
            await api.get_json()

    with pytest.raises(ApiError, match="refused again") as error:
        run(go())
    assert error.value.status is None and len(script.requests) == 4


def test_gives_up_after_the_last_attempt_with_the_last_status():
    script = Script(*[httpx.Response(500, text=f"failure {i}") for i in range(4)])

    async def go():
        async with client(script) as api:
            await api.get_json()

    with pytest.raises(ApiError, match="failure 3") as error:
        run(go())
    assert error.value.status == 500


def test_non_json_answer_is_an_api_error():
    script = Script(httpx.Response(200, text="<html>maintenance</html>"))

    async def go():
        async with client(script) as api:
            await api.get_json()

    with pytest.raises(ApiError, match="did not return JSON"):
        run(go())


def test_auth_headers_are_sent_and_a_redirect_is_an_error_not_followed():
    script = Script(
        httpx.Response(200, json={}),
        httpx.Response(302, headers={"Location": "https://evil.example/"}),
    )
    headers = {**bearer_auth("t0k"), **api_key_auth("k3y", header="X-Shop-Key")}

    async def go():
        async with client(script, headers=headers) as api:
            await api.get_json()
            return await api.request("GET", "moved")

    with pytest.raises(ApiError, match=r"redirected to https://evil\.example/") as refused:
        run(go())
    assert refused.value.status == 302
    sent = script.requests[0].headers
    assert sent["authorization"] == "Bearer t0k" and sent["x-shop-key"] == "k3y"
    assert len(script.requests) == 2  # not followed with our key, and not retried
    assert api_key_auth("k") == {"X-API-Key": "k"}
    assert oauth_token_auth({"access_token": "abc", "token_type": "bearer"}) == {
        "Authorization": "Bearer abc"
    }


def test_pool_is_closed_after_the_block():
    async def go():
        async with client(Script()) as api:
            pass
        return api._http.is_closed

    assert run(go()) is True


def test_real_server_dropped_connections_and_503_are_survived():
    async def hello(request):
        return JSONResponse({"hello": "world"})

    app = FaultInjector(Starlette(routes=[Route("/", hello)]), plan=["drop", "503", "ok"])
    with serve(app) as url:

        async def go():
            async with ApiClient(url, retry=FAST, timeout=5) as api:
                return [await api.get_json() for _ in range(2)]

        assert run(go()) == [{"hello": "world"}] * 2
    assert app.injected == {"drop": 2, "503": 2, "ok": 2}


# Issue 16 item 22: ApiClient("https://host/graphql") posted to /graphql/, and the server's
# 307 back to /graphql was taken as success ("did not return JSON").


def strict_graphql_app() -> Starlette:
    """Answers POST /graphql only; like Starlette's default router, it redirects /graphql/."""

    async def graphql(request):
        return JSONResponse({"data": {"path": request.url.path}})

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])


def test_the_url_is_used_as_given():
    with serve(strict_graphql_app()) as url:

        async def go():
            async with ApiClient(f"{url}graphql", retry=FAST, timeout=5) as api:
                return await GraphQLClient(api).execute("{ path }")

        assert run(go()) == {"path": "/graphql"}


@pytest.mark.parametrize(
    ("base", "path", "sent"),
    [
        ("https://api.example/graphql", "", "https://api.example/graphql"),
        ("https://api.example/v1/", "items", "https://api.example/v1/items"),
        ("https://api.example/v1", "items", "https://api.example/v1/items"),
        ("https://api.example/v1", "/items", "https://api.example/v1/items"),
        ("https://api.example/v1?key=k", "", "https://api.example/v1?key=k"),
    ],
)
def test_paths_join_the_base_url_without_inventing_slashes(base, path, sent):
    script = Script(httpx.Response(200, json={}))

    async def go():
        async with ApiClient(base, transport=httpx.MockTransport(script), retry=FAST) as api:
            await api.get_json(path)

    run(go())
    assert str(script.requests[0].url) == sent


def test_a_redirect_from_a_real_server_is_an_error_naming_where_it_points():
    with serve(strict_graphql_app()) as url:

        async def go():
            async with ApiClient(f"{url}graphql/", retry=FAST, timeout=5) as api:
                return await api.post_json("", {"query": "{ path }"})

        with pytest.raises(ApiError, match=r"redirected to .*/graphql\b") as refused:
            run(go())
    assert refused.value.status == 307
