"""Rate limits: sign-in per client IP, webhooks per endpoint, writes per session; 429 with
Retry-After. The client IP comes from X-Forwarded-For only through TRUSTED_PROXIES."""

from __future__ import annotations

import ipaddress

import pytest
from starlette.testclient import TestClient

from app.factory import create_app
from app.settings import SettingsError, load_settings
from app.web import ratelimit
from app.web.client_ip import client_ip
from app.web.ratelimit import TokenBuckets
from tests.conftest import dev_sign_in, page_csrf
from tests.support.html import csrf_from
from tests.test_webhooks import deliver, event_body, make_endpoint


@pytest.fixture
def backend():
    """Limits live in the process, not the database: SQLite is enough here."""
    return {}


@pytest.fixture
def limited_app(make_settings):
    apps = []

    def make(**env: str):
        application = create_app(make_settings(**env))
        apps.append(application)
        return application

    yield make
    for application in apps:
        application.state.databases.dispose()
        application.state.catalog.dispose()


def browser(app, ip: str = "203.0.113.7") -> TestClient:
    return TestClient(app, base_url="http://localhost", client=(ip, 50000))


def try_sign_in(client: TestClient, email: str = "ada@example.com", **headers: str):
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login/dev",
        data={"email": email, "csrf_token": token},
        headers=headers,
        follow_redirects=False,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_evenly():
    clock = Clock()
    buckets = TokenBuckets((3, 60), clock=clock)  # 3 a minute: one token every 20 s
    wait = lambda key: buckets.take(key).wait  # noqa: E731
    assert [wait("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("b").remaining == 2  # what the RateLimit header says
    assert wait("a") == pytest.approx(20)
    assert wait("b") == 0  # keys are independent, and b has one more token left
    clock.now += 10
    assert wait("a") == pytest.approx(10)
    clock.now += 10
    assert wait("a") == 0
    clock.now += 3600  # a long pause refills to the burst, never beyond
    assert [wait("a") for _ in range(4)][-1] > 0


def test_buckets_forget_the_oldest_keys_beyond_the_bound(monkeypatch):
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 2)
    buckets = TokenBuckets((1, 60), clock=Clock())
    wait = lambda key: buckets.take(key).wait  # noqa: E731
    wait("old")
    wait("b")
    wait("c")
    assert wait("old") == 0  # forgotten, so it starts afresh: lenient, never stricter
    assert wait("c") > 0


PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.7", ["1.2.3.4"], "203.0.113.7"),  # not a proxy: its header is ignored
        ("10.0.0.2", ["198.51.100.9"], "198.51.100.9"),
        ("10.0.0.2", ["6.6.6.6, 198.51.100.9, 10.0.0.3"], "198.51.100.9"),  # spoofed left part
        ("10.0.0.2", ["6.6.6.6", "198.51.100.9"], "198.51.100.9"),  # two headers, in order
        ("10.0.0.2", ["10.0.0.9, 10.0.0.3"], "10.0.0.9"),  # proxies all the way
        ("10.0.0.2", ["not-an-ip"], "10.0.0.2"),
        ("10.0.0.2", ["198.51.100.9, "], "10.0.0.2"),
        ("10.0.0.2", ["2001:db8::1"], "2001:db8::1"),
        ("fd00::5", ["198.51.100.9"], "198.51.100.9"),
        ("testclient", ["198.51.100.9"], "testclient"),
    ],
)
def test_client_ip(peer, forwarded, expected):
    assert client_ip(peer, forwarded, PROXIES) == expected


def test_sign_in_attempts_are_limited_per_client_ip(limited_app):
    app = limited_app(RATE_LIMIT_SIGNIN="3/minute")
    with browser(app) as first, browser(app, "198.51.100.20") as other:
        statuses = [try_sign_in(first, email=f"u{n}@example.com").status_code for n in range(3)]
        assert statuses == [303, 303, 303]
        refused = try_sign_in(first)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 20
        assert "Too many requests" in refused.text
        assert first.get("/auth/google").status_code == 429  # every sign-in path shares it
        assert try_sign_in(other).status_code == 303  # another address is not affected


