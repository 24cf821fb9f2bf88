"""Blog benchmark: requests per second of a post page and of /rss.xml, against hello world.

    uv run python -m bench.blog [--posts 200] [--seconds 5] [--connections 8]

Both apps run the same way: uvicorn in a subprocess on 127.0.0.1, one worker, access log
off. The load comes from `wrk` when it is installed (`apt-get install -y wrk`), otherwise
from a bounded loop of httpx clients in threads (which measures the client as much as the
server: prefer wrk). The blog gets `--posts` generated posts in a temporary BLOG_DIR.

It also measures the time from writing a new post file to the first 200 for its URL.
Numbers only: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TAGS = ["python", "fasthtml", "sqlite", "postgres", "deploy", "security", "htmx", "css",
        "testing", "billing", "tenancy", "jobs"]  # fmt: skip


def hello_app():
    """The baseline: a bare FastHTML app with one route returning a string."""
    from fasthtml.common import FastHTML

    app = FastHTML()

    @app.get("/")
    def home():
        return "Hello, world!"

    return app


def blog_app():
    """The real app, configured from the environment this script sets."""
    from app.factory import create_app

    return create_app()


def post_markdown(i: int, rng: random.Random) -> str:
    words = ["tenant", "request", "database", "page", "cache", "route", "form", "query"]

    def paragraph() -> str:
        return " ".join(rng.choice(words) for _ in range(90)).capitalize() + "."

    sections = "\n\n".join(
        f"## Section {n}\n\n{paragraph()}\n\n{paragraph()}\n\n"
        f"```python\ndef handler_{n}(req):\n    return Page(req, 'Post {i}', P('{n}'))\n```"
        for n in range(1, 5)
    )
    return (
        f"---\ntitle: Generated post {i}\ndate: 2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00\n"
        f"tags: [{', '.join(rng.sample(TAGS, 3))}]\nauthor: Bench\n---\n"
        f"{paragraph()}\n\n{sections}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(factory: str, env: dict[str, str]):
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", f"bench.blog:{factory}",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--no-access-log"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.perf_counter() - started > 30:
                    raise RuntimeError(f"{factory} did not start") from None
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def requests_per_second(url: str, seconds: int, connections: int) -> float:
    status = httpx.get(url).status_code
    if status != 200:  # fail loudly rather than time an error page
        raise RuntimeError(f"{url} answered {status}")
    if shutil.which("wrk"):
        run = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]
        subprocess.run([*run[:3], "-d1s", url], capture_output=True, check=True)  # warm up
        output = subprocess.run(run, capture_output=True, text=True, check=True).stdout
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
        if errors:
            raise RuntimeError(f"{url}: {errors.group(1)} error responses")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return _httpx_rps(url, seconds, connections)


def _httpx_rps(url: str, seconds: int, connections: int) -> float:
    counts = [0] * connections
    deadline = time.perf_counter() + seconds

    def work(n: int) -> None:
        with httpx.Client() as client:
            while time.perf_counter() < deadline:
                client.get(url).raise_for_status()
                counts[n] += 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def time_to_new_post(base: str, blog_dir: Path) -> tuple[float, float]:
    """Seconds from writing a post to its first 200; and that first request's latency."""
    path = blog_dir / "just-added.md"
    with httpx.Client() as client:
        written = time.perf_counter()
        path.write_text("---\ntitle: Just added\ndate: 2024-01-01\n---\nHello.\n")
        while True:
            sent = time.perf_counter()
            if client.get(f"{base}/blog/just-added").status_code == 200:
                done = time.perf_counter()
                return done - written, done - sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    load = "wrk" if shutil.which("wrk") else "httpx threads (install wrk for better numbers)"
    print(f"{args.posts} posts, {args.seconds} s per run, {args.connections} connections, {load}")

    with tempfile.TemporaryDirectory() as tmp:
        blog_dir = Path(tmp) / "blog"
        blog_dir.mkdir()
        rng = random.Random(1)
        for i in range(args.posts):
            (blog_dir / f"post-{i}.md").write_text(post_markdown(i, rng))
        env = {"APP_ENV": "test", "DATA_DIR": f"{tmp}/data", "BLOG_DIR": str(blog_dir),
               "BASE_URL": "https://bench.example", "LOG_LEVEL": "WARNING"}  # fmt: skip

        with serve("hello_app", env) as base:
            hello = requests_per_second(f"{base}/", args.seconds, args.connections)
        with serve("blog_app", env) as base:
            started = time.perf_counter()
            httpx.get(f"{base}/blog", timeout=60).raise_for_status()
            first_load = time.perf_counter() - started
            # The app's own floor (middleware, session), so the blog's share can be seen.
            floor = requests_per_second(f"{base}/healthz", args.seconds, args.connections)
            post = requests_per_second(f"{base}/blog/post-100", args.seconds, args.connections)
            feed = requests_per_second(f"{base}/rss.xml", args.seconds, args.connections)
            index = requests_per_second(f"{base}/blog", args.seconds, args.connections)
            to_visible, first_request = time_to_new_post(base, blog_dir)

    print(f"hello world (bare FastHTML)  {hello:9.0f} req/s")
    print(f"/healthz (same app, no blog) {floor:9.0f} req/s   {floor / hello:.2f} x hello world")
    print(f"/blog/post-100               {post:9.0f} req/s   {post / hello:.2f} x hello world")
    print(f"/rss.xml                     {feed:9.0f} req/s   {feed / hello:.2f} x hello world")
    print(f"/blog (index)                {index:9.0f} req/s   {index / hello:.2f} x hello world")
    print(f"first /blog, parsing all {args.posts} posts  {first_load * 1000:7.1f} ms")
    print(f"new post: written to first 200  {to_visible * 1000:7.1f} ms")
    print(f"          that request alone    {first_request * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
