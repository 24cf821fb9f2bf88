"""What search engines and link previews read: head tags, JSON-LD, sitemap, RSS, robots.txt.

Head tags come back as FastHTML components; `app.ui.layout.Page` already writes <title>
and the description meta tag, so these are everything else. XML is built with ElementTree,
so the XML library escapes every value; nothing here pastes strings into markup.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, NamedTuple

from fasthtml.common import Link, Meta, Script

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
for _prefix, _uri in (("atom", ATOM_NS), ("dc", DC_NS), ("content", CONTENT_NS)):
    ET.register_namespace(_prefix, _uri)

# Characters XML 1.0 forbids. ElementTree writes them as they are, which makes the whole
# document unreadable to a strict parser, so they are dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class ArticleInfo:
    """What makes a page an article for OpenGraph and schema.org."""

    published: datetime
    modified: datetime
    author: str = ""
    tags: tuple[str, ...] = ()


class SitemapEntry(NamedTuple):
    url: str
    lastmod: datetime | None = None


class FeedItem(NamedTuple):
    title: str
    url: str
    summary: str
    published: datetime
    author: str = ""
    categories: tuple[str, ...] = ()
    html: str = ""  # the full post, for readers that show it in place


def absolute_url(base_url: str, path_or_url: str) -> str:
    """`/static/a.png` -> `https://example.com/static/a.png`; full URLs stay as they are."""
    if re.match(r"https?://", path_or_url):
        return path_or_url
    return base_url.rstrip("/") + "/" + path_or_url.lstrip("/")


def PageHead(
    title: str,
    description: str,
    url: str,
    *,
    site_name: str,
    image: str = "",
    article: ArticleInfo | None = None,
) -> tuple:
    """Canonical link, OpenGraph and Twitter card tags. `url` and `image` are absolute."""
    tags = [
        Link(rel="canonical", href=url),
        Meta(property="og:type", content="article" if article else "website"),
        Meta(property="og:site_name", content=site_name),
        Meta(property="og:title", content=title),
        Meta(property="og:description", content=description),
        Meta(property="og:url", content=url),
        Meta(name="twitter:card", content="summary_large_image" if image else "summary"),
        Meta(name="twitter:title", content=title),
        Meta(name="twitter:description", content=description),
    ]
    if image:
        tags += [
            Meta(property="og:image", content=image),
            Meta(name="twitter:image", content=image),
        ]
    if article:
        tags += [
            Meta(property="article:published_time", content=_iso(article.published)),
            Meta(property="article:modified_time", content=_iso(article.modified)),
            *[Meta(property="article:tag", content=tag) for tag in article.tags],
        ]
        if article.author:
            tags.append(Meta(name="author", content=article.author))
    return tuple(tags)


def FeedLink(url: str, title: str):
    """Lets browsers and feed readers find the RSS feed from any page that has it."""
    return Link(rel="alternate", type="application/rss+xml", href=url, title=title)


def JsonLd(data: dict[str, Any]):
    """Structured data for search engines: a JSON data block, which the CSP allows."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # A title containing "</script>" must not end the block early: escape <, > and &,
    # which JSON reads back as the same characters.
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escaped)
    return Script(text, type="application/ld+json")


def blog_posting(
    title: str, description: str, url: str, article: ArticleInfo, *, site_name: str, image: str = ""
) -> dict[str, Any]:
    """schema.org `BlogPosting` for one post."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": title,
        "description": description,
        "url": url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "datePublished": _iso(article.published),
        "dateModified": _iso(article.modified),
        "publisher": {"@type": "Organization", "name": site_name},
    }
    if article.author:
        data["author"] = {"@type": "Person", "name": article.author}
    if article.tags:
        data["keywords"] = list(article.tags)
    if image:
        data["image"] = image
    return data


def SiteHead(base_url: str, name: str, description: str, *, image: str = "") -> tuple:
    """Head tags for the landing page: link previews plus schema.org `WebSite` data."""
    url = absolute_url(base_url, "/")
    website = {
        "@context": "https://schema.org",
        "@type": "WebSite",
        "name": name,
        "description": description,
        "url": url,
    }
    image_url = absolute_url(base_url, image) if image else ""
    return (*PageHead(name, description, url, site_name=name, image=image_url), JsonLd(website))


def sitemap_xml(entries: Iterable[SitemapEntry]) -> bytes:
    """A sitemaps.org `urlset`, its namespace the default one (`<urlset xmlns=...>`)."""
    urlset = ET.Element(f"{{{SITEMAP_NS}}}urlset")
    for entry in entries:
        url = ET.SubElement(urlset, f"{{{SITEMAP_NS}}}url")
        _child(url, f"{{{SITEMAP_NS}}}loc", entry.url)
        if entry.lastmod:
            _child(url, f"{{{SITEMAP_NS}}}lastmod", _iso(entry.lastmod))
    return _document(urlset, default_namespace=SITEMAP_NS)


def rss_xml(
    *, title: str, url: str, description: str, feed_url: str, items: Iterable[FeedItem]
) -> bytes:
    """An RSS 2.0 feed; `url` is the site (or blog) page, `feed_url` where this feed lives."""
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    _child(channel, "title", title)
    _child(channel, "link", url)
    _child(channel, "description", description)
    ET.SubElement(
        channel, f"{{{ATOM_NS}}}link", href=feed_url, rel="self", type="application/rss+xml"
    )
    items = list(items)
    if items:
        _child(channel, "lastBuildDate", _rfc822(max(i.published for i in items)))
    for item in items:
        element = ET.SubElement(channel, "item")
        _child(element, "title", item.title)
        _child(element, "link", item.url)
        _child(element, "guid", item.url, isPermaLink="true")
        _child(element, "pubDate", _rfc822(item.published))
        _child(element, "description", item.summary)
        if item.author:  # RSS's own <author> must be an email address; dc:creator is a name
            _child(element, f"{{{DC_NS}}}creator", item.author)
        for category in item.categories:
            _child(element, "category", category)
        if item.html:
            _child(element, f"{{{CONTENT_NS}}}encoded", item.html)
    return _document(rss)


def robots_txt(sitemap_url: str) -> str:
    return f"User-agent: *\nAllow: /\n\nSitemap: {sitemap_url}\n"


def _child(parent: ET.Element, tag: str, text: str, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    element.text = _NOT_XML.sub("", text)
    return element


def _document(root: ET.Element, default_namespace: str | None = None) -> bytes:
    return ET.tostring(
        root, encoding="utf-8", xml_declaration=True, default_namespace=default_namespace
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)
