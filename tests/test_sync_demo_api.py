"""The demo GraphQL source: keyset paging that survives changes mid-sync, `updatedSince`,
and refusals of malformed requests (never a 500)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.demo.graphql import MAX_BODY, DemoStore, Root, asgi_app


def ids(page: dict) -> list[str]:
    return [order["id"] for order in page["nodes"]]


def test_orders_are_listed_oldest_update_first_and_generated_on_demand():
    store = DemoStore(count=1_000_000)  # nothing is stored up front
    root = Root(store)
    first = root.orders(None, first=3)
    assert ids(first) == ["ord_0000000", "ord_0000001", "ord_0000002"]
    assert first["totalCount"] == 1_000_000 and first["pageInfo"]["hasNextPage"]
    nxt = root.orders(None, first=2, after=first["pageInfo"]["endCursor"])
    assert ids(nxt) == ["ord_0000003", "ord_0000004"]
    assert store.order(3) == nxt["nodes"][0]


def test_a_record_changed_during_paging_moves_to_the_end_and_is_still_seen():
    store = DemoStore(count=10)
    root = Root(store)
    page = root.orders(None, first=4)
    store.touch([1, 8])  # 1 was already read; 8 was not
    seen = ids(page)
    while page["pageInfo"]["hasNextPage"]:
        page = root.orders(None, first=4, after=page["pageInfo"]["endCursor"])
        seen += ids(page)
    expected_originals = [f"ord_{n:07d}" for n in range(10) if n not in (1, 8)]
    assert seen == ["ord_0000000", "ord_0000001", "ord_0000002", "ord_0000003"] + [
        i for i in expected_originals if i > "ord_0000003"
    ] + ["ord_0000001", "ord_0000008"]


def test_updated_since_keeps_recent_changes_and_counts_them():
    store = DemoStore(count=100)
    root = Root(store)
    last = store.order(99)["updatedAt"]
    changed = store.touch([5, 50])
    page = root.orders(None, first=10, updatedSince=last)
    assert ids(page) == ["ord_0000099", "ord_0000005", "ord_0000050"]
    assert page["totalCount"] == 3
    assert changed[0]["updatedAt"] > last and changed[0]["status"] != store._original(5)["status"]
    touched_again = store.touch([5])[0]
    assert touched_again["updatedAt"] > changed[1]["updatedAt"]
    assert ids(root.orders(None, first=10, updatedSince=changed[1]["updatedAt"])) == [
        "ord_0000050",
        "ord_0000005",
    ]


def test_touch_refuses_unknown_orders():
    with pytest.raises(ValueError):
        DemoStore(count=3).touch([3])


def post(body: bytes | None = None, *, method: str = "POST", params: dict | None = None):
    async def go():
        transport = httpx.ASGITransport(app=asgi_app(DemoStore(count=5)))
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            return await client.request(method, "/", content=body, params=params)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"not json", 400, "must be JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b"{}", 400, "query is required"),
        (b'{"query": "{ orders { totalCount } }", "variables": [1]}', 400, "variables"),
        (b'{"query": "{ orders(first: 0) { totalCount } }"}', 200, "between 1 and 1000"),
        (b'{"query": "{ orders(after: \\"%%%\\") { totalCount } }"}', 200, "invalid cursor"),
        (b'{"query": "{ orders(updatedSince: \\"noon\\") { totalCount } }"}', 200, "ISO 8601"),
        (
            b'{"query": "query($n: Int) { orders(first: $n) { totalCount } }",'
            b' "variables": {"n": "ten"}}',
            200,
            "Int",
        ),
        (b" " * (MAX_BODY + 1), 413, "too large"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(body, status, message):
    response = post(body)
    assert response.status_code == status
    assert message in response.json()["errors"][0]["message"]


def test_get_runs_queries_but_not_mutations():
    query = post(method="GET", params={"query": "{ orders(first: 1) { nodes { id } } }"})
    assert query.json() == {"data": {"orders": {"nodes": [{"id": "ord_0000000"}]}}}
    mutation = post(method="GET", params={"query": "mutation { touchOrders { id } }"})
    assert mutation.status_code == 405
