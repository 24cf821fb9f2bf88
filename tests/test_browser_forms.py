"""What a person sees happen in a real browser after an action, without a reload (headless
Chromium against the real app, the way tests/test_browser.py runs it):

- a new webhook secret stays on screen through the next actions until dismissed, and its
  Copy button puts it on the clipboard (issue 16 item 14);
- while an invitation email is on its way the list polls, and what is being typed into the
  invite form survives the polls (item 15);
- renaming the workspace updates the navigation's switcher and the window title (item 18).

The app runs on http://localhost:PORT, a secure context, where the Clipboard API works. Every
page must run without a console error or a Content Security Policy violation.
"""

from __future__ import annotations

import pytest

from tests.support.browser import ConsoleWatch, loopback_only
from tests.support.server import AppServer, free_port
from tests.support.smtp import closed_port

TIMEOUT_MS = 20_000


@pytest.fixture
def site(tmp_path):
    """The app in development, with mail to an SMTP port where nothing listens (so every
    email keeps failing and retrying slowly); yields its URL."""
    port = free_port()
    env = {
        "APP_ENV": "development",
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "",
        "TENANT_DATABASE_URL": "",
        "GOOGLE_CLIENT_ID": "",
        "GOOGLE_CLIENT_SECRET": "",
        "BASE_URL": "",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(closed_port()),
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "Starter <no-reply@example.com>",
        "SMTP_TIMEOUT": "1",
        "JOB_RETRY_BASE_SECONDS": "60",
        "RATE_LIMIT_WRITES": "off",
    }
    with AppServer(env, port=port):
        yield f"http://localhost:{port}"


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    loopback_only(context)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch = ConsoleWatch(origin=site)
    watch.attach(page)
    page.goto(f"{site}/login")
    page.locator("form[action='/login/dev'] input[name=email]").fill("bea@example.com")
    page.locator("input[name=name]").fill("Bea")
    page.get_by_role("button", name="Sign in (development)").click()
    page.wait_for_url(f"{site}/dashboard")
    page.evaluate("() => { window.notReloaded = true }")
    yield page
    problems = watch.take()
    context.close()
    assert not problems, f"console errors or CSP violations: {problems}"


def still_the_same_page(page) -> bool:
    return page.evaluate("() => window.notReloaded === true")


def test_a_new_webhook_secret_stays_until_dismissed_and_copies(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site}/settings/webhooks")
    page.evaluate("() => { window.notReloaded = true }")
    page.locator("select[name=source]").select_option("demo")
    page.get_by_role("button", name="Create endpoint").click()
    secret = page.locator("#shown-once code", has_text="whsec_").first
    expect(secret).to_contain_text("whsec_")
    value = secret.inner_text()

    page.get_by_role("button", name="Send test event").click()
    expect(page.locator("#toasts .toast")).to_have_text("Test event sent.")
    expect(page.locator("#webhook-deliveries")).to_contain_text("demo.ping")
    expect(secret).to_have_text(value)  # the panel changed; the secret is still there

    assert secret.get_attribute("id") == "shown-once-secret"
    page.locator("[data-copy=shown-once-secret]").click()
    expect(page.locator("[data-copy=shown-once-secret]")).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == value

    page.get_by_role("button", name="I have stored them: dismiss").click()
    expect(page.locator("#shown-once")).to_be_hidden()
    expect(secret).to_have_count(0)
    page.get_by_role("button", name="Rotate secret").click()  # a newer secret takes its place
    expect(page.locator("#shown-once-secret")).to_be_visible()
    assert page.locator("#shown-once-secret").inner_text() != value
    assert still_the_same_page(page)


def test_typing_in_the_invite_form_survives_the_polls(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site}/settings/team")
    page.evaluate("() => { window.notReloaded = true }")
    email = page.locator("#invitations-panel input[name=email]")
    email.fill("ivan@example.com")
    page.get_by_role("button", name="Invite").click()
    expect(page.locator("#invitations-panel")).to_contain_text("retrying", timeout=15_000)
    polls = []
    page.on("request", lambda r: r.url.endswith("/invitations") and polls.append(r.url))
    email.click()
    email.press_sequentially("half-typed@exa")
    page.wait_for_timeout(4_500)  # two polls, at least
    assert len(polls) >= 2, polls
    expect(email).to_have_value("half-typed@exa")
    expect(email).to_be_focused()
    expect(page.locator("#invitations-panel")).to_contain_text("The mail server could not take")
    assert still_the_same_page(page)


def test_a_rename_shows_in_the_switcher_and_the_title_at_once(page, site):
    from playwright.sync_api import expect

    page.goto(f"{site}/settings")
    page.evaluate("() => { window.notReloaded = true }")
    switcher = page.locator("#tenant-switcher summary strong")
    expect(switcher).to_have_text("Bea's workspace")
    page.locator("#settings-form input[name=name]").fill("Bea & Co")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#toasts .toast")).to_have_text("Settings saved.")
    expect(switcher).to_have_text("Bea & Co")
    expect(page).to_have_title("Settings · Bea & Co · FastHTML SaaS")
    assert still_the_same_page(page)