def test_a_forged_forwarded_for_does_not_escape_the_limit(limited_app):
    app = limited_app(RATE_LIMIT_SIGNIN="2/minute")
    with browser(app) as client:
        for n in range(2):
            try_sign_in(client, **{"X-Forwarded-For": f"192.0.2.{n}"})
        assert try_sign_in(client, **{"X-Forwarded-For": "192.0.2.99"}).status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_client_counts_alone(limited_app):
    app = limited_app(RATE_LIMIT_SIGNIN="2/minute", TRUSTED_PROXIES="10.0.0.0/8")
    with browser(app, "10.0.0.2") as proxy:
        ada = {"X-Forwarded-For": "198.51.100.1"}
        assert [try_sign_in(proxy, **ada).status_code for _ in range(2)] == [303, 303]
        assert try_sign_in(proxy, **ada).status_code == 429
        grace = {"X-Forwarded-For": "6.6.6.6, 198.51.100.2"}
        assert try_sign_in(proxy, "grace@example.com", **grace).status_code == 303
    recorded = app.state.catalog.rows("SELECT DISTINCT ip FROM core_sessions ORDER BY ip")
    assert recorded == [{"ip": "198.51.100.1"}, {"ip": "198.51.100.2"}]  # the real clients


def test_deliveries_to_unknown_endpoints_are_limited_per_address(limited_app):
    app = limited_app(RATE_LIMIT_WEBHOOKS="2/minute")
    with browser(app) as sender, browser(app, ip="203.0.113.99") as other:
        first = [sender.post("/webhooks/demo/aaaa", content=b"{}").status_code for _ in range(2)]
        assert first == [404, 404]  # not a live endpoint, but counted all the same
        refused = sender.post("/webhooks/demo/bbbb", content=b"{}")  # another made-up URL
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert other.post("/webhooks/demo/aaaa", content=b"{}").status_code == 404


def test_forged_deliveries_do_not_starve_verified_ones(limited_app):
    """Issue 16 item 10: rejected deliveries count in a bucket of their own."""
    app = limited_app(RATE_LIMIT_WEBHOOKS="3/minute")
    with browser(app) as owner, browser(app, ip="198.51.100.66") as attacker:
        dev_sign_in(owner, "ada@example.com")
        path, secret = make_endpoint(owner)
        forged = [deliver(attacker, path, "whsec_wrong", event_body()) for _ in range(5)]
        assert [r.status_code for r in forged] == [401, 401, 401, 429, 429]
        verified = [deliver(owner, path, secret, event_body()) for _ in range(3)]
        assert [r.status_code for r in verified] == [200, 200, 200]
        over = deliver(owner, path, secret, event_body())
        assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
        tenant = app.state.catalog.row("SELECT id FROM core_tenants")["id"]
        with app.state.databases.handle(tenant) as db:
            assert db.q("SELECT count(*) AS n FROM webhook_events") == [{"n": 3}]


def test_writes_are_limited_per_session(limited_app):
    app = limited_app(RATE_LIMIT_WRITES="4/minute", RATE_LIMIT_SIGNIN="off")
    with browser(app) as ada, browser(app) as grace:  # same address, different sessions
        dev_sign_in(ada, "ada@example.com")
        dev_sign_in(grace, "grace@example.com")
        headers = {"X-CSRF-Token": page_csrf(ada), "HX-Request": "true"}
        added = [ada.post("/notes", data={"body": f"n{n}"}, headers=headers) for n in range(4)]
        assert [r.status_code for r in added] == [200] * 4
        refused = ada.post("/notes", data={"body": "one too many"}, headers=headers)
        assert refused.status_code == 429
        assert "Too many requests" in refused.text  # the app's HTMX toast
        assert "retry-after" in refused.headers
        assert ada.get("/dashboard").status_code == 200  # reading is not limited
        grace_headers = {"X-CSRF-Token": page_csrf(grace), "HX-Request": "true"}
        assert grace.post("/notes", data={"body": "g"}, headers=grace_headers).status_code == 200


def test_limits_can_be_turned_off(limited_app):
    app = limited_app(RATE_LIMIT_SIGNIN="off")
    with browser(app) as client:
        assert {try_sign_in(client).status_code for _ in range(25)} == {303}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATE_LIMIT_SIGNIN", "fast"),
        ("RATE_LIMIT_WRITES", "0/minute"),
        ("RATE_LIMIT_WEBHOOKS", "10/fortnight"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
        ("MAX_BODY_BYTES", "-1"),
    ],
)
def test_bad_limit_settings_are_refused_by_name(tmp_path, name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings(env={"DATA_DIR": str(tmp_path), name: value}, env_file=None)


def test_production_refuses_to_trust_every_address(tmp_path):
    env = {"APP_ENV": "production", "DATA_DIR": str(tmp_path), "TRUSTED_PROXIES": "0.0.0.0/0"}
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES must not trust every address"):
        load_settings(env=env, env_file=None)
