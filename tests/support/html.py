"""Reading what pages hand to the browser."""

import re

CSRF_INPUT = re.compile(
    r'name="csrf_token" value="([0-9a-f]+)"|value="([0-9a-f]+)" name="csrf_token"'
)
CSRF_HEADER = re.compile(
    r'X-CSRF-Token&quot;: &quot;([0-9a-f]+)&quot;|"X-CSRF-Token": "([0-9a-f]+)"'
)


def csrf_from(html: str) -> str:
    """The CSRF token in a page: a form's hidden input, or the header htmx is told to send."""
    match = CSRF_INPUT.search(html) or CSRF_HEADER.search(html)
    assert match, "page has no CSRF token"
    return next(g for g in match.groups() if g)
