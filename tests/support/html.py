"""Reading what pages hand to the browser."""

import re
from html.parser import HTMLParser

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


class _Fields(HTMLParser):
    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "input" and found.get("name"):
            self.values.setdefault(found["name"], found.get("value") or "")
        elif tag == "textarea" and found.get("name"):
            self._textarea = found["name"]
            self.values.setdefault(self._textarea, "")

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None


def field_values(html: str) -> dict[str, str]:
    """What the form fields of `html` hold (inputs and textareas, by name; first one wins),
    as a browser reads them: entities decoded, either quoting."""
    parser = _Fields()
    parser.feed(html)
    return parser.values
