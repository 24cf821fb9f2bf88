"""The blog engine without the web: front matter, rendering, visibility and the file cache."""

from __future__ import annotations

import itertools
import logging
import os
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from app.lib import blog as blog_module
from app.lib.blog import Blog, InvalidPost, parse_post
from app.lib.markdown import render_markdown, slugify

EXAMPLE_BLOG = Path(__file__).resolve().parent.parent / "blog"


def post_text(body: str = "Some text.", **front) -> str:
    front = {"title": "A post", "date": "2025-01-01", **front}
    return f"---\n{yaml.safe_dump(front)}---\n{body}\n"


def write(directory: Path, name: str, body: str = "Some text.", **front) -> Path:
    path = directory / name
    path.write_text(post_text(body, **front), encoding="utf-8")
    return path


# Front matter


def test_front_matter_fields_are_read():
    post = parse_post(
        post_text(
            "Body.",
            title="Deploying",
            date="2025-03-04",
            updated="2025-03-05T10:00:00+02:00",
            description="How to ship.",
            tags=["Deploy", "PostgreSQL"],
            categories="guides, deploy",
            author="Ada",
            series="Basics",
            image="/static/deploy.png",
            draft=True,
        ),
        "2025-deploying.md",
    )
    assert post.slug == "2025-deploying"
    assert post.title == "Deploying"
    assert post.date == datetime(2025, 3, 4, tzinfo=UTC)
    assert post.updated == datetime(2025, 3, 5, 8, tzinfo=UTC)
    assert post.modified == post.updated
    assert post.description == "How to ship."
    assert [(t.slug, t.name) for t in post.tags] == [
        ("deploy", "Deploy"),
        ("postgresql", "PostgreSQL"),
        ("guides", "guides"),
    ]
    assert (post.author, post.series, post.image, post.draft) == (
        "Ada",
        "Basics",
        "/static/deploy.png",
        True,
    )


def test_slug_comes_from_front_matter_or_file_name():
    assert parse_post(post_text(slug="chosen"), "file.md").slug == "chosen"
    assert parse_post(post_text(), "My First Post.md").slug == "my-first-post"


def test_yaml_dates_and_naive_times_become_utc():
    text = "---\ntitle: T\ndate: 2025-01-02\nupdated: 2025-01-03 10:30\n---\nx\n"
    post = parse_post(text, "t.md")
    assert post.date == datetime(2025, 1, 2, tzinfo=UTC)
    assert post.updated == datetime(2025, 1, 3, 10, 30, tzinfo=UTC)


def test_description_defaults_to_the_first_paragraph():
    body = "# Not this\n\nThe *first* paragraph, with [a link](/x).\n\nNot this one."
    assert parse_post(post_text(body), "p.md").description == "The first paragraph, with a link."
    long = parse_post(post_text("word " * 100), "p.md").description
    assert len(long) <= 160 and long.endswith("…")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (post_text(title=""), "title is missing"),
        ("---\ndate: 2025-01-01\n---\nno title\n", "title is missing"),
        ("no front matter at all\n", "title is missing"),
        ("---\ntitle: T\n---\nx\n", "date is missing"),
        (post_text(date="next tuesday"), "date must be a date"),
        ("---\ntitle: T\ndate: 2025-13-45\n---\nx\n", "not valid YAML"),
        ("---\ntitle: [unclosed\ndate: 2025-01-01\n---\n", "not valid YAML"),
        (post_text(draft="yes"), "draft must be true or false"),
        (post_text(slug="../etc/passwd"), "slug"),
        (post_text(tags={"a": 1}), "tags must be a list"),
        (post_text(tags=["!!!"]), "no letters or digits"),
        (post_text(image="javascript:alert(1)"), "image must be"),
        (post_text(title=["a", "list"]), "title must be text"),
    ],
)
def test_bad_front_matter_says_what_is_wrong(text, message):
    with pytest.raises(InvalidPost, match=re.escape(message)):
        parse_post(text, "bad.md")


def test_bad_files_are_reported_by_name_and_the_rest_still_load(tmp_path, caplog):
    write(tmp_path, "good.md", title="Good")
    write(tmp_path, "no-date.md", date=None)
    (tmp_path / "broken.md").write_text("---\ntitle: [oops\n---\n")
    (tmp_path / "latin1.md").write_bytes(b"---\ntitle: Caf\xe9\ndate: 2025-01-01\n---\n")
    write(tmp_path, "zz-copy.md", slug="good")
    with caplog.at_level(logging.WARNING, logger="app.lib.blog"):
        errors = Blog(tmp_path).refresh()
    bad = {"no-date.md", "broken.md", "latin1.md", "zz-copy.md"}
    assert {e.file for e in errors} == bad
    assert "already used by good.md" in next(str(e) for e in errors if e.file == "zz-copy.md")
    for name in bad:
        assert name in caplog.text
    assert [p.slug for p in Blog(tmp_path).published().posts] == ["good"]


