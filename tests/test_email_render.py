"""Email templates: every template renders, variables are checked, values are always text."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.lib.email_render import TemplateError, load_template, render_email

SITE = {"app_name": "Acme", "base_url": "https://acme.example"}
EXAMPLES = {
    "welcome": {
        "name": "Ada",
        "tenant_name": "Analytical Engines",
        "dashboard_url": "https://acme.example/dashboard",
    },
    "invitation": {
        "inviter_name": "Grace",
        "tenant_name": "Compilers",
        "role": "admin",
        "invitation_url": "https://acme.example/invitations/abc123",
        "expires_in": "7 days",
    },
    "sign_in_notice": {
        "name": "Ada",
        "signed_in_at": "22 November 2026, 10:04 UTC",
        "ip_address": "203.0.113.7",
        "device": "Firefox on Linux",
        "sessions_url": "https://acme.example/settings#sessions",
    },
    "sign_in_link": {
        "heading": "Sign in to Acme",
        "action": "Sign in",
        "link": "https://acme.example/login/email/abc123",
        "code": "123456",
        "minutes": "15",
    },
    "tenant_deleted": {
        "name": "Ada",
        "tenant_name": "Analytical Engines",
        "deleted_by": "Charles",
        "deleted_at": "22 November 2026",
    },
}


def variables(template: str, **overrides: str) -> dict[str, str]:
    return {**SITE, **EXAMPLES[template], **overrides}


class Tags(HTMLParser):
    """The element structure of an HTML document: tags and attribute names, not text."""

    def __init__(self, document: str):
        super().__init__()
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.feed(document)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, tuple(name for name, _ in attrs)))


@pytest.mark.parametrize("template", sorted(EXAMPLES))
def test_every_template_renders_subject_text_and_html(template):
    rendered = render_email(template, variables(template))
    assert rendered.subject and "\n" not in rendered.subject
    assert "{" not in rendered.subject + rendered.text
    for value in EXAMPLES[template].values():
        assert value in rendered.text
    assert rendered.html.startswith("<!doctype html>")
    assert "<h1>" in rendered.html
    # The layout wraps every template.
    assert '<a href="https://acme.example">Acme</a>' in rendered.html
    assert "Sent by [Acme](https://acme.example)" in rendered.text


@pytest.mark.parametrize("template", sorted(EXAMPLES))
def test_each_template_asks_for_exactly_its_documented_variables(template):
    assert load_template(template).variables == set(SITE) | set(EXAMPLES[template])


def test_links_carry_their_url_in_html_and_text():
    rendered = render_email("invitation", variables("invitation"))
    assert '<a href="https://acme.example/invitations/abc123">Accept the invitation</a>' in (
        rendered.html
    )
    assert "(https://acme.example/invitations/abc123)" in rendered.text


def test_a_missing_variable_is_an_error_naming_it():
    values = variables("welcome")
    del values["tenant_name"], values["dashboard_url"]
    with pytest.raises(TemplateError, match="missing dashboard_url, tenant_name"):
        render_email("welcome", values)


def test_an_unexpected_variable_is_an_error_so_typos_surface():
    with pytest.raises(TemplateError, match="unexpected dashbaord_url"):
        render_email("welcome", variables("welcome", dashbaord_url="x"))


def test_values_must_be_text_or_numbers():
    with pytest.raises(TemplateError, match="not text: name"):
        render_email("welcome", {**variables("welcome"), "name": None})
    assert "Welcome aboard, 42" in render_email("welcome", variables("welcome", name=42)).text


def test_html_in_a_value_is_escaped_in_the_html_part_and_kept_in_the_text_part():
    hostile = '<script>alert("hi")</script>'
    rendered = render_email("welcome", variables("welcome", name=hostile, tenant_name="A & B"))
    assert "<script" not in rendered.html
    assert "&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt;" in rendered.html
    assert "A &amp; B" in rendered.html
    assert hostile in rendered.text and hostile in rendered.subject


def test_markdown_in_a_value_is_not_interpreted():
    sneaky = "*bold* [click me](https://evil.example) <b>x</b>"
    rendered = render_email("welcome", variables("welcome", tenant_name=sneaky))
    assert 'href="https://evil.example"' not in rendered.html
    assert "<em>" not in rendered.html and "<b>" not in rendered.html
    assert "[click me](https://evil.example)" in rendered.html


def test_a_value_cannot_break_out_of_an_attribute():
    url = 'https://acme.example/x?a=1&b="><img src=x onerror=alert(1)>'
    rendered = render_email("welcome", variables("welcome", dashboard_url=url))
    assert "<img" not in rendered.html
    assert 'href="https://acme.example/x?a=1&amp;b=&quot;&gt;&lt;img' in rendered.html


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_no_value_changes_the_structure_of_the_html(name, tenant_name):
    plain = render_email("welcome", variables("welcome"))
    rendered = render_email("welcome", variables("welcome", name=name, tenant_name=tenant_name))
    assert Tags(rendered.html).tags == Tags(plain.html).tags


def test_a_newline_in_a_value_cannot_add_a_header_or_restructure_the_text():
    rendered = render_email(
        "invitation", variables("invitation", tenant_name="Ops\r\nBcc: victim@example.com")
    )
    assert rendered.subject == "Grace invited you to join Ops Bcc: victim@example.com on Acme"
    assert "# Join Ops Bcc: victim@example.com on Acme\n" in rendered.text


@pytest.mark.parametrize("name", ["layout", "../layout", "Welcome", "welcome.md", "", "nope"])
def test_unknown_or_hostile_template_names_are_refused(name):
    with pytest.raises(TemplateError):
        render_email(name, variables("welcome"))


def write(directory: Path, **files: str) -> Path:
    for name, text in {"layout": "{content}\n\n{app_name}\n", **files}.items():
        (directory / f"{name}.md").write_text(text)
    return directory


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("Hello {name}", "must start with a 'Subject: ...' line"),
        ("Subject: Hi\nHello", "must start with a 'Subject: ...' line"),
        ("Subject: Hi\n\nHello {name", "literal brace"),
        ("Subject: Hi\n\nHello }", "literal brace"),
        ("Subject: Hi\n\nHello {user.name}", r"placeholders are \{name\} only"),
        ("Subject: Hi\n\nHello {name!r}", r"placeholders are \{name\} only"),
        ("Subject: Hi\n\nHello {0}", r"placeholders are \{name\} only"),
        ("Subject: Hi\n\n[unused]: {name}\n\nHello", "Markdown dropped name"),
        ("Subject: Hi\n\nHello <{name}>", r"\{name\} is inside an HTML tag"),
        ("Subject: Hi\n\n<a href={name}>Hello</a>", r"\{name\} is inside an HTML tag"),
    ],
)
def test_malformed_templates_are_errors(tmp_path, source, problem):
    write(tmp_path, note=source)
    with pytest.raises(TemplateError, match=problem):
        render_email("note", {"name": "Ada", "app_name": "Acme"}, tmp_path)


def test_the_layout_needs_exactly_one_content_placeholder(tmp_path):
    write(tmp_path, layout="no body here\n", note="Subject: Hi\n\nHello")
    with pytest.raises(TemplateError, match="exactly once"):
        render_email("note", {}, tmp_path)


def test_doubled_braces_are_literal_braces(tmp_path):
    write(tmp_path, note="Subject: {{Hi}} {name}\n\nUse `{{name}}` for {name}.")
    rendered = render_email("note", {"name": "Ada", "app_name": "Acme"}, tmp_path)
    assert rendered.subject == "{Hi} Ada"
    assert "Use `{name}` for Ada." in rendered.text
    assert "<code>{name}</code> for Ada." in rendered.html
