"""Email templates: Markdown files in `templates/`, rendered to a subject, a plain-text part
and an HTML part.

A template is an email in miniature: a `Subject:` line, a blank line, then the Markdown body.
Placeholders are `{name}`, as in markdown-merge (`{{` and `}}` are literal braces). Every
template is poured into `templates/layout.md` at its `{content}` placeholder.

The plain-text part is the filled-in Markdown, as markdown-merge sends it. The HTML part is
NOT made by filling in the Markdown and converting it (markdown-merge's way), because a value
would then be read as Markdown and HTML: a tenant named `<script>` would become a tag. Instead
each placeholder becomes an inert token, the Markdown is converted, and each token is replaced
by its value, HTML-escaped. Values are text in every part, whatever they contain.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Formatter

from markdown import markdown  # the converter markdown-merge uses, so the HTML matches it

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
LAYOUT = "layout"
CONTENT = "content"  # the layout's placeholder for the template's body
TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

# Literal text, then the placeholder that follows it (None after the last piece of text).
Segment = tuple[str, str | None]


class TemplateError(ValueError):
    """A template is missing or malformed, or the variables given do not fit it."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Template:
    name: str
    subject: tuple[Segment, ...]
    body: tuple[Segment, ...]  # the layout with this template's body at `{content}`

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(field for _, field in (*self.subject, *self.body) if field)


def render_email(
    name: str, variables: Mapping[str, str | int], templates_dir: Path = TEMPLATES_DIR
) -> RenderedEmail:
    """Render template `name` with `variables`.

    Raises `TemplateError` naming every missing or unexpected variable, so a mistake is
    caught before anything is sent.
    """
    template = load_template(name, templates_dir)
    values = _checked(template, variables)
    subject = _fill(template.subject, values)
    return RenderedEmail(
        subject=subject,
        text=_fill(template.body, values).strip() + "\n",
        html=_html(template, values, subject),
    )


def load_template(name: str, templates_dir: Path = TEMPLATES_DIR) -> Template:
    """Read and parse `<name>.md` inside the layout. Read on every call: edits show at once."""
    if not TEMPLATE_NAME.fullmatch(name) or name == LAYOUT:
        raise TemplateError(f"{name!r} is not an email template name")
    page = _read(templates_dir / f"{name}.md")
    first_line, blank, body = page.partition("\n\n")
    header, colon, subject = first_line.partition(":")
    if header.strip().lower() != "subject" or not colon or not blank:
        raise TemplateError(f"{name}.md must start with a 'Subject: ...' line and a blank line")
    layout = _segments(LAYOUT, _read(templates_dir / f"{LAYOUT}.md"))
    if [field for _, field in layout].count(CONTENT) != 1:
        raise TemplateError(f"{LAYOUT}.md must contain {{{CONTENT}}} exactly once")
    return Template(
        name=name,
        subject=_segments(name, subject.strip()),
        body=_compose(layout, _segments(name, body.strip())),
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"there is no email template {path.name} in {path.parent}") from None


def _segments(name: str, source: str) -> tuple[Segment, ...]:
    """Split `source` at its placeholders; anything but a plain `{identifier}` is an error."""
    try:
        parsed = list(Formatter().parse(source))
    except ValueError as exc:  # a lone { or }
        raise TemplateError(f"{name}.md: {exc} (write {{{{ or }}}} for a literal brace)") from None
    for _, field, spec, conversion in parsed:
        if field is not None and (not field.isidentifier() or spec or conversion):
            raise TemplateError(f"{name}.md: placeholders are {{name}} only, found {{{field}}}")
    return tuple((literal, field) for literal, field, _, _ in parsed)


def _compose(layout: tuple[Segment, ...], body: tuple[Segment, ...]) -> tuple[Segment, ...]:
    composed: list[Segment] = []
    for literal, field in layout:
        if field == CONTENT:
            composed += [(literal, None), *body]
        else:
            composed.append((literal, field))
    return tuple(composed)


def _checked(template: Template, variables: Mapping[str, str | int]) -> dict[str, str]:
    wanted, given = template.variables, set(variables)
    problems = []
    if missing := sorted(wanted - given):
        problems.append(f"missing {', '.join(missing)}")
    if unexpected := sorted(given - wanted):
        problems.append(f"unexpected {', '.join(unexpected)}")
    if wrong := sorted(k for k in wanted & given if not isinstance(variables[k], str | int)):
        problems.append(f"not text: {', '.join(wrong)}")
    if problems:
        raise TemplateError(f"email template {template.name!r}: {'; '.join(problems)}")
    # Values are one line of text: a newline in a name cannot restructure the message.
    return {k: " ".join(str(variables[k]).split()) for k in wanted}


def _fill(segments: tuple[Segment, ...], values: Mapping[str, str]) -> str:
    return "".join(literal + (values[field] if field else "") for literal, field in segments)


def _html(template: Template, values: Mapping[str, str], subject: str) -> str:
    # Tokens are letters and digits only, so Markdown passes them through untouched; the
    # random part means template text cannot collide with them.
    prefix = f"mm{secrets.token_hex(4)}v"
    names = sorted({field for _, field in template.body if field})
    tokens = {name: f"{prefix}{i}z" for i, name in enumerate(names)}
    converted = markdown(_fill(template.body, tokens))
    _check_placement(template.name, converted, prefix, names)
    seen: set[str] = set()

    def escaped_value(match: re.Match) -> str:
        name = names[int(match[1])]
        seen.add(name)
        return html.escape(values[name])

    body = re.sub(rf"{prefix}(\d+)z", escaped_value, converted)
    if lost := sorted(set(names) - seen):
        raise TemplateError(f"{template.name}.md: Markdown dropped {', '.join(lost)}")
    return HTML_DOCUMENT.format(title=html.escape(subject), body=body)


def _check_placement(name: str, converted: str, prefix: str, names: list[str]) -> None:
    """Escaping keeps a value inert in text and in a double-quoted attribute, which is all
    Markdown produces. Raw HTML in a template could put a placeholder elsewhere in a tag
    (`<a href={url}>`), where an escaped value could still add attributes: refuse that."""
    for tag in re.findall(r"<[^>]*>", converted):
        outside_quotes = re.sub(r'"[^"]*"', "", tag)
        if found := re.search(rf"{prefix}(\d+)z", outside_quotes):
            raise TemplateError(
                f"{name}.md: {{{names[int(found[1])]}}} is inside an HTML tag; "
                "put it in text or in a Markdown link"
            )


# Email clients ignore most of CSS and anything external, so the look is inline and small.
HTML_DOCUMENT = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body style="margin:0;padding:24px 12px;background:#f4f5f7;">
<div style="max-width:560px;margin:0 auto;padding:32px;background:#ffffff;border-radius:8px;\
font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;\
font-size:16px;line-height:1.55;color:#1f2328;">
{body}
</div>
</body>
</html>
"""