def test_a_crash_while_rendering_costs_one_post(tmp_path, monkeypatch):
    write(tmp_path, "fine.md", title="Fine")
    write(tmp_path, "crash.md", title="Crash")
    real = blog_module.parse_post

    def parse(text: str, filename: str):
        if filename == "crash.md":
            raise RuntimeError("plugin bug")
        return real(text, filename)

    monkeypatch.setattr(blog_module, "parse_post", parse)
    blog = Blog(tmp_path)
    assert [str(e) for e in blog.refresh()] == [
        "crash.md: rendering failed: RuntimeError: plugin bug"
    ]
    assert [p.slug for p in blog.published().posts] == ["fine"]


def test_only_markdown_files_are_read(tmp_path):
    write(tmp_path, "post.md")
    write(tmp_path, ".hidden.md", title="Hidden")
    write(tmp_path, "notes.txt", title="Text")
    assert [p.title for p in Blog(tmp_path).published().posts] == ["A post"]


def test_a_missing_directory_is_an_empty_blog(tmp_path):
    assert Blog(tmp_path / "nope").published().posts == ()


# Visibility


def test_drafts_and_scheduled_posts_are_hidden(tmp_path):
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    write(tmp_path, "live.md", date="2025-05-01", tags=["x"])
    write(tmp_path, "draft.md", date="2025-05-02", draft=True, tags=["x"])
    write(tmp_path, "later.md", date="2025-06-01T13:00:00+00:00", tags=["x"])
    blog = Blog(tmp_path)
    published = blog.published(now)
    assert [p.slug for p in published.posts] == ["live"]
    assert published.get("draft") is None and published.get("later") is None
    assert [p.slug for p in published.tagged("x")] == ["live"]
    assert published.tags()[0][1] == 1
    later = blog.published(now + timedelta(hours=2))
    assert [p.slug for p in later.posts] == ["later", "live"]


# Navigation between posts


def test_neighbours_related_and_series(tmp_path):
    write(tmp_path, "a.md", date="2025-01-01", tags=["db", "ops"], series="S")
    write(tmp_path, "b.md", date="2025-01-02", tags=["db"], series="S")
    write(tmp_path, "c.md", date="2025-01-03", tags=["other"])
    write(tmp_path, "d.md", date="2025-01-04", tags=["db", "ops"])
    published = Blog(tmp_path).published()
    a, b, c, d = (published.get(s) for s in "abcd")
    assert [p.slug for p in published.posts] == ["d", "c", "b", "a"]
    assert published.newer(a) == b and published.older(a) is None
    assert published.newer(d) is None and published.older(d) == c
    assert published.related(a) == [d, b]  # two shared tags beat one
    assert published.related(c) == []
    assert published.series(b) == [a, b]
    assert published.series(c) == []


# Rendering


def test_toc_anchors_match_heading_ids():
    rendered = render_markdown(
        "## Install **uv**\n\ntext\n\n### Then run\n\n## Install uv\n\n#### Too deep\n"
    )
    ids = re.findall(r'<h[1-6] id="([^"]+)"', rendered.html)
    assert ids == ["install-uv", "then-run", "install-uv-2", "too-deep"]
    assert [(h.level, h.id, h.text) for h in rendered.toc] == [
        (2, "install-uv", "Install uv"),
        (3, "then-run", "Then run"),
        (2, "install-uv-2", "Install uv"),
    ]


def test_code_is_highlighted_on_the_server_with_classes_only():
    html = render_markdown('```python\ndef f():\n    return "<x>"\n```\n').html
    assert '<div class="highlight">' in html
    assert '<span class="k">def</span>' in html
    assert "&lt;x&gt;" in html and "<x>" not in html
    assert "style=" not in html
    plain = render_markdown("```no-such-language\n<b>\n```\n").html
    assert plain == "<pre><code>&lt;b&gt;\n</code></pre>\n"


def test_tables_footnotes_task_lists_and_admonitions():
    html = render_markdown(
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "Note[^n].\n\n[^n]: The footnote.\n\n"
        "- [x] done\n- [ ] todo\n\n"
        "```{warning} Careful\nHot.\n```\n"
    ).html
    assert '<th class="align-left">a</th>' in html and '<td class="align-right">2</td>' in html
    assert "style=" not in html  # the CSP would block inline styles
    assert 'href="#fn-1"' in html and '<li id="fn-1">' in html
    assert 'type="checkbox" disabled checked' in html
    assert '<section class="admonition warning">' in html and "Careful" in html


