"""Telemetry (issue 14 items 4-5): /metrics read with prometheus-client's own parser, counters
moving, no label carrying an email or a token, several processes summed; Sentry events sent
to a real ingest receiver on 127.0.0.1 with the request id, route and workspace, and nothing
secret; the SDK never imported without SENTRY_DSN."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from app.factory import create_app
from tests.conftest import dev_sign_in
from tests.support.receiver import receiver
from tests.test_team import hx, own_tenant

TOKEN = "m" * 40
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def telemetry_app(make_settings):
    def make(**env: str):
        made = create_app(make_settings(METRICS_TOKEN=TOKEN, **env))
        built.append(made)
        return made

    built: list = []
    yield make
    for made in built:
        made.state.databases.dispose()
        made.state.catalog.dispose()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests_of(found: dict, route: str, method: str, status: str) -> float:
    key = ("http_requests_total", (("method", method), ("route", route), ("status", status)))
    return found.get(key, 0.0)


def test_metrics_need_the_token_and_show_the_counters_moving(telemetry_app):
    app = telemetry_app()
    with TestClient(app, base_url="http://localhost") as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            assert client.get("/metrics", headers=headers).status_code == 404
        dev_sign_in(client, "ada@example.com")
        before = samples(client.get("/metrics", headers=SCRAPE).text)
        for _ in range(3):
            assert client.get("/notes").status_code == 200
        gone = client.delete("/notes/no-such-note-sk_live_abc", headers=hx(client))
        answer = client.get("/metrics", headers=SCRAPE)
    assert answer.headers["content-type"].startswith("text/plain")
    after = samples(answer.text)
    assert (
        requests_of(after, "/notes", "GET", "200") - requests_of(before, "/notes", "GET", "200")
        == 3
    )
    route = "/notes/{note_id}"  # the template, never the raw path with its id
    deleted = requests_of(after, route, "DELETE", str(gone.status_code))
    assert deleted - requests_of(before, route, "DELETE", str(gone.status_code)) == 1
    latency = ("http_request_duration_seconds_count", (("method", "GET"), ("route", "/notes")))
    assert after[latency] - before.get(latency, 0) == 3
    assert ("job_queue_depth", (("queue", "tenant"),)) in after
    assert after[("tenant_engines_cached", ())] >= 1
    labels = {v for _, pairs in after for _, v in pairs}
    assert not [v for v in labels if "@" in v or "sk_" in v or TOKEN in v or "no-such" in v]


def test_metrics_do_not_exist_without_a_token(make_settings):
    app = create_app(make_settings())
    try:
        with TestClient(app, base_url="http://localhost") as client:
            for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer"}):
                assert client.get("/metrics", headers=headers).status_code == 404
    finally:
        app.state.databases.dispose()
        app.state.catalog.dispose()


COUNT_IN_A_PROCESS = textwrap.dedent(
    """
    import sys
    from app.telemetry.metrics import observe_request
    for _ in range(int(sys.argv[1])):
        observe_request("/notes", "GET", 200, 0.004)
    """
)


def test_several_processes_are_summed(telemetry_app, tmp_path, monkeypatch):
    """Two worker processes count into the shared directory; a scrape answered by any
    process (here this one, pointed at the directory) reports their sum."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    workers = [
        subprocess.Popen([sys.executable, "-c", COUNT_IN_A_PROCESS, str(n)], env=env)
        for n in (2, 5)
    ]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    app = telemetry_app()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    with TestClient(app, base_url="http://localhost") as client:
        found = samples(client.get("/metrics", headers=SCRAPE).text)
    assert requests_of(found, "/notes", "GET", "200") == 7
    bucket = (
        "http_request_duration_seconds_bucket",
        (("le", "0.005"), ("method", "GET"), ("route", "/notes")),
    )
    assert found[bucket] == 7


# -- Sentry ---------------------------------------------------------------------------------


def envelope_items(body: bytes, encoding: str) -> list[dict]:
    """The JSON items of a Sentry envelope (header line, then item header + payload pairs)."""
    raw = gzip.decompress(body) if encoding == "gzip" else body
    lines = raw.split(b"\n")
    return [json.loads(line) for line in lines[2::2] if line.strip()]


def test_sentry_gets_the_error_with_its_tags_and_no_secret(telemetry_app, monkeypatch):
    import sentry_sdk

    import app.routes.notes as notes

    secret = "sk_live_0123456789abcdef"

    def broken(*args, **kwargs):
        raise RuntimeError(f"cannot tell ada@example.com, token={secret}, Bearer {secret}")

    monkeypatch.setattr(notes, "emit", broken)
    with receiver() as ingest:
        app = telemetry_app(SENTRY_DSN=f"{ingest.url.replace('//', '//public@')}/42")
        try:
            with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as c:
                dev_sign_in(c, "ada@example.com")
                tenant = own_tenant(app, "ada@example.com")
                failed = c.post("/notes", data={"body": "x"}, headers=hx(c))
                request_id = failed.headers["x-request-id"]
                cookies = [v for v in c.cookies.values() if len(v) > 8]
            assert failed.status_code == 500
            sentry_sdk.flush(timeout=10)
            sent = ingest.wait_for("/api/42/envelope/", 1)
        finally:
            sentry_sdk.get_client().close()
    items = [i for r in sent for i in envelope_items(r.body, r.headers.get("content-encoding", ""))]
    events = [i for i in items if "exception" in i]
    [event] = events  # once: the error page's report, not again from the log line
    assert event["tags"]["request_id"] == request_id
    assert event["tags"]["route"] == "/notes" and event["tags"]["tenant_id"] == tenant
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    text = json.dumps(items)
    assert cookies
    for leak in ("ada@example.com", secret, *cookies):
        assert leak not in text, leak
    assert "request" not in event and "user" not in event


def test_sentry_is_not_imported_without_a_dsn(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        from app.factory import create_app
        from app.settings import load_settings
        create_app(load_settings({{"APP_ENV": "test", "DATA_DIR": {str(tmp_path)!r}}}, None))
        assert "sentry_sdk" not in sys.modules, "imported"
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
