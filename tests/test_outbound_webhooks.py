"""Outbound webhooks (issue 14): real deliveries to a receiver on 127.0.0.1, signatures checked
with the `standardwebhooks` reference library, the retry schedule to `failed`, the endpoint
turned off with an email to the owners, the delivery log and replay, the events, and the SSRF
probes refused in production mode before any connection is attempted."""

from __future__ import annotations

import dataclasses
import itertools
import re
import sys
import threading
import time

import httpcore
import pytest
from prometheus_client import REGISTRY
from standardwebhooks.webhooks import Webhook
from starlette.testclient import TestClient

from app.factory import create_app
from app.lib import safe_http
from app.webhooks import outbound
from app.work.jobs import job_manager
from tests.conftest import dev_sign_in
from tests.support.api import bearer, make_key
from tests.support.receiver import Receiver, receiver
from tests.support.smtp import smtp_server
from tests.test_email_outbox import smtp_env
from tests.test_team import add_member, hx, own_tenant

BASE = "/settings/outbound-webhooks"


@pytest.fixture(scope="module")
def hook() -> Receiver:
    with receiver() as r:
        yield r


@pytest.fixture(scope="module")
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture
def fast_app(make_settings, backend, smtp):
    """Retries after 0.02 s, 0.08 s...: the whole schedule runs in well under a second. In
    development mode, so mail goes to the real SMTP server on 127.0.0.1 (test mode never
    connects) and loopback receivers are allowed."""
    settings = make_settings(
        **backend,
        **smtp_env(smtp.port),
        APP_ENV="development",
        JOB_POLL_SECONDS="0.05",
        OUTBOUND_WEBHOOK_RETRY_BASE_SECONDS="0.02",
        OUTBOUND_WEBHOOK_ATTEMPTS="3",
        OUTBOUND_WEBHOOK_DISABLE_AFTER="1",
        OUTBOUND_WEBHOOK_TIMEOUT_SECONDS="5",
    )
    app = create_app(settings)
    yield app
    app.state.databases.dispose()
    app.state.catalog.dispose()


def register(client: TestClient, url: str, events=("note.created",)) -> str:
    """Add an endpoint through the settings page; returns its signing secret (shown once)."""
    answer = client.post(BASE, data={"url": url, "events": list(events)}, headers=hx(client))
    assert answer.status_code == 200, answer.text
    found = re.search(r'id="new-signing-secret">(whsec_[A-Za-z0-9+/=]+)<', answer.text)
    assert found, answer.text
    return found.group(1)


def deliveries(app, tenant: str) -> list[dict]:
    with app.state.databases.handle(tenant) as db:
        return db.q("SELECT * FROM outbound_deliveries ORDER BY created_at")


def sent_count(outcome: str) -> float:
    labels = {"event": "note.created", "outcome": outcome}
    return REGISTRY.get_sample_value("webhook_deliveries_total", labels) or 0.0


