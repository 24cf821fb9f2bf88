"""Markdown to HTML for blog posts, on the server: heading ids and a table of contents,
tables, task lists, footnotes, admonitions, and code highlighted with Pygments.

The colours for highlighted code live in `static/code.css`; the HTML carries only class
names, because the Content-Security-Policy forbids inline styles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import mistune
from mistune.directives import Admonition, FencedDirective
from mistune.util import escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

TOC_LEVELS = range(2, 4)  # the page title is the h1; list h2 and h3
WORDS_PER_MINUTE = 230
PLUGINS = ("table", "footnotes", "task_lists", "strikethrough", "url")
EXTERNAL = re.compile(r"(https?:)?//", re.IGNORECASE)


@dataclass(frozen=True)
class Heading:
    level: int
    id: str
    text: str


@dataclass(frozen=True)
class Rendered:
    html: str
    toc: tuple[Heading, ...]
    summary: str  # the first paragraph as plain text: a description when none is given
    reading_minutes: int


class BlogRenderer(mistune.HTMLRenderer):
    """HTML renderer with server-side highlighting and marked external links."""

    def __init__(self) -> None:
        # Raw HTML in a post is shown as text: the CSP would block most of it anyway, and
        # a post copied from elsewhere cannot smuggle markup into the site.
        super().__init__(escape=True)
        self.formatter = HtmlFormatter(cssclass="highlight")

    def block_code(self, code: str, info: str | None = None) -> str:
        words = (info or "").split()
        try:
            lexer = get_lexer_by_name(words[0]) if words else None
        except ClassNotFound:
            lexer = None
        if lexer is None:
            return f"<pre><code>{escape(code)}</code></pre>\n"
        return highlight(code, lexer, self.formatter)

    def table_cell(self, text: str, align: str | None = None, head: bool = False) -> str:
        # mistune aligns cells with a style attribute, which the CSP would block.
        tag = "th" if head else "td"
        cls = f' class="align-{align}"' if align in ("left", "center", "right") else ""
        return f"  <{tag}{cls}>{text}</{tag}>\n"

    def link(self, text: str, url: str, title: str | None = None) -> str:
        html = super().link(text, url, title)
        if EXTERNAL.match(url):
            # Another site should get no handle on this window, whatever target it is given.
            html = html.replace("<a ", '<a rel="noopener" ', 1)
        return html


def render_markdown(source: str) -> Rendered:
    """Render Markdown to HTML, with the table of contents, a summary and reading time."""
    # A fresh parser per call: building one costs far less than parsing a post, and no
    # parser or renderer state is ever shared between threads.
    md = mistune.create_markdown(
        renderer=BlogRenderer(),
        plugins=[*PLUGINS, FencedDirective([Admonition()])],
    )
    md.before_render_hooks.append(_assign_heading_ids)
    html, state = md.parse(source)
    headings = [t for t in state.tokens if t["type"] == "heading"]
    toc = tuple(
        Heading(t["attrs"]["level"], t["attrs"]["id"], _plain_text(t["children"]))
        for t in headings
        if t["attrs"]["level"] in TOC_LEVELS
    )
    first = next((t for t in state.tokens if t["type"] == "paragraph"), None)
    words = len(re.findall(r"\w+", source))
    return Rendered(
        html=str(html),
        toc=toc,
        summary=_plain_text(first["children"]) if first else "",
        reading_minutes=max(1, round(words / WORDS_PER_MINUTE)),
    )


def slugify(text: str) -> str:
    """`"Deploy to Fly.io!"` -> `"deploy-to-fly-io"`: lower case words joined by dashes."""
    return "-".join(re.findall(r"[^\W_]+", text.lower()))


def _assign_heading_ids(md: mistune.Markdown, state: Any) -> None:
    """Give every top-level heading a readable id, unique within the post."""
    used: set[str] = set()
    for token in state.tokens:
        if token["type"] != "heading":
            continue
        base = slugify(token["text"]) or "section"
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}-{n}"
        used.add(candidate)
        token["attrs"]["id"] = candidate


def _plain_text(tokens: list[dict[str, Any]]) -> str:
    parts = []
    for token in tokens:
        if "raw" in token:
            parts.append(token["raw"])
        elif token["type"] in ("softbreak", "linebreak"):
            parts.append(" ")
        elif "children" in token:
            parts.append(_plain_text(token["children"]))
    return " ".join("".join(parts).split())
