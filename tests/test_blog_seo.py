"""app/ui/seo.py on its own: head tags, JSON-LD, and well-formed XML whatever the input."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

from bs4 import BeautifulSoup
from fasthtml.common import to_xml

from app.ui.seo import (
    ArticleInfo,
    FeedItem,
    JsonLd,
    PageHead,
    SiteHead,
    SitemapEntry,
    absolute_url,
    robots_txt,
    rss_xml,
    sitemap_xml,
)

WHEN = datetime(2025, 6, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))


def parse(*components) -> BeautifulSoup:
    return BeautifulSoup("".join(to_xml(c) for c in components), "html.parser")


def test_site_head_has_preview_tags_and_website_json_ld():
    head = parse(*SiteHead("https://acme.example", "Acme", "We make <things> & more"))
    assert head.find("link", rel="canonical")["href"] == "https://acme.example/"
    assert head.find("meta", property="og:type")["content"] == "website"
    assert head.find("meta", property="og:description")["content"] == "We make <things> & more"
    assert head.find("meta", attrs={"name": "twitter:card"})["content"] == "summary"
    data = json.loads(head.find("script", type="application/ld+json").string)
    assert data == {
        "@context": "https://schema.org",
        "@type": "WebSite",
        "name": "Acme",
        "description": "We make <things> & more",
        "url": "https://acme.example/",
    }
    with_image = parse(*SiteHead("https://acme.example", "Acme", "d", image="/static/og.png"))
    assert with_image.find("meta", property="og:image")["content"] == (
        "https://acme.example/static/og.png"
    )


def test_article_head_tags():
    info = ArticleInfo(WHEN, WHEN + timedelta(days=1), "Ada", ("Python", "Deploy"))
    head = parse(*PageHead("T", "D", "https://x.example/blog/t", site_name="X", article=info))
    assert head.find("meta", property="og:type")["content"] == "article"
    assert head.find("meta", property="article:published_time")["content"] == (
        "2025-06-01T07:30:00+00:00"
    )
    assert [m["content"] for m in head.find_all("meta", property="article:tag")] == [
        "Python",
        "Deploy",
    ]


def test_json_ld_cannot_close_its_script_element():
    hostile = {"name": "</script><script>alert(1)</script>", "amp": "a & b <!--"}
    html = to_xml(JsonLd(hostile))
    assert html.count("</script>") == 1 and "<!--" not in html
    assert json.loads(parse(JsonLd(hostile)).script.string) == hostile


def test_sitemap_xml():
    xml = sitemap_xml(
        [SitemapEntry("https://x.example/"), SitemapEntry("https://x.example/a?b=1&c=2", WHEN)]
    )
    root = ET.fromstring(xml)
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    assert root.tag == f"{ns}urlset"
    urls = root.findall(f"{ns}url")
    assert [u.findtext(f"{ns}loc") for u in urls] == [
        "https://x.example/",
        "https://x.example/a?b=1&c=2",
    ]
    assert urls[0].find(f"{ns}lastmod") is None
    assert urls[1].findtext(f"{ns}lastmod") == "2025-06-01T07:30:00+00:00"
    assert xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    # Issue 16 item 20: the sitemaps.org namespace is the default one, as in every example
    # of the protocol, not a generated prefix (`<ns0:urlset xmlns:ns0=...>`).
    assert b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>' in xml
    assert b"ns0" not in xml and b":url" not in xml


def test_a_sitemap_leaves_the_other_documents_namespaces_alone():
    sitemap_xml([SitemapEntry("https://x.example/")])
    feed = rss_xml(title="t", url="https://x.example/", description="d", feed_url="f", items=[])
    assert feed.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<rss ")
    assert b'xmlns:atom="http://www.w3.org/2005/Atom"' in feed and b"<atom:link" in feed


def test_rss_survives_characters_xml_forbids():
    item = FeedItem(
        "Bad \x01 title", "https://x.example/p", "sum\x0bmary", WHEN, html="<p>\x00</p>"
    )
    xml = rss_xml(title="T", url="https://x.example", description="D", feed_url="f", items=[item])
    parsed = ET.fromstring(xml).find("channel/item")
    assert parsed.findtext("title") == "Bad  title"
    assert parsed.findtext("pubDate") == "Sun, 01 Jun 2025 07:30:00 GMT"


def test_rss_last_build_date_is_the_newest_item():
    items = [
        FeedItem("old", "https://x.example/old", "", datetime(2024, 1, 1, tzinfo=UTC)),
        FeedItem("new", "https://x.example/new", "", datetime(2025, 1, 1, tzinfo=UTC)),
    ]
    xml = rss_xml(title="T", url="u", description="D", feed_url="f", items=items)
    assert ET.fromstring(xml).findtext("channel/lastBuildDate") == "Wed, 01 Jan 2025 00:00:00 GMT"


def test_absolute_url_and_robots():
    assert absolute_url("https://x.example", "/static/a.png") == "https://x.example/static/a.png"
    assert absolute_url("https://x.example/", "a.png") == "https://x.example/a.png"
    assert absolute_url("https://x.example", "https://cdn.example/a.png") == (
        "https://cdn.example/a.png"
    )
    assert robots_txt("https://x.example/sitemap.xml").splitlines() == [
        "User-agent: *",
        "Allow: /",
        "",
        "Sitemap: https://x.example/sitemap.xml",
    ]