def wait_until(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError("the condition did not come true in time")


def test_failing_twice_then_succeeding_arrives_once_signed(fast_app, hook):
    app = fast_app
    with TestClient(app, base_url="http://localhost") as client:
        dev_sign_in(client, "ada@example.com")
        tenant = own_tenant(app, "ada@example.com")
        path = f"/flaky-{tenant}"
        hook.script[path] = [500, 503, 200]
        secret = register(client, hook.url + path)
        counted = {o: sent_count(o) for o in ("retrying", "succeeded")}
        client.post("/notes", data={"body": "tell the world"}, headers=hx(client))
        got = hook.wait_for(path, 3)
        wait_until(lambda: deliveries(app, tenant)[0]["status"] == "succeeded")
        [delivery] = deliveries(app, tenant)
    assert [r.answered for r in got] == [500, 503, 200]
    assert sent_count("retrying") - counted["retrying"] == 2  # and /metrics shows them
    assert sent_count("succeeded") - counted["succeeded"] == 1
    assert len({r.headers["webhook-id"] for r in got}) == 1  # one message, three attempts
    assert got[0].headers["webhook-id"] == delivery["id"]
    signer = Webhook(secret)
    for request in got:  # every attempt is signed afresh, and verifies
        event = signer.verify(request.body, request.headers)
    assert event["type"] == "note.created" and event["data"]["body"] == "tell the world"
    assert delivery["attempts"] == 3 and delivery["response_status"] == 200
    with app.state.databases.handle(tenant) as db:
        log = db.q("SELECT attempt, response_status FROM outbound_attempts ORDER BY attempt")
    assert [(a["attempt"], a["response_status"]) for a in log] == [(1, 500), (2, 503), (3, 200)]
    assert len([r for r in hook.at(path) if r.answered == 200]) == 1
    tampered = dict(got[-1].headers, **{"webhook-signature": "v1,AAAA"})
    with pytest.raises(Exception, match="signature"):
        signer.verify(got[-1].body, tampered)


def test_an_always_failing_receiver_ends_failed_and_the_owners_hear(fast_app, hook, smtp):
    app = fast_app
    with TestClient(app, base_url="http://localhost") as client:
        dev_sign_in(client, "ada@example.com")
        tenant = own_tenant(app, "ada@example.com")
        add_member(app, tenant, "olga@example.com", "owner")
        path = f"/down-{tenant}"
        hook.script[path] = [500]
        register(client, hook.url + path)
        seen = len(smtp.messages)  # the module's SMTP server also kept earlier tests' mail
        client.post("/notes", data={"body": "nobody listens"}, headers=hx(client))
        wait_until(lambda: deliveries(app, tenant)[0]["status"] == "failed")
        mails = wait_until(
            lambda: [m for m in smtp.messages[seen:] if "turned off" in m["Subject"]]
        )
        page = client.get(BASE).text
        with app.state.databases.handle(tenant) as db:
            [endpoint] = db.q("SELECT status, disabled_reason FROM outbound_endpoints")
            job = db.q(
                "SELECT status, attempts FROM tenant_jobs WHERE job_type = 'webhooks.deliver'"
            )
        assert len(hook.at(path)) == 3  # the whole schedule, then no more
        assert job == [{"status": "failed", "attempts": 3}]
        assert endpoint["status"] == "disabled" and "in a row" in endpoint["disabled_reason"]
        assert sorted(m["To"] for m in mails) == ["ada@example.com", "olga@example.com"]
        assert "Turn on" in page and "HTTP 500" in page
        # Replay from the log, after the receiver is fixed and the endpoint turned back on.
        hook.script[path] = [200]
        with app.state.databases.handle(tenant) as db:
            endpoint_id = db.q("SELECT id FROM outbound_endpoints")[0]["id"]
        assert client.post(f"{BASE}/{endpoint_id}/enable", headers=hx(client)).status_code == 200
        failed = deliveries(app, tenant)[0]["id"]
        replayed = client.post(f"{BASE}/deliveries/{failed}/replay", headers=hx(client))
        assert replayed.status_code == 200
        wait_until(lambda: any(d["status"] == "succeeded" for d in deliveries(app, tenant)))
    assert hook.at(path)[-1].answered == 200


def test_every_event_type_is_sent_from_where_it_happens(fast_app, hook, smtp, monkeypatch):
    from app.demo.graphql import DemoStore
    from app.demo.sync import DEMO, in_process_client
    from app.syncs.sources import SPECS

    store = DemoStore(count=30)
    spec = dataclasses.replace(DEMO, connect=lambda: in_process_client(store), page_size=50)
    monkeypatch.setitem(SPECS, DEMO.kind, spec)
    app = fast_app
    with (
        TestClient(app, base_url="http://localhost") as client,
        TestClient(app, base_url="http://localhost") as ivan,
    ):
        dev_sign_in(client, "ada@example.com")
        tenant = own_tenant(app, "ada@example.com")
        path = f"/all-{tenant}"
        secret = register(client, hook.url + path, outbound.EVENTS)
        # note.created, from the API
        api = TestClient(app, headers=bearer(make_key(app, tenant)))
        assert api.post("/api/v1/notes", json={"body": "via the API"}).status_code == 201
        # member.joined, when an invitation is accepted
        seen = len(smtp.messages)
        invited = client.post(
            "/invitations", data={"email": "ivan@example.com"}, headers=hx(client)
        )
        assert invited.status_code == 200
        link = wait_until(
            lambda: next(
                (
                    re.search(r"/invitations/[\w-]+", m.get_body(("plain",)).get_content())[0]
                    for m in smtp.messages[seen:]
                    if m["To"] == "ivan@example.com"
                ),
                None,
            )
        )
        dev_sign_in(ivan, "ivan@example.com")
        accepted = ivan.post(f"{link}/accept", headers=hx(ivan), follow_redirects=False)
        assert accepted.status_code in (200, 303), accepted.text
        # sync.completed, when a sync run succeeds
        assert client.get("/sync").status_code == 200
        with app.state.databases.handle(tenant) as db:
            source = db.q("SELECT id FROM sync_sources")[0]["id"]
        ran = client.post(f"/sync/{source}/run", data={"mode": "full"}, headers=hx(client))
        assert ran.status_code == 200
        got = hook.wait_for(path, 3)
    events = {Webhook(secret).verify(r.body, r.headers)["type"]: r for r in got}
    assert set(events) == {"note.created", "member.joined", "sync.completed"}
    joined = Webhook(secret).verify(events["member.joined"].body, events["member.joined"].headers)
    assert joined["data"]["email"] == "ivan@example.com"
    synced = Webhook(secret).verify(events["sync.completed"].body, events["sync.completed"].headers)
    assert synced["data"]["written"] == 30


def test_the_form_checks_its_input(app, client):
    dev_sign_in(client, "ada@example.com")
    for form, message in (
        ({"url": "", "events": "note.created"}, "Enter the URL"),
        ({"url": "ftp://example.com/x", "events": "note.created"}, "http:// or https://"),
        ({"url": "https://user:pw@example.com/", "events": "note.created"}, "credentials"),
        ({"url": "https://example.com/" + "x" * 2000, "events": "note.created"}, "under 2000"),
        ({"url": "http://10.0.0.1/hook", "events": "note.created"}, "private or local"),
        ({"url": "https://example.com/hook"}, "at least one event"),
        ({"url": "https://example.com/hook", "events": "note.deleted"}, "from the list"),
        ({"url": "https://[::1", "events": "note.created"}, "not a valid URL"),
    ):
        answer = client.post(BASE, data=form, headers=hx(client))
        assert answer.status_code == 200 and message in answer.text, (form, answer.text[-300:])
    with app.state.databases.handle(own_tenant(app, "ada@example.com")) as db:
        assert db.q("SELECT id FROM outbound_endpoints") == []


# -- SSRF ----------------------------------------------------------------------------------

_watching = threading.Event()
_connects: list[object] = []


def _audit(event: str, args: tuple) -> None:
    """Every socket connect and name lookup this process makes while a probe runs."""
    if _watching.is_set() and event in ("socket.connect", "socket.getaddrinfo"):
        _connects.append((event, args[1] if event == "socket.connect" else args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed: it records only while watching

PRODUCTION = safe_http.AddressPolicy(allow_loopback=False)


def _probe(url: str, resolve=None):
    _connects.clear()
    _watching.set()
    try:
        with pytest.raises(safe_http.Refused):
            safe_http.post(
                url,
                b"{}",
                {},
                policy=PRODUCTION,
                timeout=2,
                **({"resolve": resolve} if resolve else {}),
            )
    finally:
        _watching.clear()
    return [c for c in _connects if c[0] == "socket.connect"]


def test_ssrf_probes_are_refused_in_production_before_any_connection(hook):
    port = hook.url.rsplit(":", 1)[1]
    before = len(hook.received)
    for url in (
        f"http://127.0.0.1:{port}/probe",
        "http://10.0.0.1/probe",
        "http://169.254.169.254/latest/meta-data/",
        f"http://[::1]:{port}/probe",
        f"http://localhost:{port}/probe",
        f"https://127.0.0.1:{port}/probe",
        f"https://[::ffff:127.0.0.1]:{port}/probe",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://100.64.0.1/probe",
        "https://0.0.0.0/probe",
    ):
        assert _probe(url) == [], url
    # A name that resolves to loopback (DNS is answered here: no query leaves the machine),
    # also when it resolved to a public address before: checked at connect time.
    answers = iter([[(2, 1, 6, "", ("93.184.215.14", 443))], [(2, 1, 6, "", ("127.0.0.1", 443))]])

    def rebinding(host, port, **kw):
        assert host == "hooks.example.test"
        return next(answers)

    policy_ok = PRODUCTION.addresses("hooks.example.test", 443, rebinding)  # when saved: fine
    assert policy_ok == ["93.184.215.14"]
    assert _probe("https://hooks.example.test/x", rebinding) == []  # when sending: refused

    def mixed(host, port, **kw):
        return [(2, 1, 6, "", ("93.184.215.14", 443)), (2, 1, 6, "", ("10.1.2.3", 443))]

    assert _probe("https://mixed.example.test/x", mixed) == []  # one bad address is enough
    assert len(hook.received) == before  # the loopback receiver never heard from us


def test_production_refuses_local_endpoints_when_saved_and_when_sending(app, client, hook):
    """The whole path in production mode: the form refuses local URLs, and an endpoint that
    got in anyway (its name resolved elsewhere when saved) is refused at delivery."""
    dev_sign_in(client, "ada@example.com")
    tenant = own_tenant(app, "ada@example.com")
    app.state.settings = dataclasses.replace(app.state.settings, app_env="production")
    job_manager(app).settings = app.state.settings  # the jobs' settings: deliveries check by them
    answer = client.post(
        BASE, data={"url": hook.url + "/x", "events": "note.created"}, headers=hx(client)
    )
    assert "https://" in answer.text  # production takes https only, and no loopback
    with app.state.databases.begin(tenant) as db:
        outbound.create_endpoint(db, f"{hook.url}/prod-{tenant}", ["note.created"], "")
    before = len(hook.received)
    _connects.clear()
    _watching.set()
    try:
        client.post("/notes", data={"body": "in production"}, headers=hx(client))
        wait_until(lambda: (d := deliveries(app, tenant)) and d[0]["attempts"] >= 1)
    finally:
        _watching.clear()
    [delivery] = deliveries(app, tenant)
    assert delivery["error"].startswith("Refused:") and delivery["response_status"] is None
    assert len(hook.received) == before
    assert not [c for c in _connects if c[0] == "socket.connect" and "127.0.0.1" in str(c[1])]


def test_redirects_are_not_followed(app, client, hook):
    dev_sign_in(client, "ada@example.com")
    tenant = own_tenant(app, "ada@example.com")
    hook.script[f"/moved-{tenant}"] = [302]
    hook.redirect_to = f"{hook.url}/target-{tenant}"
    register(client, f"{hook.url}/moved-{tenant}")
    client.post("/notes", data={"body": "follow me"}, headers=hx(client))
    hook.wait_for(f"/moved-{tenant}", 1)
    wait_until(lambda: (d := deliveries(app, tenant)) and d[0]["attempts"] >= 1)
    [delivery] = deliveries(app, tenant)
    assert delivery["response_status"] == 302 and "not followed" in delivery["error"]
    assert hook.at(f"/target-{tenant}") == []
    assert PRODUCTION.check_url(hook.redirect_to) is not None  # and production refuses it anyway


def test_a_capped_read_and_a_timeout(hook):
    """A receiver that answers with a huge body is read only up to the cap; one that does not
    answer in time is a timeout, not a hang."""
    loopback = safe_http.AddressPolicy(allow_loopback=True)
    hook.body_size["/huge"] = 4 * 1024 * 1024
    reply = safe_http.post(
        hook.url + "/huge", b"{}", {}, policy=loopback, timeout=5, read_limit=1024
    )
    assert reply.status == 200 and len(reply.body) == 1024
    hook.held["/slow"] = answer = threading.Event()
    started = time.monotonic()
    try:
        with pytest.raises(httpcore.TimeoutException):
            safe_http.post(hook.url + "/slow", b"{}", {}, policy=loopback, timeout=0.3)
    finally:
        answer.set()
    assert time.monotonic() - started < 3
    assert len(hook.at("/slow")) == 1  # it was sent, and given up on


def test_the_default_schedule_spans_about_a_day(make_settings):
    """Eight attempts, 15 s * 4^n apart with jitter down to half: the last one between
    about 11 and 23 hours after the first."""
    settings = make_settings()
    waits = [outbound.retry_delay(n, settings) for n in range(1, settings.outbound_attempts)]
    assert settings.outbound_attempts == 8
    assert all(a < b for a, b in itertools.pairwise(waits))
    assert 10 * 3600 < sum(waits) < 24 * 3600
