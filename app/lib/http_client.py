"""An async HTTP client for external APIs: one pooled connection set, retries done right.

Retried: network errors (refused, reset, dropped mid-response, timeouts), 429 and 5xx, with
exponential backoff and jitter. A `Retry-After` header is honoured: the client never retries
sooner than the server asked, and gives up at once if the server asks for longer than
`Retry.max_delay` (a background job can be retried later; a sync should not sleep for an
hour). Any other 4xx fails at once, with the response body in the error.

Every request is treated as safe to repeat, which holds for reads and GraphQL queries. Do
not point the retries at a non-idempotent endpoint without an idempotency key.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

ERROR_BODY_LIMIT = 2000  # characters of a failed response kept in the error message


@dataclass(frozen=True)
class Retry:
    attempts: int = 5  # tries per request, the first one included
    backoff: float = 0.5  # seconds before the first retry; doubles each time
    max_delay: float = 30.0  # no single wait is longer; a longer Retry-After means give up

    def delay(self, retry_number: int) -> float:
        """Equal jitter: half the exponential delay, plus a random part of the other half."""
        ceiling = min(self.max_delay, self.backoff * 2**retry_number)
        return ceiling / 2 + random.random() * ceiling / 2  # noqa: S311 (not cryptographic)


class ApiError(Exception):
    """A request that failed for good. `status` is None when no response arrived at all."""

    def __init__(self, message: str, *, status: int | None = None, body: str = ""):
        super().__init__(f"{message}: {body}" if body else message)
        self.status, self.body = status, body


def bearer_auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_key_auth(key: str, header: str = "X-API-Key") -> dict[str, str]:
    return {header: key}


def oauth_token_auth(token: Mapping[str, Any]) -> dict[str, str]:
    """The header for an OAuth 2.0 token response (`access_token`, optional `token_type`)."""
    scheme = str(token.get("token_type") or "Bearer")
    if scheme.lower() == "bearer":  # servers often send "bearer"; RFC 6750 spells it "Bearer"
        scheme = "Bearer"
    return {"Authorization": f"{scheme} {token['access_token']}"}


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait: `Retry-After` as a number or an HTTP date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unparseable: fall back to our own backoff
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class ApiClient:
    """Use as `async with ApiClient(...) as api:` so the connection pool is always closed."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: Retry = Retry(),
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        self.retry, self._sleep = retry, sleep
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,  # a redirect to elsewhere must not carry our auth header
        )

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(  # type: ignore[return]  # the retry loop only returns or raises
        self,
        method: str,
        path: str = "",
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; returns a 2xx/3xx response or raises `ApiError`."""
        for attempt in itertools.count():
            last = attempt + 1 >= self.retry.attempts
            try:
                response = await self._http.request(
                    method, path, params=params, json=json, headers=headers
                )
            except httpx.TransportError as e:
                if last:
                    raise ApiError(f"{method} {path or '/'}: {type(e).__name__}: {e}") from e
                await self._sleep(self.retry.delay(attempt))
                continue
            if response.is_success or response.is_redirect:
                return response
            error = ApiError(
                f"{method} {path or '/'} returned {response.status_code}",
                status=response.status_code,
                body=response.text[:ERROR_BODY_LIMIT],
            )
            if last or not _retryable(response.status_code):
                raise error
            wait = max(retry_after(response) or 0.0, self.retry.delay(attempt))
            if wait > self.retry.max_delay:
                raise error
            await self._sleep(wait)

    async def get_json(self, path: str = "", params: Mapping[str, Any] | None = None) -> Any:
        return _json(await self.request("GET", path, params=params))

    async def post_json(self, path: str = "", body: Any = None) -> Any:
        return _json(await self.request("POST", path, json=body))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as e:
        raise ApiError(
            f"{response.request.method} {response.request.url.path} did not return JSON",
            status=response.status_code,
            body=response.text[:ERROR_BODY_LIMIT],
        ) from e
