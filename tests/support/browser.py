"""Headless Chromium from Debian packages (`chromium`), driven by Playwright's Python package.

No browser is downloaded: Playwright launches /usr/bin/chromium. Without it the browser tests
skip, unless SAAS_REQUIRE_BROWSER=1 (as in CI), where a missing browser fails them.

`ConsoleWatch` collects, per page of one origin, console errors (Chromium reports Content
Security Policy violations there: "Refused to ... because it violates ...") and uncaught
page errors, so a test can assert that a page ran clean.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("SAAS_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium reaches for the (closed) network in the background.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def require_browser() -> None:
    """Skip (or, with SAAS_REQUIRE_BROWSER=1, fail) when Chromium or Playwright is missing."""
    problem = ""
    if not CHROMIUM.is_file():
        problem = f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is not installed (uv sync)"
    if problem:
        if os.environ.get("SAAS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here (SAAS_REQUIRE_BROWSER=1) but {problem}")
        pytest.skip(f"browser tests need headless Chromium: {problem}; .ci/run installs it")


@contextmanager
def chromium() -> Iterator[object]:
    """A Playwright `Browser` on Debian's Chromium; closed (and Playwright stopped) after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


def loopback_only(context) -> None:
    """Abort every request that leaves the machine (a provider page's CDN stylesheet, say)."""

    def route(r) -> None:
        host = urlsplit(r.request.url).hostname or ""
        if r.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            r.continue_()
        else:
            r.abort()

    context.route("**/*", route)


@dataclass
class ConsoleWatch:
    """Console errors and page errors of pages on `origin`; other origins are not ours."""

    origin: str
    problems: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", lambda msg: self._console(page, msg))
        page.on("pageerror", lambda error: self._record(page.url, f"pageerror: {error}"))

    def _console(self, page, msg) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url") or page.url
        self._record(page.url if page.url.startswith(self.origin) else where, msg.text)

    def _record(self, url: str, text: str) -> None:
        if url.startswith(self.origin):
            self.problems.append(f"{url}: {text}")

    def take(self) -> list[str]:
        """The problems seen since the last call (and forget them)."""
        seen, self.problems = self.problems, []
        return seen


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
