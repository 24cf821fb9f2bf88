"""The blog and what search engines read: /blog, tag pages, posts, sitemap, feed, robots.txt.

Posts come from Markdown files in BLOG_DIR (see app/lib/blog.py); everything here is public.
The part of a page that is the same for every visitor is rendered once per change of the
blog (`Published.memo`); a request only adds the layout around it (navigation, CSRF token).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from fasthtml.common import (
    H1,
    H2,
    A,
    APIRouter,
    Article,
    Details,
    Div,
    Header,
    Li,
    Link,
    Nav,
    NotStr,
    Ol,
    P,
    Section,
    Small,
    Span,
    Summary,
    Time,
    Ul,
    to_xml,
)
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from app.lib.blog import Blog, Post, Published, Tag
from app.lib.markdown import Heading, slugify
from app.ui.layout import APP_NAME, Page
from app.ui.seo import (
    ArticleInfo,
    FeedItem,
    FeedLink,
    JsonLd,
    PageHead,
    SitemapEntry,
    absolute_url,
    blog_posting,
    robots_txt,
    rss_xml,
    sitemap_xml,
)

rt = APIRouter()

BLOG_TITLE = f"{APP_NAME} blog"
BLOG_DESCRIPTION = "How this FastHTML SaaS starter works, and how to build and ship with it."
POSTS_PER_PAGE = 10
FEED_SIZE = 20
STYLES = (
    Link(rel="stylesheet", href="/static/blog.css"),
    Link(rel="stylesheet", href="/static/code.css"),
)


def site_blog(app: Starlette) -> Blog:
    """The app's blog, made and first parsed by the app factory (so bad posts log at startup)."""
    return app.state.blog


@dataclass(frozen=True)
class View:
    """A blog page without the site layout: the same for every visitor until a post changes."""

    title: str
    description: str
    body: NotStr  # rendered once, like the head tags
    head: tuple[NotStr, ...]


def BlogPage(req: Request, view: View):
    return Page(req, view.title, view.body, description=view.description, head=view.head)


# Components


def Date(moment: datetime):
    return Time(f"{moment.day} {moment:%B %Y}", datetime=moment.date().isoformat())


def PostMeta(post: Post):
    parts = [Date(post.date)]
    if post.author:
        parts.append(Span(post.author))
    parts.append(Span(f"{post.reading_minutes} min read"))
    if post.updated and post.updated.date() != post.date.date():
        parts.append(Span("updated ", Date(post.updated)))
    return P(*parts, cls="post-meta")


def TagLinks(tags: tuple[Tag, ...]):
    if not tags:
        return ""
    return Ul(*[Li(A(tag.name, href=f"/blog/tag/{tag.slug}")) for tag in tags], cls="tags")


def PostCard(post: Post):
    return Article(
        Header(H2(A(post.title, href=f"/blog/{post.slug}")), PostMeta(post)),
        P(post.description),
        TagLinks(post.tags),
        cls="post-card",
    )


def Pagination(page: int, pages: int, path: str):
    if pages <= 1:
        return ""
    newer = A("← Newer", href=_page_path(path, page - 1)) if page > 1 else Span()
    older = A("Older →", href=_page_path(path, page + 1)) if page < pages else Span()
    return Nav(newer, Small(f"Page {page} of {pages}"), older, cls="pagination", aria_label="Pages")


def TagCloud(tags: list[tuple[Tag, int]]):
    if not tags:
        return ""
    links = [Li(A(tag.name, Small(f" {n}"), href=f"/blog/tag/{tag.slug}")) for tag, n in tags]
    return Nav(Ul(*links, cls="tags"), aria_label="Tags")


def TableOfContents(toc: tuple[Heading, ...]):
    if len(toc) < 2:
        return ""
    items = [Li(A(h.text, href=f"#{h.id}"), cls=f"toc-level-{h.level}") for h in toc]
    return Details(
        Summary("Contents"), Nav(Ul(*items), aria_label="Contents"), cls="toc", open=True
    )


