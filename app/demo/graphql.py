"""The demo data source: a small GraphQL API over generated orders, for development.

It lets a new user press "Sync now" and watch rows arrive with nothing to configure, and the
tests and the benchmark serve the very same API on 127.0.0.1. Orders are computed from their
number, not stored, so a million of them cost no memory; orders changed since ("touched",
to show incremental sync) live in a small overlay.

Orders are listed by (updatedAt, id), the order an incremental sync needs, and paged with
an opaque keyset cursor, so a record changed during a sync moves to the end and is still
seen. `updatedSince` keeps the orders updated at or after a moment.
"""

from __future__ import annotations

import base64
import bisect
import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import graphql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tenants.stamp import iso

SDL = """
type Query {
  orders(first: Int = 100, after: String, updatedSince: String): OrderConnection!
}
type Mutation {
  "Change `count` orders now, as an upstream system would; returns them."
  touchOrders(count: Int! = 5): [Order!]!
}
type OrderConnection { nodes: [Order!]!, pageInfo: PageInfo!, totalCount: Int! }
type PageInfo { hasNextPage: Boolean!, endCursor: String }
type Customer { name: String!, email: String }
type Order {
  id: ID!
  customer: Customer!
  status: String!
  total: String!
  paid: Boolean!
  orderedOn: String!
  updatedAt: String!
}
"""
SCHEMA = graphql.build_schema(SDL)
MAX_PAGE = 1000
MAX_TOUCH = 1000
MAX_BODY = 64 * 1024
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Perlman")
STATUSES = ("pending", "paid", "shipped", "refunded")
MICROSECOND = timedelta(microseconds=1)

Key = tuple[int, str]  # (updatedAt in microseconds since the epoch, id): the listing order


def _micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // MICROSECOND


