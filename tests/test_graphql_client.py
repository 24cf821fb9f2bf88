"""GraphQLClient against the demo API served on 127.0.0.1, and against broken servers."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.demo.graphql import DemoStore, asgi_app
from app.demo.sync import QUERY
from app.lib.graphql import GraphQLClient, GraphQLError, dig
from app.lib.http_client import ApiClient, Retry
from tests.support.graphql_server import FaultInjector, serve

PAGING = {
    "items": "orders.nodes",
    "cursor": "orders.pageInfo.endCursor",
    "has_next": "orders.pageInfo.hasNextPage",
    "total": "orders.totalCount",
}
FAST = Retry(attempts=5, backoff=0.01, max_delay=1)


@pytest.fixture(scope="module")
def store():
    return DemoStore(count=230)


@pytest.fixture(scope="module")
def url(store):
    with serve(asgi_app(store)) as address:
        yield address


def run(coroutine):
    return asyncio.run(coroutine)


async def collect(url: str, variables: dict, **paging) -> list:
    async with ApiClient(url, retry=FAST) as http:
        return [page async for page in GraphQLClient(http).pages(QUERY, variables, **paging)]


def test_pages_streams_every_record_once(url):
    pages = run(collect(url, {"first": 50}, **PAGING))
    ids = [order["id"] for page in pages for order in page.items]
    assert [len(p.items) for p in pages] == [50, 50, 50, 50, 30]
    assert ids == [f"ord_{n:07d}" for n in range(230)]
    assert {p.total for p in pages} == {230}
    assert pages[-1].cursor is not None


def test_pages_without_has_next_stops_on_a_null_cursor(url):
    paging = {"items": "orders.nodes", "cursor": "orders.pageInfo.endCursor"}
    pages = run(collect(url, {"first": 100, "since": "2100-01-01T00:00:00Z"}, **paging))
    assert [p.items for p in pages] == [[]]


def test_execute_and_mutate():
    async def go(url):
        async with ApiClient(url) as http:
            client = GraphQLClient(http)
            first = await client.execute("{ orders(first: 1) { nodes { id status } } }")
            touched = await client.mutate(
                "mutation Touch($n: Int!) { touchOrders(count: $n) { id status } }", {"n": 1}
            )
            return first, touched

    with serve(asgi_app(DemoStore(count=5))) as url:
        first, touched = run(go(url))
    assert dig(first, "orders.nodes")[0]["id"] == "ord_0000000"
    assert touched["touchOrders"][0]["id"] == "ord_0000000"
    assert touched["touchOrders"][0]["status"] != first["orders"]["nodes"][0]["status"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ orders(first: 5000) { totalCount } }", "first must be between 1 and 1000"),
        ('{ orders(after: "bm9wZQ") { totalCount } }', "invalid cursor"),
        ("{ secrets }", "Cannot query field 'secrets'"),
        ("{ orders( }", "Syntax Error"),
    ],
)
def test_graphql_errors_raise(url, query, message):
    async def go():
        async with ApiClient(url) as http:
            await GraphQLClient(http).execute(query)

    with pytest.raises(GraphQLError, match=message) as error:
        run(go())
    assert error.value.errors


def test_pages_survive_injected_faults(store):
    app = FaultInjector(asgi_app(store), plan=["ok", "429", "ok", "503", "drop"])
    with serve(app) as url:
        pages = run(collect(url, {"first": 25}, **PAGING))
    assert len([o for p in pages for o in p.items]) == 230
    assert app.injected["429"] and app.injected["503"] and app.injected["drop"]


def answering(*bodies):
    """An ApiClient whose server answers with these JSON bodies, in order."""
    replies = iter(bodies)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=next(replies)))
    return ApiClient("https://api.example/graphql", transport=transport)


def broken_pages(*bodies) -> list:
    async def go():
        async with answering(*bodies) as http:
            return [p async for p in GraphQLClient(http).pages("query", **PAGING)]

    return run(go())


def connection(nodes, cursor, more=True):
    info = {"hasNextPage": more, "endCursor": cursor}
    return {"data": {"orders": {"nodes": nodes, "pageInfo": info, "totalCount": 9}}}


def test_partial_data_with_errors_is_an_error():
    with pytest.raises(GraphQLError, match="rate limited"):
        broken_pages({**connection([{"id": 1}], "c1"), "errors": [{"message": "rate limited"}]})


def test_a_repeated_cursor_stops_the_loop():
    with pytest.raises(GraphQLError, match="cursor 'c1'"):
        broken_pages(connection([1], "c1"), connection([2], "c1"))


def test_has_next_without_a_cursor_stops_the_loop():
    with pytest.raises(GraphQLError, match="cursor None"):
        broken_pages(connection([1], None))


def test_unexpected_shapes_are_named():
    with pytest.raises(GraphQLError, match=r"orders\.nodes"):
        broken_pages({"data": {"orders": {}}})
    with pytest.raises(GraphQLError, match="not a list"):
        broken_pages(connection("nodes", "c1"))
    with pytest.raises(GraphQLError, match="no data"):
        broken_pages({"data": None})
    with pytest.raises(GraphQLError, match="not a JSON object"):
        broken_pages([1, 2])
