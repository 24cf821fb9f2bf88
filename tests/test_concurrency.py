"""32 parallel writing requests on one tenant, against the real server: all succeed, all land."""

import asyncio

import httpx

from tests.support.server import AppServer, env_for, sign_in_over_http


async def post_notes(base_url: str, cookies, token: str, count: int) -> list[int]:
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies, timeout=60) as client:

        async def one(n: int) -> int:
            response = await client.post(
                "/notes", data={"body": f"note {n}"}, headers={"X-CSRF-Token": token}
            )
            return response.status_code

        return await asyncio.gather(*[one(n) for n in range(count)])


def test_32_parallel_writes_on_one_tenant(settings):
    env = env_for(settings)
    with (
        AppServer(env) as server,
        httpx.Client(base_url=server.url, follow_redirects=True) as client,
    ):
        token = sign_in_over_http(client, "ada@example.com")
        statuses = asyncio.run(post_notes(server.url, client.cookies, token, 32))
        assert statuses == [200] * 32
    from tenants.catalog import Catalog
    from tenants.routing import TenantDatabases

    catalog = Catalog(settings.database_url)
    tenant_id = catalog.row("SELECT id FROM core_tenants")["id"]
    databases = TenantDatabases(settings.tenant_database_url)
    with databases.handle(tenant_id) as db:
        bodies = {r["body"] for r in db.q("SELECT body FROM notes")}
    databases.dispose()
    catalog.dispose()
    assert bodies == {f"note {n}" for n in range(32)}
