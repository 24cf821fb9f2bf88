"""The README's webhook demo, end to end against the real server: the script and the curl."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.html import csrf_from
from tests.support.server import ROOT, AppServer

URL = re.compile(r"(http://[^/\s<]+/webhooks/demo/[A-Za-z0-9_-]{43})")
SECRET = re.compile(r"whsec_[A-Za-z0-9_-]{43}")

# Exactly the README snippet, after `URL=... SECRET=...` from the settings page.
CURL = """\
BODY='{"id":"evt_curl_1","type":"demo.ping","data":{"message":"Hello from curl"}}'
T=$(date +%s)
SIG=$(printf '%s.%s' "$T" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.*= //')
curl -sS -X POST "$URL" -H 'Content-Type: application/json' \\
     -H "Webhook-Signature: t=$T,v1=$SIG" --data-binary "$BODY"
"""


@pytest.fixture
def demo(make_settings):
    settings = make_settings()
    env = {"APP_ENV": "test", "DATA_DIR": str(settings.data_dir), "BASE_URL": ""}
    with AppServer(env) as server, httpx.Client(base_url=server.url) as browser:
        browser.post(
            "/login/dev",
            data={"email": "ada@example.com", "csrf_token": csrf_from(browser.get("/login").text)},
        )
        token = csrf_from(browser.get("/settings/webhooks").text)
        created = browser.post(
            "/settings/webhooks",
            data={"source": "demo"},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        ).text
        url, secret = URL.search(created).group(1), SECRET.search(created).group(0)
        yield browser, url.replace("localhost", "127.0.0.1"), secret


def wait_for_note(browser: httpx.Client, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in browser.get("/notes").text:
        assert time.monotonic() < deadline, f"no note {text!r} on the notes page"
        time.sleep(0.1)


def test_the_send_script_posts_a_signed_event_that_becomes_a_note(demo):
    browser, url, secret = demo
    command = [sys.executable, "scripts/send_webhook.py", url, secret, "Hello from the README"]
    sent = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert sent.stdout.startswith("200 ")
    wait_for_note(browser, "Webhook: Hello from the README")
    wrong = subprocess.run([*command[:3], "whsec_wrong"], cwd=ROOT, capture_output=True, text=True)
    assert wrong.returncode == 1 and wrong.stdout.startswith("401 ")


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl")
def test_the_curl_snippet_works(demo):
    browser, url, secret = demo
    env = {"URL": url, "SECRET": secret, "PATH": "/usr/bin:/bin:/usr/local/bin"}
    first = subprocess.run(["bash", "-c", CURL], env=env, capture_output=True, text=True)
    assert '"ok":true' in first.stdout and '"received"' in first.stdout, first.stdout + first.stderr
    wait_for_note(browser, "Webhook: Hello from curl")
    again = subprocess.run(["bash", "-c", CURL], env=env, capture_output=True, text=True)
    assert "duplicate" in again.stdout
