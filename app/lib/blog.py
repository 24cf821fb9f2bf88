"""Blog posts: Markdown files with YAML front matter in one directory, cached by mtime.

    ---
    title: Deploying to production        # required
    date: 2025-06-01                      # required; a future date schedules the post
    description: One container, PostgreSQL behind it.
    tags: [deploy, postgres]              # or "deploy, postgres"; `categories` also counts
    author: Ada
    series: Getting started
    image: /static/deploy.png             # site path or https URL, for link previews
    updated: 2025-06-03
    draft: true                           # hidden everywhere until removed
    slug: deploying                       # default: from the file name
    ---
    The post, in Markdown.

Every read lists the directory and stats each file; a file is parsed again only when its
modification time, size or inode changed. So an unchanged blog costs no parsing, and an
added or edited post shows on the next request without a restart. A file with bad front
matter is skipped and reported (with its name) in the log and by `Blog.refresh()`.

Readers only ever see a `Published`: the posts visible at one moment, which never
includes drafts or posts dated in the future. Slugs are looked up in it, never turned into
file paths, so no URL can make the blog read a file.
"""

from __future__ import annotations

import logging
import os
import re
import textwrap
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import frontmatter
import yaml

from app.lib.markdown import Heading, render_markdown, slugify

logger = logging.getLogger(__name__)

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
DESCRIPTION_LENGTH = 160  # what search result snippets show
T = TypeVar("T")


class Tag(NamedTuple):
    slug: str  # in URLs: /blog/tag/{slug}
    name: str  # as the author wrote it


@dataclass(frozen=True)
class Post:
    slug: str
    title: str
    date: datetime  # timezone-aware
    updated: datetime | None
    description: str
    tags: tuple[Tag, ...]
    author: str
    series: str
    image: str
    draft: bool
    html: str
    toc: tuple[Heading, ...]
    reading_minutes: int

    @property
    def modified(self) -> datetime:
        return self.updated or self.date


@dataclass(frozen=True)
class PostError:
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


class InvalidPost(ValueError):
    """The front matter of a post is missing something or has a value of the wrong kind."""


def parse_post(text: str, filename: str) -> Post:
    """Build a `Post` from a file's text; raises `InvalidPost` saying what is wrong."""
    try:
        document = frontmatter.loads(text)
    except (yaml.YAMLError, ValueError) as e:  # PyYAML raises ValueError for 2025-13-45
        raise InvalidPost(f"front matter is not valid YAML: {' '.join(str(e).split())}") from e
    meta = document.metadata
    title = _text(meta, "title")
    if not title:
        raise InvalidPost("title is missing")
    if not meta.get("date"):
        raise InvalidPost("date is missing (write it as 2025-06-01)")
    published = _datetime(meta["date"], "date")
    updated = _datetime(meta["updated"], "updated") if meta.get("updated") else None
    slug = _text(meta, "slug") or slugify(Path(filename).stem)
    if not SLUG.fullmatch(slug):
        raise InvalidPost(f"slug {slug!r} must be lower-case letters, digits and dashes")
    draft = meta.get("draft", False)
    if not isinstance(draft, bool):
        raise InvalidPost(f"draft must be true or false, got {draft!r}")
    image = _text(meta, "image")
    if image and not re.match(r"(https?://|/)", image):
        raise InvalidPost(f"image must be a site path (/static/...) or an http(s) URL: {image!r}")
    rendered = render_markdown(document.content)
    return Post(
        slug=slug,
        title=title,
        date=published,
        updated=updated,
        description=_text(meta, "description")
        or textwrap.shorten(rendered.summary, DESCRIPTION_LENGTH, placeholder="…"),
        tags=_tags([*_names(meta, "tags"), *_names(meta, "categories")]),
        author=_text(meta, "author"),
        series=_text(meta, "series"),
        image=image,
        draft=draft,
        html=rendered.html,
        toc=rendered.toc,
        reading_minutes=rendered.reading_minutes,
    )


class Published:
    """The posts readers may see at one moment, newest first, with lookups built once."""

    def __init__(self, posts: Iterable[Post]) -> None:
        self.posts = tuple(posts)
        self._memo: dict[Any, Any] = {}
        self._position = {post.slug: i for i, post in enumerate(self.posts)}
        self._tagged: dict[str, list[Post]] = {}
        self._tag_names: dict[str, str] = {}
        for post in self.posts:
            for tag in post.tags:
                self._tagged.setdefault(tag.slug, []).append(post)
                self._tag_names.setdefault(tag.slug, tag.name)

    def memo(self, key: Any, make: Callable[[], T]) -> T:
        """`make()`, computed once for these posts: for pages and feeds built from them.

        A new `Published` replaces this one whenever a post changes, so nothing here is
        ever stale, and the memo goes away with the posts it was built from.
        """
        try:
            return self._memo[key]
        except KeyError:
            # Two threads may both build it; the results are equal and either one is kept.
            value = self._memo[key] = make()
            return value

    def get(self, slug: str) -> Post | None:
        i = self._position.get(slug)
        return None if i is None else self.posts[i]

    def tagged(self, tag_slug: str) -> tuple[Post, ...]:
        return tuple(self._tagged.get(tag_slug, ()))

    def tag(self, tag_slug: str) -> Tag | None:
        name = self._tag_names.get(tag_slug)
        return None if name is None else Tag(tag_slug, name)

    def tags(self) -> list[tuple[Tag, int]]:
        """Every tag with its number of posts, most used first."""
        counted = [(Tag(s, self._tag_names[s]), len(p)) for s, p in self._tagged.items()]
        return sorted(counted, key=lambda tc: (-tc[1], tc[0].slug))

    def newer(self, post: Post) -> Post | None:
        i = self._position[post.slug]
        return self.posts[i - 1] if i > 0 else None

    def older(self, post: Post) -> Post | None:
        i = self._position[post.slug]
        return self.posts[i + 1] if i + 1 < len(self.posts) else None

    def related(self, post: Post, limit: int = 3) -> list[Post]:
        """Posts sharing the most tags with `post`; among equals, the newest."""
        shared = Counter(
            other.slug for tag in post.tags for other in self._tagged[tag.slug] if other != post
        )
        ranked = sorted(shared, key=lambda slug: (-shared[slug], self._position[slug]))
        return [self.posts[self._position[slug]] for slug in ranked[:limit]]

    def series(self, post: Post) -> list[Post]:
        """The posts of `post`'s series in reading order (oldest first)."""
        if not post.series:
            return []
        return [p for p in reversed(self.posts) if p.series == post.series]


