"""The built-in demo source: orders from app/demo_graphql.py into the `demo_orders` table.

The sync talks real HTTP (through `ApiClient` and `GraphQLClient`, retries and all) to the
demo API, but over an in-process ASGI transport: it needs no URL, no port and no CSRF
exemption, and works the same under `uv run main.py`, the test client and a worker.
"""

from __future__ import annotations

import httpx

from app.demo.graphql import STORE, DemoStore, asgi_app
from app.lib.http_client import ApiClient
from app.lib.polars_map import FieldMap
from app.syncs.spec import SyncSpec
from tenants.money import format_cents

QUERY = """
query Orders($cursor: String, $since: String, $first: Int) {
  orders(first: $first, after: $cursor, updatedSince: $since) {
    nodes { id customer { name email } status total paid orderedOn updatedAt }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""

FIELDS = FieldMap(
    columns={
        "id": "id",
        "customer.name": "customer_name",
        "customer.email": "customer_email",
        "status": "status",
        "total": "total_cents",
        "paid": "paid",
        "orderedOn": "ordered_on",
        "updatedAt": "updated_at",
    },
    types={
        "total_cents": "cents",
        "paid": "bool",
        "ordered_on": "date",
        "updated_at": "datetime",
    },
)


def in_process_client(store: DemoStore = STORE) -> ApiClient:
    return ApiClient("http://demo.invalid/", transport=httpx.ASGITransport(app=asgi_app(store)))


DEMO = SyncSpec(
    kind="demo_orders",
    title="Demo orders",
    table="demo_orders",
    key="id",
    query=QUERY,
    items="orders.nodes",
    cursor="orders.pageInfo.endCursor",
    has_next="orders.pageInfo.hasNextPage",
    total="orders.totalCount",
    fields=FIELDS,
    updated_column="updated_at",
    connect=in_process_client,
    page_size=200,
    display=(
        ("id", "Order"),
        ("customer_name", "Customer"),
        ("status", "Status"),
        ("total_cents", "Total"),
        ("paid", "Paid"),
        ("ordered_on", "Ordered on"),
    ),
    formats={"total_cents": format_cents, "paid": lambda paid: "yes" if paid else "no"},
    chart_column="status",
)