def _moment(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + micros * MICROSECOND


def _mix(n: int) -> int:
    """A cheap, fixed pseudo-random number for record `n` (Knuth's multiplicative hash)."""
    return (n * 2654435761 + 0x9E3779B9) % 2**32


class DemoStore:
    """`count` orders, one every `step`, starting at `start`; thread-safe."""

    def __init__(
        self,
        count: int = 2000,
        *,
        start: datetime = datetime(2025, 1, 1, tzinfo=UTC),
        step: timedelta = timedelta(minutes=7),
    ):
        self.count, self._start, self._step = count, _micros(start), step // MICROSECOND
        self._touched: dict[int, dict[str, Any]] = {}  # order number -> its changed version
        self._touched_keys: list[Key] = []  # sorted; all after every untouched order
        self._lock = threading.Lock()

    def _id(self, n: int) -> str:
        return f"ord_{n:07d}"

    def _original(self, n: int) -> dict[str, Any]:
        h = _mix(n)
        first, last = FIRST_NAMES[h % len(FIRST_NAMES)], LAST_NAMES[(h >> 8) % len(LAST_NAMES)]
        status = STATUSES[(h >> 16) % len(STATUSES)]
        cents = 500 + (h >> 4) % 50_000
        updated = _moment(self._start + n * self._step)
        return {
            "id": self._id(n),
            "customer": {
                "name": f"{first} {last}",
                "email": None if h % 7 == 0 else f"{first}.{last}@example.com".lower(),
            },
            "status": status,
            "total": f"{cents // 100}.{cents % 100:02d}",
            "paid": status in ("paid", "shipped"),
            "orderedOn": (updated.date() - timedelta(days=h % 3)).isoformat(),
            "updatedAt": iso(updated),
        }

    def order(self, n: int) -> dict[str, Any]:
        with self._lock:
            return self._touched.get(n) or self._original(n)

    def touch(self, numbers: Iterable[int]) -> list[dict[str, Any]]:
        """Change these orders now: new status and total, and a newer `updatedAt`."""
        changed = []
        with self._lock:
            for n in dict.fromkeys(numbers):
                if not 0 <= n < self.count:
                    raise ValueError(f"no order number {n}")
                old = self._touched.get(n) or self._original(n)
                if n in self._touched:
                    self._touched_keys.remove((_micros(_parse(old["updatedAt"])), old["id"]))
                latest = self._touched_keys[-1][0] if self._touched_keys else 0
                last_original = self._start + (self.count - 1) * self._step
                when = max(_micros(datetime.now(UTC)), latest + 1, last_original + 1)
                cents = int(old["total"].replace(".", "")) + 137
                status = STATUSES[(STATUSES.index(old["status"]) + 1) % len(STATUSES)]
                new = {
                    **old,
                    "status": status,
                    "paid": status in ("paid", "shipped"),
                    "total": f"{cents // 100}.{cents % 100:02d}",
                    "updatedAt": iso(_moment(when)),
                }
                self._touched[n] = new
                bisect.insort(self._touched_keys, (when, new["id"]))
                changed.append(new)
        return changed

    def touch_some(self, count: int) -> list[dict[str, Any]]:
        """Touch `count` orders spread evenly over the whole range."""
        count = max(0, min(count, self.count, MAX_TOUCH))
        return self.touch(n * self.count // count for n in range(count)) if count else []

    def _first_original_after(self, key: Key) -> int:
        """The first order number whose original key is greater than `key`."""
        micros, ident = key
        n = max(0, -(-(micros - self._start) // self._step))  # first with updatedAt >= micros
        if self._start + n * self._step == micros and self._id(n) <= ident:
            n += 1
        return min(n, self.count)

    def page(self, first: int, after: Key | None, since: int | None) -> dict[str, Any]:
        """One page of the connection: orders with key > `after` and updatedAt >= `since`."""
        lower: Key = max(
            after or (-1, ""), (since - 1, "\uffff") if since is not None else (-1, "")
        )
        with self._lock:
            keys = self._keys_after(lower, first + 1)
            nodes = [self._touched.get(n) or self._original(n) for n, _ in keys[:first]]
            total = self._count_since(since)
        end = keys[len(nodes) - 1][1] if nodes else None
        return {
            "nodes": nodes,
            "pageInfo": {"hasNextPage": len(keys) > first, "endCursor": _cursor(end)},
            "totalCount": total,
        }

    def _keys_after(self, lower: Key, limit: int) -> list[tuple[int, Key]]:
        found: list[tuple[int, Key]] = []
        n = self._first_original_after(lower)
        while n < self.count and len(found) < limit:
            if n not in self._touched:
                found.append((n, (self._start + n * self._step, self._id(n))))
            n += 1
        start = bisect.bisect_right(self._touched_keys, lower)
        for key in self._touched_keys[start : start + limit - len(found)]:
            found.append((int(key[1].removeprefix("ord_")), key))
        return found

    def _count_since(self, since: int | None) -> int:
        if since is None:
            return self.count
        n = self._first_original_after((since - 1, "\uffff"))
        originals = self.count - n - sum(1 for t in self._touched if t >= n)
        newer = len(self._touched_keys) - bisect.bisect_left(self._touched_keys, (since, ""))
        return originals + newer


def _parse(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _cursor(key: Key | None) -> str | None:
    if key is None:
        return None
    return base64.urlsafe_b64encode(f"{key[0]}|{key[1]}".encode()).decode()


def _read_cursor(cursor: str) -> Key:
    try:
        micros, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return int(micros), ident
    except (ValueError, UnicodeError) as e:
        raise graphql.GraphQLError("invalid cursor") from e


class Root:
    """Resolvers for the top-level fields; graphql-core calls them with (info, **arguments)."""

    def __init__(self, store: DemoStore):
        self.store = store

    def orders(self, _info, first: int, after: str | None = None, updatedSince: str | None = None):
        if not 1 <= first <= MAX_PAGE:
            raise graphql.GraphQLError(f"first must be between 1 and {MAX_PAGE}")
        try:
            since = _micros(_parse(updatedSince)) if updatedSince else None
        except ValueError as e:
            raise graphql.GraphQLError("updatedSince must be an ISO 8601 date and time") from e
        return self.store.page(first, _read_cursor(after) if after else None, since)

    def touchOrders(self, _info, count: int):
        if not 1 <= count <= MAX_TOUCH:
            raise graphql.GraphQLError(f"count must be between 1 and {MAX_TOUCH}")
        return self.store.touch_some(count)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message}]}, status_code=status)


async def _request(request: Request) -> dict[str, Any] | JSONResponse:
    """The GraphQL request (`query`, `variables`, `operationName`) from a GET or a POST."""
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        variables = params.get("variables")
        try:
            params["variables"] = json.loads(variables) if variables else None
        except ValueError:
            return _error(400, "variables must be JSON")
        return params
    body = b""
    async for chunk in request.stream():  # read at most MAX_BODY, whatever the client sends
        body += chunk
        if len(body) > MAX_BODY:
            return _error(413, "request body too large")
    try:
        params = json.loads(body)
    except ValueError:
        return _error(400, "the body must be JSON")
    return params if isinstance(params, dict) else _error(400, "the body must be a JSON object")


async def respond(request: Request, store: DemoStore) -> JSONResponse:
    """Answer one GraphQL-over-HTTP request against `store`."""
    params = await _request(request)
    if isinstance(params, JSONResponse):
        return params
    query, variables, operation = (
        params.get("query"),
        params.get("variables"),
        params.get("operationName"),
    )
    if not isinstance(query, str) or not query.strip():
        return _error(400, "query is required")
    if not isinstance(variables, dict | None) or not isinstance(operation, str | None):
        return _error(400, "variables must be an object and operationName a string")
    try:
        document = graphql.parse(query)
    except graphql.GraphQLError as e:
        return JSONResponse({"errors": [e.formatted]}, status_code=400)
    if errors := graphql.validate(SCHEMA, document):
        return JSONResponse({"errors": [e.formatted for e in errors]}, status_code=400)
    chosen = graphql.get_operation_ast(document, operation)
    if request.method == "GET" and (chosen is None or chosen.operation.value != "query"):
        return _error(405, "use POST for mutations")
    result = graphql.execute_sync(
        SCHEMA,
        document,
        root_value=Root(store),
        variable_values=variables,
        operation_name=operation,
    )
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [e.formatted for e in result.errors]
    return JSONResponse(body)


def asgi_app(store: DemoStore) -> Starlette:
    """The API on its own, at `/`: for in-process syncs, the test server and the benchmark."""

    async def endpoint(request: Request) -> JSONResponse:
        return await respond(request, store)

    return Starlette(routes=[Route("/", endpoint, methods=["GET", "POST"])])


STORE = DemoStore()  # the development server's upstream data, shared by every tenant