def SeriesNav(post: Post, series: list[Post]):
    if len(series) < 2:
        return ""
    items = [
        Li(Span(p.title, aria_current="page") if p == post else A(p.title, href=f"/blog/{p.slug}"))
        for p in series
    ]
    return Nav(Small(f"Series: {post.series}"), Ol(*items), cls="series", aria_label="Series")


def PostNav(newer: Post | None, older: Post | None):
    if not (newer or older):
        return ""
    return Nav(
        A("← ", older.title, href=f"/blog/{older.slug}", rel="prev") if older else Span(),
        A(newer.title, " →", href=f"/blog/{newer.slug}", rel="next") if newer else Span(),
        cls="post-nav",
        aria_label="More posts",
    )


def RelatedPosts(posts: list[Post]):
    if not posts:
        return ""
    return Section(
        H2("Related"),
        Ul(*[Li(A(p.title, href=f"/blog/{p.slug}"), " ", Small(Date(p.date))) for p in posts]),
        cls="related",
    )


# Views: built from the published posts alone, so `Published.memo` can keep them.


def post_view(published: Published, post: Post, base_url: str) -> View:
    url = absolute_url(base_url, f"/blog/{post.slug}")
    image = absolute_url(base_url, post.image) if post.image else ""
    info = ArticleInfo(post.date, post.modified, post.author, tuple(t.name for t in post.tags))
    body = (
        Article(
            Header(H1(post.title), PostMeta(post), TagLinks(post.tags)),
            SeriesNav(post, published.series(post)),
            TableOfContents(post.toc),
            Div(NotStr(post.html), cls="post-body"),
            cls="post",
        ),
        PostNav(published.newer(post), published.older(post)),
        RelatedPosts(published.related(post)),
    )
    head = (
        *STYLES,
        FeedLink("/rss.xml", BLOG_TITLE),
        *PageHead(post.title, post.description, url, site_name=APP_NAME, image=image, article=info),
        JsonLd(
            blog_posting(post.title, post.description, url, info, site_name=APP_NAME, image=image)
        ),
    )
    return View(post.title, post.description, NotStr(to_xml(body)), (NotStr(to_xml(head)),))


def listing_view(published: Published, tag: Tag | None, page: int, base_url: str) -> View:
    """One page of posts, newest first: the blog index, or the posts with one tag."""
    posts = published.tagged(tag.slug) if tag else published.posts
    pages = _page_count(posts)
    path = f"/blog/tag/{tag.slug}" if tag else "/blog"
    title = f"Posts tagged {tag.name}" if tag else "Blog"
    heading = H1("Posts tagged ", Span(tag.name, cls="tag")) if tag else H1("Blog")
    intro = (
        P(A("All posts", href="/blog"))
        if tag
        else Div(P(BLOG_DESCRIPTION), TagCloud(published.tags()))
    )
    if page > 1:
        title = f"{title}, page {page}"
    description = BLOG_DESCRIPTION if page == 1 else f"{BLOG_DESCRIPTION} Page {page}."
    shown = posts[(page - 1) * POSTS_PER_PAGE : page * POSTS_PER_PAGE]
    body = (
        Header(heading, intro, cls="blog-header"),
        *([PostCard(p) for p in shown] or [P("No posts yet.")]),
        Pagination(page, pages, path),
    )
    url = absolute_url(base_url, _page_path(path, page))
    head = (
        *STYLES,
        FeedLink("/rss.xml", BLOG_TITLE),
        *PageHead(title, description, url, site_name=APP_NAME),
    )
    return View(title, description, NotStr(to_xml(body)), (NotStr(to_xml(head)),))


def sitemap_document(published: Published, base_url: str) -> bytes:
    newest = published.posts[0].modified if published.posts else None
    entries = [
        SitemapEntry(absolute_url(base_url, "/")),
        SitemapEntry(absolute_url(base_url, "/blog"), newest),
        *[
            SitemapEntry(absolute_url(base_url, f"/blog/{p.slug}"), p.modified)
            for p in published.posts
        ],
    ]
    return sitemap_xml(entries)


