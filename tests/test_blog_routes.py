"""The blog and SEO routes through the real app: pages, feed, sitemap, robots, hostile input."""

from __future__ import annotations

import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from app.factory import create_app
from tests.test_blog import write

BASE = "https://blog.example"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
HOSTILE_TITLE = """Hello <script>alert("x")</script> & 'quotes' "too\""""
RFC_822 = re.compile(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT")


@pytest.fixture
def blog_dir(tmp_path) -> Path:
    directory = tmp_path / "blog"
    directory.mkdir()
    return directory


@pytest.fixture
def client(make_settings, blog_dir):
    app = create_app(make_settings(BLOG_DIR=str(blog_dir), BASE_URL=BASE))
    test_client = TestClient(app, base_url="http://localhost")
    yield test_client
    test_client.close()
    app.state.databases.dispose()
    app.state.catalog.dispose()


@pytest.fixture
def posts(blog_dir):
    """A small blog: two live posts, a draft and a scheduled one, all tagged `shared`."""
    write(blog_dir, "first.md", "## One\n\n## Two\n", title="First", date="2025-01-01",
          tags=["Shared", "Alpha"], author="Ada")  # fmt: skip
    write(blog_dir, "second.md", title="Second", date="2025-02-01", tags=["shared"])
    write(blog_dir, "secret-draft.md", title="Secret draft", date="2025-01-15",
          tags=["shared", "drafty"], draft=True)  # fmt: skip
    write(blog_dir, "future.md", title="From the future", date="2999-01-01",
          tags=["shared", "futuristic"])  # fmt: skip


def soup(response) -> BeautifulSoup:
    assert response.status_code == 200, response.text
    return BeautifulSoup(response.text, "html.parser")


# Pages


def test_index_lists_posts_newest_first_with_tags(client, posts):
    page = soup(client.get("/blog"))
    titles = [a.text for a in page.select(".post-card h2 a")]
    assert titles == ["Second", "First"]
    assert page.select_one('a[href="/blog/tag/alpha"]') is not None


def test_post_page_has_meta_toc_navigation_and_related(client, posts):
    page = soup(client.get("/blog/first"))
    assert page.select_one("h1").text == "First"
    meta = page.select_one(".post-meta").text
    assert "1 January 2025" in meta and "Ada" in meta and "min read" in meta
    toc_targets = [a["href"][1:] for a in page.select(".toc a")]
    heading_ids = [h["id"] for h in page.select(".post-body h2")]
    assert toc_targets == heading_ids == ["one", "two"]
    assert page.select_one('.post-nav a[rel="next"]')["href"] == "/blog/second"
    assert [a["href"] for a in page.select(".related a")] == ["/blog/second"]


def test_pagination(client, blog_dir):
    for i in range(23):
        write(blog_dir, f"p{i:02d}.md", title=f"Post {i:02d}", date=f"2025-01-{i + 1:02d}")
    first = soup(client.get("/blog"))
    assert len(first.select(".post-card")) == 10
    assert first.select_one('.pagination a[href="/blog?page=2"]') is not None
    third = soup(client.get("/blog?page=3"))
    assert [a.text for a in third.select(".post-card h2 a")] == ["Post 02", "Post 01", "Post 00"]
    assert third.select_one('link[rel="canonical"]')["href"] == f"{BASE}/blog?page=3"
    assert client.get("/blog?page=4").status_code == 404


@pytest.mark.parametrize(
    ("query", "status"),
    [("abc", 400), ("-1", 400), ("1.5", 400), ("", 400), ("0", 404), ("2", 404),
     ("9" * 30, 404), ("9" * 5000, 404), ("%00", 400), ("\u0661", 400)],
)  # fmt: skip
def test_hostile_page_numbers_get_a_clean_4xx(client, posts, query, status):
    for path in ("/blog", "/blog/tag/shared"):
        response = client.get(f"{path}?page={query}")
        assert response.status_code == status
        assert "Traceback" not in response.text


def test_tag_pages_and_the_tag_filter(client, posts):
    page = soup(client.get("/blog/tag/shared"))
    assert [a.text for a in page.select(".post-card h2 a")] == ["Second", "First"]
    redirect = client.get("/blog?tag=Shared", follow_redirects=False)
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "/blog/tag/shared"
    for tag in ("nope", "<script>", "..%2F..%2Fetc", "drafty", "futuristic"):
        response = client.get(f"/blog/tag/{tag}")
        assert response.status_code == 404
        assert "<script>" not in response.text
    assert client.get("/blog?tag=drafty", follow_redirects=False).status_code == 404


def test_unknown_slugs_are_404(client, posts):
    for slug in ("nope", "FIRST", "first.md", "%3Cscript%3E", "a" * 5000):
        assert client.get(f"/blog/{slug}").status_code == 404


# Drafts and scheduled posts


def test_drafts_and_future_posts_are_hidden_everywhere(client, posts):
    assert client.get("/blog/secret-draft").status_code == 404
    assert client.get("/blog/future").status_code == 404
    for path in ("/blog", "/blog/tag/shared", "/blog/first", "/blog/second", "/rss.xml",
                 "/sitemap.xml"):  # fmt: skip
        body = client.get(path).text
        assert "Secret draft" not in body and "secret-draft" not in body, path
        assert "From the future" not in body and "/blog/future" not in body, path
        assert "drafty" not in body and "futuristic" not in body, path


# The file cache, through the app


def test_an_added_or_edited_post_shows_without_a_restart(client, blog_dir, posts):
    assert client.get("/blog/fresh").status_code == 404
    path = write(blog_dir, "fresh.md", title="Fresh", date="2025-12-01", tags=["shared"])
    assert soup(client.get("/blog/fresh")).select_one("h1").text == "Fresh"
    assert soup(client.get("/blog")).select_one(".post-card h2 a").text == "Fresh"
    assert "Fresh" in client.get("/blog/tag/shared").text
    newer = soup(client.get("/blog/second")).select_one('.post-nav a[rel="next"]')
    assert newer["href"] == "/blog/fresh"
    write(blog_dir, "fresh.md", title="Fresh, edited", date="2025-12-01")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert soup(client.get("/blog/fresh")).select_one("h1").text == "Fresh, edited"
    assert "Fresh, edited" in client.get("/rss.xml").text


# SEO


def test_meta_tags_and_json_ld_are_escaped(client, blog_dir):
    write(blog_dir, "hostile.md", title=HOSTILE_TITLE, description=HOSTILE_TITLE,
          author='</script><b>"', image="/static/a b.png")  # fmt: skip
    response = client.get("/blog/hostile")
    assert "<script>alert" not in response.text
    assert "</script><b>" not in response.text
    page = soup(response)
    assert page.title.text.startswith(HOSTILE_TITLE)
    assert page.find("meta", attrs={"name": "description"})["content"] == HOSTILE_TITLE
    assert page.find("meta", property="og:title")["content"] == HOSTILE_TITLE
    assert page.find("meta", attrs={"name": "twitter:title"})["content"] == HOSTILE_TITLE
    assert page.find("meta", attrs={"name": "author"})["content"] == '</script><b>"'
    (ld,) = page.find_all("script", type="application/ld+json")
    data = json.loads(ld.string)
    assert data["@type"] == "BlogPosting"
    assert data["headline"] == HOSTILE_TITLE
    assert data["author"] == {"@type": "Person", "name": '</script><b>"'}
    assert data["mainEntityOfPage"]["@id"] == f"{BASE}/blog/hostile"


def test_post_head_has_canonical_open_graph_and_twitter_tags(client, posts, blog_dir):
    write(blog_dir, "pic.md", title="Pic", image="/static/pic.png", date="2025-03-01")
    page = soup(client.get("/blog/pic", headers={"host": "evil.example"}))
    canonical = page.find_all("link", rel="canonical")
    assert [c["href"] for c in canonical] == [f"{BASE}/blog/pic"]  # BASE_URL, not Host
    og = {m["property"]: m["content"] for m in page.find_all("meta", property=True)}
    assert og["og:type"] == "article"
    assert og["og:url"] == f"{BASE}/blog/pic"
    assert og["og:image"] == f"{BASE}/static/pic.png"
    assert og["article:published_time"] == "2025-03-01T00:00:00+00:00"
    assert page.find("meta", attrs={"name": "twitter:card"})["content"] == "summary_large_image"
    assert page.find("link", rel="alternate", type="application/rss+xml")["href"] == "/rss.xml"
    assert page.find("link", rel="stylesheet", href="/static/code.css") is not None


def test_blog_pages_keep_to_the_content_security_policy(client, posts, blog_dir):
    write(blog_dir, "rich.md", "| a |\n|:-:|\n| b |\n\n```python\nx = 1\n```\n", title="Rich")
    for path in ("/blog", "/blog/rich", "/blog/tag/shared"):
        page = soup(client.get(path))
        assert not page.select("[style]"), path
        for script in page.find_all("script"):
            assert script.get("src") or script.get("type") == "application/ld+json", path


def test_rss_feed_is_valid_rss_2(client, blog_dir):
    for i in range(25):
        write(blog_dir, f"p{i:02d}.md", f"Body {i} & <more>.", title=f"Post {i} <&>",
              date=f"2025-01-{i + 1:02d}", tags=["t"], author="Ada")  # fmt: skip
    response = client.get("/rss.xml")
    assert response.headers["content-type"].startswith("application/rss+xml")
    rss = ET.fromstring(response.content)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    for required in ("title", "link", "description"):
        assert channel.findtext(required)
    self_link = channel.find("{http://www.w3.org/2005/Atom}link")
    assert self_link.get("href") == f"{BASE}/rss.xml" and self_link.get("rel") == "self"
    items = channel.findall("item")
    assert len(items) == 20
    assert items[0].findtext("title") == "Post 24 <&>"
    for item in items:
        link = item.findtext("link")
        assert link.startswith(f"{BASE}/blog/p")
        assert item.findtext("guid") == link
        assert RFC_822.fullmatch(item.findtext("pubDate"))
        assert parsedate_to_datetime(item.findtext("pubDate")).tzinfo is not None
        assert item.findtext("{http://purl.org/dc/elements/1.1/}creator") == "Ada"
    full_text = items[0].findtext("{http://purl.org/rss/1.0/modules/content/}encoded")
    assert full_text == "<p>Body 24 &amp; &lt;more&gt;.</p>\n"  # HTML, as text in the XML
    dates = [parsedate_to_datetime(i.findtext("pubDate")) for i in items]
    assert dates == sorted(dates, reverse=True)


def test_sitemap_lists_landing_blog_and_posts_with_lastmod(client, posts, blog_dir):
    write(blog_dir, "edited.md", title="Edited", date="2025-03-01", updated="2025-03-09")
    response = client.get("/sitemap.xml")
    assert response.headers["content-type"].startswith("application/xml")
    urlset = ET.fromstring(response.content)
    assert urlset.tag == f"{SITEMAP}urlset"
    entries = {
        u.findtext(f"{SITEMAP}loc"): u.findtext(f"{SITEMAP}lastmod")
        for u in urlset.findall(f"{SITEMAP}url")
    }
    assert set(entries) == {
        f"{BASE}/",
        f"{BASE}/blog",
        f"{BASE}/blog/first",
        f"{BASE}/blog/second",
        f"{BASE}/blog/edited",
    }
    assert entries[f"{BASE}/blog/edited"] == "2025-03-09T00:00:00+00:00"
    assert entries[f"{BASE}/blog"] == "2025-03-09T00:00:00+00:00"
    for child in urlset.iter():
        assert child.tag.startswith(SITEMAP)  # nothing outside the sitemaps.org namespace


def test_robots_txt_points_at_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response.headers["content-type"].startswith("text/plain")
    assert f"Sitemap: {BASE}/sitemap.xml" in response.text.splitlines()


def test_empty_blog_still_serves_everything(client):
    assert "No posts yet" in client.get("/blog").text
    assert ET.fromstring(client.get("/rss.xml").content).find("channel/item") is None
    assert len(ET.fromstring(client.get("/sitemap.xml").content)) == 2


def test_blog_routes_need_no_sign_in(client, posts):
    for path in ("/blog", "/blog/first", "/blog/tag/shared", "/rss.xml", "/sitemap.xml",
                 "/robots.txt"):  # fmt: skip
        assert client.get(path, follow_redirects=False).status_code == 200, path


# Path traversal


_opened: list[str] | None = None


def _record_opens(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | bytes | Path):
        _opened.append(os.fsdecode(args[0]))


sys.addaudithook(_record_opens)  # audit hooks cannot be removed; it records only when asked


@pytest.mark.parametrize(
    "slug",
    ["../secret", "..%2Fsecret", "%2e%2e%2fsecret", "..%252Fsecret", "%2E%2E/secret",
     "..\\secret", "..%5Csecret", "....//secret", "%2e%2e", "secret%00", "/etc/passwd"],
)  # fmt: skip
def test_path_traversal_gets_404_and_opens_no_file(client, posts, blog_dir, slug):
    global _opened
    write(blog_dir.parent, "secret.md", title="Top secret")
    assert client.get("/blog").status_code == 200  # load the blog before recording
    _opened = []
    try:
        response = client.get(f"/blog/{slug}")
    finally:
        opened, _opened = _opened, None
    # A NUL never reaches a route: the edge refuses control characters in any path (400).
    assert response.status_code == (400 if "%00" in slug else 404)
    assert "Top secret" not in response.text
    blog_root = blog_dir.resolve()
    assert [p for p in opened if not Path(p).resolve().is_relative_to(blog_root)] == []


def test_the_open_recorder_sees_the_blog_read_a_post(client, posts, blog_dir):
    """The check above is only worth something if reading a post is seen."""
    global _opened
    assert client.get("/blog").status_code == 200
    write(blog_dir, "new.md", title="New")
    _opened = []
    try:
        assert client.get("/blog/new").status_code == 200
    finally:
        opened, _opened = _opened, None
    assert str(blog_dir / "new.md") in opened