# (mtime in ns, size, inode): a file is parsed again when any of them changes. The inode
# catches editors that save by renaming a new file over the old one.
_Stamp = tuple[int, int, int]


@dataclass(frozen=True)
class _Loaded:
    """Everything read from the directory at once, swapped in whole so readers in other
    threads never see half of a reload."""

    files: dict[str, tuple[_Stamp, Post | PostError]]
    posts: tuple[Post, ...]  # every valid post, drafts and future ones included, newest first
    errors: tuple[PostError, ...]


class Blog:
    """The posts of one directory. Safe to share between threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._loaded = _Loaded({}, (), ())
        self._seen: dict[str, _Stamp] = {}
        self._published: tuple[_Loaded, int, Published] | None = None

    def refresh(self) -> list[PostError]:
        """Re-read changed files; return the files that could not be loaded, and why.

        Call it at startup to log bad posts before anyone asks for them.
        """
        return list(self._refresh().errors)

    def published(self, now: datetime | None = None) -> Published:
        """The posts visible at `now` (default: the current time), after a refresh."""
        loaded = self._refresh()
        now = now or datetime.now(UTC)
        # Newest first, so the scheduled posts are a prefix: find where it ends.
        first = next((i for i, p in enumerate(loaded.posts) if p.date <= now), len(loaded.posts))
        cached = self._published
        if cached is None or cached[0] is not loaded or cached[1] != first:
            visible = [p for p in loaded.posts[first:] if not p.draft]
            cached = self._published = (loaded, first, Published(visible))
        return cached[2]

    def _refresh(self) -> _Loaded:
        stamps = self._stamps()
        if stamps != self._seen:
            with self._lock:
                if stamps != self._seen:  # another thread may have just done it
                    self._loaded = self._reload(stamps)
                    self._seen = stamps
        return self._loaded

    def _stamps(self) -> dict[str, _Stamp]:
        """One stat per post file: the whole cost of a read when nothing changed."""
        stamps = {}
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    name = entry.name
                    if name.endswith(".md") and not name.startswith("."):
                        try:
                            st = entry.stat()
                        except FileNotFoundError:  # deleted while we looked
                            continue
                        stamps[name] = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:  # no blog directory: no posts
            return {}
        return stamps

    def _reload(self, stamps: dict[str, _Stamp]) -> _Loaded:
        """Parse the new and changed files; reuse the rest."""
        files = {}
        for name, stamp in sorted(stamps.items()):
            known = self._loaded.files.get(name)
            files[name] = known if known and known[0] == stamp else (stamp, self._load(name))
        posts, errors = [], []
        owners: dict[str, str] = {}  # slug -> the file that has it
        for name, (_, loaded) in files.items():
            if isinstance(loaded, PostError):
                errors.append(loaded)
            elif loaded.slug in owners:
                taken = f"slug {loaded.slug!r} is already used by {owners[loaded.slug]}"
                errors.append(PostError(name, taken))
                logger.warning("Skipped blog post %s", errors[-1])
            else:
                owners[loaded.slug] = name
                posts.append(loaded)
        posts.sort(key=lambda p: (p.date, p.slug), reverse=True)
        return _Loaded(files, tuple(posts), tuple(errors))

    def _load(self, name: str) -> Post | PostError:
        try:
            return parse_post((self.directory / name).read_text(encoding="utf-8"), name)
        except InvalidPost as e:
            error = PostError(name, str(e))
        except UnicodeDecodeError:
            error = PostError(name, "is not UTF-8 text")
        except OSError as e:
            error = PostError(name, f"cannot be read: {e.strerror}")
        except Exception as e:  # a bug in a Markdown plugin must cost one post, not the blog
            logger.exception("Skipped blog post %s: rendering failed", name)
            return PostError(name, f"rendering failed: {type(e).__name__}: {e}")
        logger.warning("Skipped blog post %s", error)
        return error


def _text(meta: dict[str, Any], key: str) -> str:
    value = meta.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidPost(f"{key} must be text, got {value!r}")
    return str(value).strip()


def _names(meta: dict[str, Any], key: str) -> list[str]:
    value = meta.get(key) or []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise InvalidPost(f"{key} must be a list of names, got {value!r}")
    return [str(v).strip() for v in value if str(v).strip()]


def _tags(names: list[str]) -> tuple[Tag, ...]:
    tags: dict[str, Tag] = {}
    for name in names:
        slug = slugify(name)
        if not slug:
            raise InvalidPost(f"tag {name!r} has no letters or digits")
        tags.setdefault(slug, Tag(slug, name))
    return tuple(tags.values())


def _datetime(value: Any, key: str) -> datetime:
    """YAML gives dates, datetimes or text; all become aware datetimes (naive means UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidPost(f"{key} must be a date like 2025-06-01, got {value!r}") from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise InvalidPost(f"{key} must be a date like 2025-06-01, got {value!r}")