def feed_document(published: Published, base_url: str) -> bytes:
    items = [
        FeedItem(
            title=p.title,
            url=absolute_url(base_url, f"/blog/{p.slug}"),
            summary=p.description,
            published=p.date,
            author=p.author,
            categories=tuple(t.name for t in p.tags),
            html=p.html,
        )
        for p in published.posts[:FEED_SIZE]
    ]
    return rss_xml(
        title=BLOG_TITLE,
        url=absolute_url(base_url, "/blog"),
        description=BLOG_DESCRIPTION,
        feed_url=absolute_url(base_url, "/rss.xml"),
        items=items,
    )


# Routes


@rt.get("/blog")
def blog_index(req: Request, page: str = "1", tag: str = ""):
    published, base_url = _published(req), _base_url(req)
    if tag:  # the filter has one address per tag: send ?tag= links there for good
        found = published.tag(slugify(tag))
        if found is None:
            raise HTTPException(404, "No post has that tag.")
        return RedirectResponse(f"/blog/tag/{found.slug}", status_code=301)
    number = _page_number(page, _page_count(published.posts))
    key = ("listing", None, number, base_url)
    return BlogPage(
        req, published.memo(key, lambda: listing_view(published, None, number, base_url))
    )


@rt.get("/blog/tag/{tag}")
def blog_tag(req: Request, tag: str, page: str = "1"):
    published, base_url = _published(req), _base_url(req)
    found = published.tag(tag)
    if found is None:
        raise HTTPException(404, "No post has that tag.")
    number = _page_number(page, _page_count(published.tagged(found.slug)))
    key = ("listing", found.slug, number, base_url)
    return BlogPage(
        req, published.memo(key, lambda: listing_view(published, found, number, base_url))
    )


@rt.get("/blog/{slug}")
def blog_post(req: Request, slug: str):
    published, base_url = _published(req), _base_url(req)
    post = published.get(slug)  # a dictionary lookup: the slug never becomes a file path
    if post is None:
        raise HTTPException(404, "There is no post at this address.")
    return BlogPage(
        req, published.memo(("post", slug, base_url), lambda: post_view(published, post, base_url))
    )


@rt.get("/sitemap.xml")
def sitemap(req: Request):
    published, base_url = _published(req), _base_url(req)
    xml = published.memo(("sitemap", base_url), lambda: sitemap_document(published, base_url))
    return Response(xml, media_type="application/xml")


@rt.get("/rss.xml")
def rss(req: Request):
    published, base_url = _published(req), _base_url(req)
    xml = published.memo(("rss", base_url), lambda: feed_document(published, base_url))
    return Response(xml, media_type="application/rss+xml; charset=utf-8")


@rt.get("/robots.txt")
def robots(req: Request):
    return PlainTextResponse(robots_txt(absolute_url(_base_url(req), "/sitemap.xml")))


def _published(req: Request) -> Published:
    return site_blog(req.app).published()


def _base_url(req: Request) -> str:
    # Links we hand out come from BASE_URL, never from the Host header the client chose.
    return req.app.state.settings.base_url


def _page_count(posts: tuple[Post, ...]) -> int:
    return max(1, -(-len(posts) // POSTS_PER_PAGE))  # ceiling division; page 1 even if empty


def _page_path(path: str, page: int) -> str:
    return path if page == 1 else f"{path}?page={page}"


def _page_number(raw: str, pages: int) -> int:
    """`?page=` as a number: text is a 400, a page that does not exist a 404."""
    if not re.fullmatch(r"[0-9]+", raw):
        raise HTTPException(400, "The page number must be a positive whole number.")
    if len(raw) > 9 or not 1 <= int(raw) <= pages:  # the length check keeps int() cheap
        raise HTTPException(404, "There is no such page.")
    return int(raw)