def test_external_links_get_noopener_and_unsafe_ones_are_defused():
    html = render_markdown(
        "[out](https://example.com) [in](/blog/x) [js](javascript:alert(1)) <https://a.b>\n"
    ).html
    assert '<a rel="noopener" href="https://example.com">out</a>' in html
    assert '<a href="/blog/x">in</a>' in html
    assert "javascript:" not in html
    assert '<a rel="noopener" href="https://a.b">' in html


def test_raw_html_in_a_post_is_shown_as_text():
    html = render_markdown('<script>alert(1)</script>\n\nhi <img src=x onerror="y">\n').html
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_reading_time_and_slugify():
    assert render_markdown("word " * 1000).reading_minutes == 4
    assert render_markdown("short").reading_minutes == 1
    assert slugify("Deploy to Fly.io!") == "deploy-to-fly-io"
    assert slugify("  ") == ""


def test_rendering_is_thread_safe():
    sources = [f"## Part {i}\n\n```python\nx = {i}\n```\n\n[^a]\n\n[^a]: n{i}\n" for i in range(8)]
    expected = [render_markdown(s) for s in sources]
    results: dict[int, list] = {i: [] for i in range(8)}

    def work(i: int) -> None:
        for _ in range(30):
            results[i].append(render_markdown(sources[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        assert all(r == expected[i] for r in results[i])


# The cache


def test_unchanged_blog_is_not_parsed_again(tmp_path, monkeypatch):
    for i in range(5):
        write(tmp_path, f"p{i}.md", title=f"Post {i}")
    calls = []
    real = blog_module.parse_post
    monkeypatch.setattr(blog_module, "parse_post", lambda *a: calls.append(a[1]) or real(*a))
    blog = Blog(tmp_path)
    first = blog.published()
    assert len(calls) == 5
    for _ in range(20):
        assert blog.published() is first
    assert len(calls) == 5


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_edited_added_and_removed_files_show_within_a_second(tmp_path, monkeypatch):
    calls = []
    real = blog_module.parse_post
    monkeypatch.setattr(blog_module, "parse_post", lambda *a: calls.append(a[1]) or real(*a))
    path = write(tmp_path, "post.md", title="Before")
    write(tmp_path, "other.md", title="Other", date="2024-01-01")
    clock = Clock()
    blog = Blog(tmp_path, clock=clock)
    assert blog.published().get("post").title == "Before"

    write(tmp_path, "post.md", title="After the edit")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    clock.now += 0.5
    assert blog.published().get("post").title == "Before"  # not looked at again yet
    clock.now += 0.6
    assert blog.published().get("post").title == "After the edit"
    assert calls == ["other.md", "post.md", "post.md"]  # only the edited file again

    write(tmp_path, "new.md", title="New")
    clock.now += 1.1
    assert blog.published().get("new").title == "New"
    (tmp_path / "post.md").unlink()
    clock.now += 1.1
    assert blog.published().get("post") is None


def test_the_directory_is_looked_at_once_a_second_at_most(tmp_path, monkeypatch):
    write(tmp_path, "post.md", title="A post")
    clock = Clock()
    blog = Blog(tmp_path, clock=clock)
    looks = []
    real = os.scandir
    monkeypatch.setattr(blog_module.os, "scandir", lambda d: looks.append(d) or real(d))
    for _ in range(50):
        blog.published()
        clock.now += 0.05
    assert len(looks) == 3  # at 0, 1.0 and 2.0 seconds: not once per read


def test_fixing_a_bad_file_clears_its_error(tmp_path):
    path = write(tmp_path, "p.md", date="whenever")
    blog = Blog(tmp_path)
    assert [e.file for e in blog.refresh()] == ["p.md"]
    write(tmp_path, "p.md", date="2025-01-01")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert blog.refresh() == []
    assert blog.published().get("p") is not None


def test_concurrent_readers_see_whole_states(tmp_path):
    for i in range(20):
        write(tmp_path, f"p{i}.md", title=f"P{i}", date=f"2025-01-{i + 1:02d}")
    blog = Blog(tmp_path, clock=itertools.count(start=1e12).__next__)  # every read looks
    seen, failures = set(), []

    def read() -> None:
        try:
            for _ in range(50):
                seen.add(len(blog.published().posts))
        except Exception as e:  # any exception in a reader thread is the failure
            failures.append(e)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    for i in range(20, 30):
        write(tmp_path, f"p{i}.md", title=f"P{i}", date=f"2025-02-{i - 19:02d}")
    for t in threads:
        t.join()
    assert failures == []
    assert seen <= set(range(20, 31))
    assert len(blog.published().posts) == 30


# The example posts that ship with the template


def test_example_posts_load_cleanly():
    blog = Blog(EXAMPLE_BLOG)
    assert blog.refresh() == []
    posts = blog.published().posts
    assert {p.slug for p in posts} >= {"getting-started", "architecture", "deploying"}
    for post in posts:
        assert post.description and post.toc and post.tags
