"""End to end in a real browser: headless Chromium against the real app and OpenID provider.

One walk through the product as a person would take it: the landing page, sign-in through
the provider, the dashboard, a settings change over HTMX, a demo sync to the end of its
progress bar, a blog post, and sign-out. Every page of the app must run without a console
error, an uncaught exception or a Content Security Policy violation (Chromium reports those
as console errors), and each one is saved as a screenshot under test-artifacts/.
"""

from __future__ import annotations

import re

import pytest
from oidc_provider_mock import User

from tests.support.browser import ARTIFACTS, ConsoleWatch, loopback_only, screenshot
from tests.support.oidc import oidc_env, oidc_provider
from tests.support.server import AppServer, free_port

SUBJECT = "browser-sub"
EMAIL = "browser@example.com"
USERS = [User(sub=SUBJECT, claims={"email": EMAIL, "email_verified": True, "name": "Bea"})]
TIMEOUT_MS = 20_000


@pytest.fixture
def site(tmp_path):
    """The OpenID provider and the app, configured for each other; yields the app's URL."""
    with oidc_provider(USERS) as issuer:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            "APP_ENV": "development",
            "DATA_DIR": str(tmp_path / "data"),
            **oidc_env(issuer),
            "BASE_URL": url,
            "DATABASE_URL": "",
            "TENANT_DATABASE_URL": "",
        }
        with AppServer(env, port=port) as server:
            yield server.url


def test_a_person_walks_through_the_product(browser, site):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    loopback_only(context)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch = ConsoleWatch(origin=site)
    watch.attach(page)
    clean: dict[str, list[str]] = {}
    (ARTIFACTS / "failure.png").unlink(missing_ok=True)

    def visited(name: str) -> None:
        page.wait_for_load_state("load")
        screenshot(page, name)
        clean[name] = watch.take()

    try:
        # Landing page, then the way in.
        page.goto(site + "/")
        expect(page.locator("h1")).to_contain_text("Launch your SaaS")
        visited("01-landing")
        page.get_by_role("banner").get_by_role("link", name="Sign in", exact=True).click()
        page.wait_for_url(re.compile(r"/login$"))
        visited("02-login")

        # The provider's authorize page: type the subject, submit.
        page.get_by_role("link", name="Sign in with Google").click()
        page.locator("input[name=sub]").fill(SUBJECT)
        page.get_by_role("button", name="Authorize").click()
        page.wait_for_url(f"{site}/dashboard")
        expect(page.locator("main")).to_contain_text(EMAIL)
        visited("03-dashboard")

        # Settings over HTMX: the form swaps itself and a toast says so.
        page.locator("#sidebar").get_by_role("link", name="Settings").click()
        page.wait_for_url(f"{site}/settings")
        form = page.locator("#settings-form")
        form.locator("input[name=name]").fill("Bea's Browser Co")
        form.locator("select[name=currency]").select_option("EUR")
        form.get_by_role("button", name="Save").click()
        expect(page.locator("#toasts .toast")).to_have_text("Settings saved.")
        expect(page.locator("#settings-form select[name=currency]")).to_have_value("EUR")
        visited("04-settings")
        page.reload()
        expect(page.locator("#settings-form input[name=name]")).to_have_value("Bea's Browser Co")
        expect(page.locator("#tenant-switcher summary strong")).to_have_text("Bea's Browser Co")
        clean["04-settings-reloaded"] = watch.take()

        # The demo sync: its status polls itself until the progress bar is gone and it reads
        # "Synced", and the synced rows arrive with it.
        page.goto(f"{site}/sync")
        status = page.locator("#sync-panel [id^=sync-status-]").first
        expect(status).to_contain_text("Never synced")
        status.get_by_role("button", name="Sync now").click()
        expect(status.locator("progress")).to_have_count(1)
        screenshot(page, "05-sync-running")
        expect(status).to_contain_text("Synced", timeout=90_000)
        expect(status.locator("progress")).to_have_count(0)
        expect(status).not_to_contain_text("Syncing")
        rows = page.locator("#sync-panel [id^=sync-rows-]").first
        expect(rows.locator("tbody tr").first).to_be_visible()
        expect(rows.locator("h3")).not_to_have_text("Synced rows (0)")
        visited("06-sync-done")

        # A blog post, from the index.
        page.locator("#sidebar").get_by_role("link", name="Guides").click()
        page.wait_for_url(f"{site}/blog")
        visited("07-blog")
        first = page.locator("article.post-card h2 a").first
        title = first.inner_text()
        first.click()
        page.wait_for_url(re.compile(r"/blog/[\w-]+$"))
        expect(page.locator("h1").first).to_have_text(title)
        visited("08-blog-post")

        # Sign out (from the dashboard: public pages do not look the session up, they only
        # offer the way back); the session is revoked, so the dashboard sends us to sign in.
        page.get_by_role("link", name="Open dashboard").click()
        page.wait_for_url(f"{site}/dashboard")
        page.locator(".user-menu summary").click()  # the user menu holds Sign out
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_load_state("load")
        assert not page.url.startswith(f"{site}/dashboard")
        visited("09-signed-out")
        page.goto(site + "/dashboard")
        page.wait_for_url(f"{site}/login")
        expect(page.get_by_role("link", name="Sign in with Google")).to_be_visible()
        visited("10-dashboard-after-sign-out")

        # The watch itself: an inline script is refused by the CSP, and we do hear of it.
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.csp_broken = 1'; document.body.append(s); }"
        )
        page.wait_for_timeout(200)
        assert page.evaluate("() => window.csp_broken") is None
        heard = watch.take()
        assert any("Content Security Policy" in p for p in heard), heard
    except Exception:
        screenshot(page, "failure")
        raise
    finally:
        context.close()

    dirty = {name: problems for name, problems in clean.items() if problems}
    assert not dirty, f"console errors, page errors or CSP violations: {dirty}"
