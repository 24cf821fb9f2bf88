"""A GraphQL client over `ApiClient`: queries, mutations, and cursor pages as a stream.

`pages()` is an async generator: it holds one page at a time, so a sync of a million
records uses the memory of one page. Any `errors` in a response raise `GraphQLError`, even
when partial `data` came with them: a sync must not mistake a half answer for a whole one.

Paths into the response are dotted field names relative to `data`, e.g.
`"orders.pageInfo.endCursor"` (GraphQL names cannot contain dots).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

from app.lib.http_client import ApiClient, ApiError


class GraphQLError(Exception):
    """The server answered with `errors`, or with a shape the caller did not expect."""

    def __init__(self, message: str, errors: list[Any] | None = None):
        super().__init__(message)
        self.errors = errors or []


@dataclass(frozen=True)
class Page:
    items: list[Any]
    cursor: str | None  # where the next page starts
    total: int | None  # the source's total count, when the query asks for one


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path, or `GraphQLError` naming the first missing step."""
    value = data
    for step in path.split("."):
        if not isinstance(value, Mapping) or step not in value:
            raise GraphQLError(f"response has no {path!r} (stopped at {step!r})")
        value = value[step]
    return value


def _json_object(text: str) -> Mapping[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, Mapping) else {}


def _raise_errors(errors: Any) -> None:
    if not errors:
        return
    errors = errors if isinstance(errors, list) else [errors]
    messages = "; ".join(
        str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors
    )
    raise GraphQLError(f"GraphQL errors: {messages}", errors)


class GraphQLClient:
    def __init__(self, http: ApiClient, path: str = ""):
        self.http, self.path = http, path

    async def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict:
        """Run a query (or mutation) and return its `data`."""
        request = {"query": query, "variables": dict(variables or {})}
        try:
            body = await self.http.post_json(self.path, request)
        except ApiError as e:  # servers answer a query they refuse with 400 and `errors`
            if e.status is not None and 400 <= e.status < 500:
                _raise_errors(_json_object(e.body).get("errors"))
            raise
        if not isinstance(body, Mapping):
            raise GraphQLError("response is not a JSON object")
        _raise_errors(body.get("errors"))
        if not isinstance(body.get("data"), Mapping):
            raise GraphQLError("response has no data")
        return dict(body["data"])

    async def mutate(self, mutation: str, variables: Mapping[str, Any] | None = None) -> dict:
        """A mutation travels exactly like a query; the separate name keeps call sites honest."""
        return await self.execute(mutation, variables)

    async def pages(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        items: str,
        cursor: str,
        has_next: str | None = None,
        total: str | None = None,
        cursor_var: str = "cursor",
    ) -> AsyncGenerator[Page, None]:
        """Yield each page of `query`, passing the previous page's cursor as `$cursor_var`.

        The next page is already being fetched while the caller works on this one, so the
        server's time and the caller's overlap; at most two pages are held at once. Without
        `has_next`, paging stops when the cursor comes back null. A server that says there
        is more but repeats or drops the cursor raises instead of looping forever.
        """
        variables = dict(variables or {})
        request: asyncio.Future[dict] | None = asyncio.ensure_future(self.execute(query, variables))
        try:
            while request is not None:
                data, request = await request, None
                batch = dig(data, items)
                if not isinstance(batch, list):
                    raise GraphQLError(f"{items!r} is not a list")
                next_cursor = dig(data, cursor)
                count = dig(data, total) if total else None
                if bool(dig(data, has_next)) if has_next else next_cursor is not None:
                    if not isinstance(next_cursor, str) or next_cursor == variables.get(cursor_var):
                        raise GraphQLError(
                            f"server says there is more but gave cursor {next_cursor!r}"
                        )
                    variables = {**variables, cursor_var: next_cursor}
                    request = asyncio.ensure_future(self.execute(query, variables))
                yield Page(batch, next_cursor, count if isinstance(count, int) else None)
        finally:
            if request is not None:  # the caller stopped early: drop the page in flight
                request.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await request
