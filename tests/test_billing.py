"""Billing end to end against localstripe on 127.0.0.1 (tests/support/stripe_server.py):
the official `stripe` library makes every call; webhooks are signed with Stripe's scheme.

One Stripe server for the module; each test has its own app (SQLite) and workspaces.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
import stripe
from starlette.testclient import TestClient

from app.billing.plans import BY_TIER, PLANS, plan
from app.billing.state import in_force
from app.cli import billing_sync
from app.factory import create_app
from app.work.jobs import JobConfig, JobManager
from app.work.scheduler import Scheduler
from tenants import billing, invitations
from tenants.stamp import iso, now, parse
from tests.conftest import dev_sign_in, page_csrf
from tests.support.server import ROOT, free_port
from tests.test_account_lifecycle import download, export
from tests.test_team import add_member, hx, own_tenant, user_id

WEBHOOK_SECRET = "whsec_test_billing_secret"
KEY = "sk_test_billing"
PRICES = {  # plan price -> (Stripe plan id, amount, interval)
    "pro_monthly": ("price_pro_monthly", 1_900, "month"),
    "pro_yearly": ("price_pro_yearly", 19_000, "year"),
    "team_monthly": ("price_team_monthly", 1_200, "month"),
    "team_yearly": ("price_team_yearly", 12_000, "year"),
}


@pytest.fixture(scope="module")
def stripe_url() -> Iterator[str]:
    """localstripe with the Checkout/portal stand-ins, and every plan's prices in it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.stripe_server", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, "the Stripe stand-in exited"
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the Stripe stand-in never listened"
                time.sleep(0.05)
        api = api_of(url)
        products = {}
        for key, (price_id, amount, interval) in PRICES.items():
            tier = key.split("_")[0]
            products.setdefault(tier, api.products.create({"name": BY_TIER[tier].name}).id)
            api.plans.create(
                {
                    "id": price_id,
                    "amount": amount,
                    "currency": "usd",
                    "interval": interval,
                    "product": products[tier],
                }
            )
        yield url
    finally:
        server.terminate()
        server.wait(10)


def api_of(url: str):
    client = stripe.StripeClient(
        KEY,
        base_addresses={"api": url},
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
    )
    return client.v1


@pytest.fixture
def stripe_api(stripe_url):
    return api_of(stripe_url)


def billing_env(stripe_url: str) -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_url,
        "BILLING_GRACE_DAYS": "7",
        **{f"STRIPE_PRICE_{k.upper()}": v[0] for k, v in PRICES.items()},
    }


@pytest.fixture
def database(request) -> dict[str, str]:
    """SQLite; a test that asks for `backend` too runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue("backend") if "backend" in request.fixturenames else {}


@pytest.fixture
def app(make_settings, stripe_url, database):
    application = create_app(make_settings(**billing_env(stripe_url), **database))
    # Jobs run when a test drains them, retries at once.
    state = application.state
    config = JobConfig(retry_base_seconds=0, poll_seconds=3600)
    state.jobs = JobManager(state.catalog, state.databases, config, state.settings)
    yield application
    state.databases.dispose()
    state.catalog.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost") as c:
        yield c


def drain(app) -> None:
    for _ in range(3):
        asyncio.run(Scheduler(app.state.jobs).run_once())


def signature(payload: bytes, at: float | None = None, secret: str = WEBHOOK_SECRET) -> str:
    """Stripe's scheme (the library's own HMAC): t=<unix>,v1=<hex of t.payload>."""
    stamp = int(at if at is not None else time.time())
    mac = stripe.WebhookSignature._compute_signature(f"{stamp}.{payload.decode()}", secret)
    return f"t={stamp},v1={mac}"


def event(kind: str, obj: dict, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "data": {"object": obj},
        }
    ).encode()


def deliver(client: TestClient, body: bytes, header: str | None = None) -> httpx.Response:
    headers = {"Stripe-Signature": header if header is not None else signature(body)}
    return client.post("/webhooks/stripe", content=body, headers=headers)


def standing(app, tenant: str) -> tuple[str, str, str | None]:
    row = app.state.catalog.tenant(tenant)
    return row["plan_tier"], row["plan_status"], row["plan_ends_at"]


def switch(client: TestClient, tier: str, status: str = "active") -> None:
    """The development control (no Stripe): a workspace on `tier`."""
    response = client.post(
        "/settings/billing/dev-plan",
        data={"plan": tier, "status": status, "csrf_token": page_csrf(client, "/settings/billing")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def upgrade(client: TestClient, stripe_url: str, tier: str, interval: str = "month") -> dict:
    """Checkout as a person does it: the app's redirect, Stripe's page, the way back."""
    response = client.post(
        "/settings/billing/checkout",
        data={
            "plan": tier,
            "interval": interval,
            "csrf_token": page_csrf(client, "/settings/billing"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    session_id = response.headers["location"].rsplit("/", 1)[1]
    session = httpx.post(
        f"{stripe_url}/_test/checkout/{session_id}/complete",
        headers={"Authorization": f"Bearer {KEY}"},
    ).json()
    back = client.get(f"/settings/billing?checkout=success&session_id={session_id}")
    assert back.status_code == 200, back.text
    return session


def new_endpoint(client: TestClient, source: str) -> int:
    return client.post(
        "/settings/webhooks", data={"source": source}, headers=hx(client)
    ).status_code


def live_endpoints(app, tenant: str) -> int:
    return app.state.catalog.rows(
        """SELECT COUNT(*) AS n FROM core_webhook_endpoints
           WHERE tenant_id = :t AND revoked_at IS NULL""",
        t=tenant,
    )[0]["n"]


# -- the life cycle -------------------------------------------------------------------------


def test_upgrade_failed_payment_grace_and_cancel_at_period_end(app, client, stripe_url, stripe_api):
    dev_sign_in(client, "olive@example.com", "Olive")
    tenant = own_tenant(app, "olive@example.com")
    switch(client, "free")
    assert new_endpoint(client, "github") == 200
    assert new_endpoint(client, "demo") == 402  # Free: one endpoint
    assert live_endpoints(app, tenant) == 1

    session = upgrade(client, stripe_url, "pro")
    assert session["status"] == "complete" and session["subscription"]
    assert standing(app, tenant)[:2] == ("pro", "active")
    page = client.get("/settings/billing").text
    assert "Pro plan" in page and "Active" in page
    assert new_endpoint(client, "demo") == 200  # the next request has Pro's limits
    row = billing.subscription(app.state.catalog, tenant)
    customer, subscription = row["provider_customer_id"], row["provider_subscription_id"]
    assert (row["price_id"], row["quantity"]) == ("price_pro_monthly", 1)
    assert billing.invoices(app.state.catalog, tenant)[0]["amount_due"] == 1_900

    # The webhook says the same: handled once, nothing changes.
    done = event("checkout.session.completed", {"id": session["id"], "customer": customer})
    assert deliver(client, done).json()["message"] == "received"
    drain(app)
    assert billing.get_event(app.state.catalog, json.loads(done)["id"])["status"] == "processed"

    # A declined card on the next invoice (here: switching to yearly): past_due, Pro kept.
    card = stripe_api.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer})
    stripe_api.customers.update(customer, {"invoice_settings": {"default_payment_method": card.id}})
    item = stripe_api.subscriptions.retrieve(subscription).to_dict()["items"]["data"][0]["id"]
    stripe_api.subscriptions.update(
        subscription, {"items": [{"id": item, "plan": "price_pro_yearly"}]}
    )
    failed = event("invoice.payment_failed", {"id": "in_x", "customer": customer})
    assert deliver(client, failed).status_code == 200
    drain(app)
    tier, status, ends = standing(app, tenant)
    assert (tier, status) == ("pro", "past_due")
    assert parse(ends) - parse(now()) > timedelta(days=6)  # the grace period
    assert "A payment failed" in client.get("/dashboard").text  # the banner, every page
    revoke(client, endpoint_of(app, tenant, "demo"))
    assert new_endpoint(client, "demo") == 200  # still Pro during the grace period

    # The grace period runs out (its start moved back 8 days): Free limits, nothing deleted.
    eight_days_ago = iso(parse(now()) - timedelta(days=8))
    app.state.catalog.execute(
        "UPDATE core_subscriptions SET past_due_since = :s WHERE tenant_id = :t",
        s=eight_days_ago,
        t=tenant,
    )
    assert billing_sync(app.state.settings, None) == 0  # `main.py billing sync`
    assert in_force(*standing(app, tenant)[::2]).tier == "free"
    assert live_endpoints(app, tenant) == 2  # kept
    revoke(client, endpoint_of(app, tenant, "demo"))
    assert new_endpoint(client, "demo") == 402  # only adding more is refused
    assert "Free limits" in client.get("/dashboard").text

    # Paid again, then cancelled at the period end: Pro until then, Free after.
    good = stripe_api.payment_methods.attach("pm_card_visa", {"customer": customer})
    stripe_api.customers.update(customer, {"invoice_settings": {"default_payment_method": good.id}})
    [unpaid] = [
        i for i in stripe_api.invoices.list({"customer": customer}).data if i.status == "open"
    ]
    stripe_api.invoices.pay(unpaid.id)
    stripe_api.subscriptions.update(subscription, {"cancel_at_period_end": True})
    deliver(
        client, event("customer.subscription.updated", {"id": subscription, "customer": customer})
    )
    drain(app)
    tier, status, ends = standing(app, tenant)
    period_end = billing.subscription(app.state.catalog, tenant)["current_period_end"]
    assert (tier, status, ends) == ("pro", "active", period_end)
    assert in_force(tier, ends).tier == "pro"
    assert in_force(tier, ends, at=iso(parse(period_end) + timedelta(seconds=1))).tier == "free"
    assert new_endpoint(client, "demo") == 200


def revoke(client: TestClient, endpoint: str) -> None:
    assert (
        client.post(f"/settings/webhooks/{endpoint}/revoke", headers=hx(client)).status_code == 200
    )


def endpoint_of(app, tenant: str, source: str) -> str:
    return app.state.catalog.row(
        """SELECT id FROM core_webhook_endpoints
           WHERE tenant_id = :t AND source = :s AND revoked_at IS NULL""",
        t=tenant,
        s=source,
    )["id"]


def quantity(stripe_api, subscription: str) -> int:
    return stripe_api.subscriptions.retrieve(subscription).to_dict()["items"]["data"][0]["quantity"]


def test_per_seat_quantity_follows_the_members_and_deletion_cancels(
    app, client, stripe_url, stripe_api
):
    dev_sign_in(client, "olive@example.com", "Olive")
    tenant = own_tenant(app, "olive@example.com")
    switch(client, "free")
    mia = add_member(app, tenant, "mia@example.com", "member")
    upgrade(client, stripe_url, "team")
    row = billing.subscription(app.state.catalog, tenant)
    subscription = row["provider_subscription_id"]
    assert (row["plan_tier"], row["quantity"]) == ("team", 2)
    assert quantity(stripe_api, subscription) == 2

    # Someone joins by invitation: a job sets the quantity to the member count.
    olive = user_id(app, "olive@example.com")
    _, token = invitations.create(app.state.catalog, tenant, "max@example.com", "member", olive)
    with TestClient(app, base_url="http://localhost") as max_browser:
        dev_sign_in(max_browser, "max@example.com")
        accepted = max_browser.post(
            f"/invitations/{token}/accept", headers=hx(max_browser), follow_redirects=False
        )
        assert accepted.status_code in (200, 303), accepted.text
    drain(app)
    assert quantity(stripe_api, subscription) == 3
    assert billing.subscription(app.state.catalog, tenant)["quantity"] == 3

    # Someone is removed: down again.
    removed = client.post(f"/members/{mia}/remove", headers=hx(client))
    assert removed.status_code == 200, removed.text
    drain(app)
    assert quantity(stripe_api, subscription) == 2

    # Deleting the workspace ends its subscription.
    name = app.state.catalog.tenant(tenant)["name"]
    deleted = client.post(
        "/tenant/delete",
        data={"confirm": name, "csrf_token": page_csrf(client, "/tenant/delete")},
        follow_redirects=False,
    )
    assert deleted.status_code in (200, 303), deleted.text
    drain(app)
    assert stripe_api.subscriptions.retrieve(subscription).status == "canceled"


def test_trial_ending_mails_the_owners_and_the_export_has_the_billing_records(
    app, client, stripe_url
):
    dev_sign_in(client, "olive@example.com", "Olive")
    tenant = own_tenant(app, "olive@example.com")
    switch(client, "free")
    upgrade(client, stripe_url, "pro")
    row = billing.subscription(app.state.catalog, tenant)
    ending = {
        "id": row["provider_subscription_id"],
        "customer": row["provider_customer_id"],
        "trial_end": int(time.time()) + 3 * 86400,
    }
    body = event("customer.subscription.trial_will_end", ending)
    assert deliver(client, body).status_code == 200
    assert deliver(client, body).json()["message"].startswith("duplicate")
    [mail] = app.state.catalog.rows(
        "SELECT payload FROM sys_jobs WHERE job_type = 'email.send_batch'"
    )
    [recipient] = json.loads(mail["payload"])["recipients"]
    assert recipient["to"] == "olive@example.com"
    assert recipient["variables"]["plan_name"] == "Pro"

    job_id = export(app, client, tenant)
    drain(app)
    files = download(client, job_id)
    records = files["tenant/billing.json"]
    assert records["subscription"]["provider_subscription_id"] == row["provider_subscription_id"]
    assert [i["amount_due"] for i in records["invoices"]] == [1_900]


# -- webhooks -------------------------------------------------------------------------------


def test_stripe_webhook_refusals_change_nothing(app, client):
    body = event("customer.subscription.updated", {"id": "sub_x", "customer": "cus_x"})
    refusals = {
        "no signature": (body, ""),
        "wrong secret": (body, signature(body, secret="whsec_someone_else")),
        "stale timestamp": (body, signature(body, at=time.time() - 301)),
        "tampered body": (body.replace(b"sub_x", b"sub_y"), signature(body)),
        "garbage header": (body, "t=abc,v1=zz"),
    }
    for name, (payload, header) in refusals.items():
        response = deliver(client, payload, header)
        assert response.status_code == 401, (name, response.text)
    not_json = b"not json at all"
    assert deliver(client, not_json).status_code == 400
    no_id = json.dumps({"type": "invoice.paid", "data": {}}).encode()
    assert deliver(client, no_id).status_code == 400
    assert app.state.catalog.rows("SELECT * FROM sys_stripe_events") == []
    # An event type this app does not handle: acknowledged, stored as ignored, no job.
    other = event("customer.tax_id.created", {"id": "txi_1", "customer": "cus_x"})
    response = deliver(client, other)
    assert response.status_code == 200 and response.json()["message"].startswith("ignored")
    [stored] = app.state.catalog.rows("SELECT status, job_id FROM sys_stripe_events")
    assert (stored["status"], stored["job_id"]) == ("ignored", None)


def test_stripe_webhook_is_not_there_without_billing_configured(make_settings):
    application = create_app(make_settings())
    with TestClient(application, base_url="http://localhost") as c:
        body = event("invoice.paid", {"id": "in_1"})
        assert deliver(c, body).status_code == 404
    application.state.databases.dispose()
    application.state.catalog.dispose()


def test_fifty_concurrent_copies_are_handled_once_and_order_does_not_matter(
    backend, app, client, stripe_url, stripe_api
):
    dev_sign_in(client, "olive@example.com", "Olive")
    tenant = own_tenant(app, "olive@example.com")
    switch(client, "free")
    upgrade(client, stripe_url, "pro")
    row = billing.subscription(app.state.catalog, tenant)
    subscription = row["provider_subscription_id"]
    created = stripe_api.subscriptions.retrieve(subscription).to_dict()  # the first state
    stripe_api.subscriptions.update(subscription, {"cancel_at_period_end": True})
    newest = stripe_api.subscriptions.retrieve(subscription).to_dict()
    app.state.catalog.execute(  # forget what Checkout's return stored
        """UPDATE core_subscriptions SET synced_at = NULL, cancel_at_period_end = 0
           WHERE tenant_id = :t""",
        t=tenant,
    )

    # 50 copies of `updated` at once: one stored, one job, one handling.
    updated = event("customer.subscription.updated", newest)
    header = signature(updated)
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda _: deliver(client, updated, header), range(50)))
    assert [a.status_code for a in answers] == [200] * 50
    messages = [a.json()["message"] for a in answers]
    assert messages.count("received") == 1, messages
    # Then the older `created`, late: the stored state stays the newest.
    late = event("customer.subscription.created", created)
    assert deliver(client, late).json()["message"] == "received"
    drain(app)
    events = app.state.catalog.rows("SELECT id, status, job_id FROM sys_stripe_events")
    assert sorted(e["status"] for e in events) == ["processed", "processed"]
    jobs = app.state.catalog.rows(
        "SELECT COUNT(*) AS n FROM sys_jobs WHERE job_type = 'billing.event'"
    )[0]["n"]
    assert jobs == 2
    row = billing.subscription(app.state.catalog, tenant)
    assert row["cancel_at_period_end"] == 1 and row["status"] == "active"
    assert standing(app, tenant)[2] == row["current_period_end"]


def test_an_older_snapshot_never_overwrites_a_newer_one_nor_a_foreign_session(
    app, client, stripe_url
):
    dev_sign_in(client, "olive@example.com", "Olive")
    tenant = own_tenant(app, "olive@example.com")
    switch(client, "free")
    session = upgrade(client, stripe_url, "pro")
    before = billing.subscription(app.state.catalog, tenant)

    # Another workspace coming back with this workspace's Checkout session gets nothing.
    with TestClient(app, base_url="http://localhost") as bob:
        dev_sign_in(bob, "bob@example.com")
        theirs = own_tenant(app, "bob@example.com")
        seen = (billing.subscription(app.state.catalog, theirs), standing(app, theirs))
        page = bob.get(f"/settings/billing?checkout=success&session_id={session['id']}")
        assert page.status_code == 200 and before["provider_customer_id"] not in page.text
        assert (billing.subscription(app.state.catalog, theirs), standing(app, theirs)) == seen
    older = iso(parse(now()) - timedelta(minutes=5))
    fields = {k: before[k] for k in billing.SUBSCRIPTION_FIELDS} | {"status": "canceled"}

    def decide(_since):
        return billing.Standing("free", "canceled", None)

    assert billing.apply(app.state.catalog, tenant, fields, [], decide, older) is False
    assert billing.subscription(app.state.catalog, tenant)["status"] == "active"
    assert standing(app, tenant)[:2] == ("pro", "active")


# -- limits on every gated route, on each plan -----------------------------------------------


# The route modules the walker below covers; a module that starts checking a limit or a
# feature fails this until the walker tries it too.
WALKED = {"audit.py", "invitations.py", "sync.py", "webhook_settings.py"}
CHECKS = ("require_room(", "require_room_in(", "require_feature(", "over_limit(")


def test_the_walker_covers_every_module_that_checks_the_plan():
    gated = {
        path.name
        for path in (ROOT / "app" / "routes").glob("*.py")
        if any(check in path.read_text() for check in CHECKS)
    }
    assert gated == WALKED


def test_every_gated_route_holds_its_limit_on_each_plan(app, client):
    """Members (invitations), webhook endpoints, scheduled syncs and the audit log, per plan
    set with the development control; a refusal is 402 with an upgrade link and changes
    nothing."""
    dev_sign_in(client, "olive@example.com", "Olive")
    tenant = own_tenant(app, "olive@example.com")
    assert client.get("/sync").status_code == 200
    with app.state.databases.handle(tenant) as db:
        source = db.q("SELECT id FROM sync_sources ORDER BY id")[0]["id"]
    catalog = app.state.catalog
    for current in PLANS:
        switch(client, current.tier)
        # Start each plan from nothing: no invitations, endpoints or schedules.
        catalog.execute("DELETE FROM core_invitations WHERE tenant_id = :t", t=tenant)
        catalog.execute("DELETE FROM core_webhook_endpoints WHERE tenant_id = :t", t=tenant)
        client.post(f"/sync/{source}/schedule", data={"schedule": "off"}, headers=hx(client))

        seats = current.limit("members")
        for n in range(1, min(seats if seats is not None else 12, 12)):
            invited = client.post(
                "/invitations",
                data={"email": f"p{n}@example.com", "role": "member"},
                headers=hx(client),
            )
            assert invited.status_code == 200 and "plan allows" not in invited.text, (
                current.tier,
                n,
            )
        if seats is not None:
            refused = client.post(
                "/invitations",
                data={"email": "over@example.com", "role": "member"},
                headers=hx(client),
            )
            assert refused.status_code == 402, (current.tier, refused.text)
            assert f"allows {seats} members" in refused.text and "/settings/billing" in refused.text
            assert billing.members_used(catalog, tenant) == (1, seats - 1)

        endpoints = current.limit("webhook_endpoints")
        answers = [new_endpoint(client, s) for s in ("github", "demo")]  # one live per source
        expected = [200 if endpoints is None or n < endpoints else 402 for n in range(2)]
        assert answers == expected, current.tier
        assert live_endpoints(app, tenant) == expected.count(200)

        scheduled = client.post(
            f"/sync/{source}/schedule", data={"schedule": "daily"}, headers=hx(client)
        )
        allowed = current.limit("scheduled_syncs")
        assert scheduled.status_code == (402 if allowed == 0 else 200), current.tier
        with app.state.databases.handle(tenant) as db:
            schedule = db.q("SELECT schedule FROM sync_sources WHERE id = :s", s=source)[0]
        assert schedule["schedule"] == ("off" if allowed == 0 else "daily")

        audit = client.get("/audit")
        assert audit.status_code == (200 if current.has("audit_log") else 402), current.tier
        if not current.has("audit_log"):
            assert "See plans and upgrade" in audit.text


# -- the billing page and bad input -----------------------------------------------------------


def test_bad_input_on_every_billing_form_is_refused_and_changes_nothing(app, client):
    dev_sign_in(client, "olive@example.com", "Olive")
    tenant = own_tenant(app, "olive@example.com")
    token = page_csrf(client, "/settings/billing")
    before = (billing.subscription(app.state.catalog, tenant), standing(app, tenant))
    attempts = [
        ("/settings/billing/checkout", {"plan": "", "interval": "month"}, 400),
        ("/settings/billing/checkout", {"plan": "free", "interval": "month"}, 400),
        ("/settings/billing/checkout", {"plan": "gold' OR 1=1", "interval": "month"}, 400),
        ("/settings/billing/checkout", {"plan": "pro", "interval": "week"}, 400),
        ("/settings/billing/checkout", {"plan": "pro" * 5000, "interval": "year"}, 400),
        ("/settings/billing/portal", {}, 409),  # no customer yet
        ("/settings/billing/dev-plan", {"plan": "platinum", "status": "active"}, 400),
        ("/settings/billing/dev-plan", {"plan": "pro", "status": "canceled"}, 400),
        ("/settings/billing/dev-plan", {"plan": "\x00", "status": ""}, 400),
    ]
    for path, data, status in attempts:
        response = client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
        assert response.status_code == status, (path, data, response.text[:300])
        assert "Traceback" not in response.text
        htmx = client.post(path, data=data, headers=hx(client))
        assert htmx.status_code == status and "toast" in htmx.text, (path, data)
    for query in (
        "checkout=bogus",
        "session_id=nope",
        "checkout=success&session_id=cs_" + "x" * 300,
    ):
        assert client.get(f"/settings/billing?{query}").status_code == 400, query
    # A session id of another customer: the page shows, nothing is fetched or stored.
    assert (
        client.get("/settings/billing?checkout=success&session_id=cs_test_nobody").status_code
        == 200
    )
    assert (billing.subscription(app.state.catalog, tenant), standing(app, tenant)) == before


def test_without_stripe_keys_the_page_shows_the_plans_and_says_so(make_settings):
    application = create_app(make_settings())
    with TestClient(application, base_url="http://localhost") as c:
        dev_sign_in(c, "olive@example.com", "Olive")
        page = c.get("/settings/billing").text
        assert "billing-not-configured" in page
        for p in PLANS:
            assert f'id="plan-{p.tier}"' in page and p.name in page
        assert "Development only" in page
        landing = c.get("/").text  # the pricing table reads the same definition
        for p in PLANS:
            assert p.name in landing and p.price in landing and p.features[0] in landing
    application.state.databases.dispose()
    application.state.catalog.dispose()
    assert plan("nonsense").tier == "free"
