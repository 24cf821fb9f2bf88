"""The image's build, replayed without Docker: take the build context as `.dockerignore`
leaves it, follow the Dockerfile's COPY and `uv` RUN steps into a temp directory (uv installs
from its cache, which `uv sync` has filled), then start the app there with the image's ENV and CMD, as an unprivileged
user, and use it. A file the Dockerfile forgets to copy (migrations, static files, templates,
blog posts) fails here, not in production."""

from __future__ import annotations

import fnmatch
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = "/app"  # the Dockerfile's WORKDIR, mapped onto the temp directory
IMAGE_PYTHON = Path("/usr/bin/python3.11")  # a system Python an unprivileged user can run


@dataclass
class Stage:
    steps: list[tuple[str, str]] = field(default_factory=list)  # (instruction, arguments)
    env: dict[str, str] = field(default_factory=dict)


def dockerfile_stages(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, arguments = line.strip().partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append(Stage())
        elif instruction == "ENV":
            stages[-1].env.update(
                dict(part.split("=", 1) for part in shlex.split(arguments) if "=" in part)
            )
        stages[-1].steps.append((instruction, arguments.strip()))
    return stages


def ignored(path: str, rules: list[str]) -> bool:
    """`.dockerignore`: the last matching rule wins; a rule matching a folder covers its files."""
    parents = ["/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 2)]
    verdict = False
    for rule in rules:
        negate, pattern = rule.startswith("!"), rule.lstrip("!").rstrip("/")
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatchcase(part, pattern[3:]) for part in path.split("/"))
        else:
            hit = any(fnmatch.fnmatchcase(parent, pattern) for parent in parents)
        if hit:
            verdict = not negate
    return verdict


def build_context() -> dict[str, Path]:
    """Every file Docker would send: the repository minus what `.dockerignore` excludes."""
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    files = {}
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT).as_posix()
        skip = relative.startswith((".git/", ".venv/")) or not path.is_file()
        if not skip and not ignored(relative, rules):
            files[relative] = path
    return files


def copy_step(arguments: str, context: dict[str, Path], layout: Path) -> None:
    *sources, destination = shlex.split(arguments)
    target = layout / destination.removeprefix(WORKDIR).lstrip("/")
    for source in sources:
        source = source.rstrip("/").removeprefix("./")
        matched = {k: v for k, v in context.items() if k == source or k.startswith(f"{source}/")}
        assert matched, f"COPY {source}: not in the build context (.dockerignore?)"
        for relative, path in matched.items():
            inside = Path(relative).name if relative == source else relative[len(source) + 1 :]
            (target / inside).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / inside)


def in_layout(value: str, layout: Path) -> str:
    return value.replace(WORKDIR, str(layout))


def snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def image() -> Iterator[tuple[Path, dict[str, str], list[str], list[str]]]:
    """The image's /app built in a temp directory: (layout, runtime env, CMD, HEALTHCHECK)."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    build, final = dockerfile_stages((ROOT / "Dockerfile").read_text())
    layout = Path(tempfile.mkdtemp(prefix="image-app-"))
    layout.chmod(0o755)
    context = build_context()
    build_env = {
        **os.environ,
        **build.env,
        "UV_COMPILE_BYTECODE": "0",  # the image compiles; here it would only cost time
        "UV_PROJECT_ENVIRONMENT": str(layout / ".venv"),
    }
    if IMAGE_PYTHON.exists():
        build_env["UV_PYTHON"] = str(IMAGE_PYTHON)
    build_env.pop("VIRTUAL_ENV", None)
    for instruction, arguments in build.steps:
        if instruction == "COPY" and not arguments.startswith("--from"):
            copy_step(arguments, context, layout)
        elif instruction == "RUN":
            command = re.sub(r"^(--\S+\s+)*", "", arguments)
            assert command.startswith("uv "), f"replay only knows uv steps: {command}"
            subprocess.run(
                command, shell=True, cwd=layout, env=build_env, check=True, capture_output=True
            )
    steps = dict(final.steps)
    env = {key: in_layout(value, layout) for key, value in final.env.items()}
    env["PATH"] = env["PATH"].replace("$PATH", os.environ["PATH"])
    healthcheck = json.loads(steps["HEALTHCHECK"].split("CMD", 1)[1])
    yield layout, env, json.loads(steps["CMD"]), healthcheck
    shutil.rmtree(layout, ignore_errors=True)


def unprivileged() -> dict:
    """Run as `nobody` when we are root and the interpreter allows it, as the image does."""
    if os.geteuid() != 0 or not IMAGE_PYTHON.exists():
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid}


def test_the_image_layout_serves_the_app(image, tmp_path):
    layout, image_env, cmd, healthcheck = image
    # The image's /data volume, the only place it may write. Not under tmp_path: pytest's
    # folders are private to root.
    data = Path(tempfile.mkdtemp(prefix="image-data-"))
    run_as = unprivileged()
    if run_as:
        os.chown(data, run_as["user"], run_as["group"])
    port = free_port()
    env = {
        **image_env,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATA_DIR": str(data),
        # What production insists on: see docs/deploy.md.
        "SECRET_KEY": "image-test-secret-key-0123456789-abcdefgh",
        "BASE_URL": "https://app.example.com",
        "GOOGLE_CLIENT_ID": "client-id",
        "GOOGLE_CLIENT_SECRET": "client-secret",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "no-reply@example.com",
    }
    before = snapshot(layout)
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(cmd, cwd=layout, env=env, stdout=out, stderr=out, **run_as)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)

        probe = subprocess.run(healthcheck, cwd=layout, env=env, timeout=30, **run_as)
        assert probe.returncode == 0, "the image's HEALTHCHECK fails"
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text  # migrations/ came along and ran
        assert httpx.get(f"{base}/").status_code == 200
        for asset in sorted((ROOT / "static").iterdir()):
            assert httpx.get(f"{base}/static/{asset.name}").status_code == 200, asset.name
        for post in sorted((ROOT / "blog").glob("*.md")):
            assert httpx.get(f"{base}/blog/{post.stem}").status_code == 200, post.name
    finally:
        server.terminate()
        server.wait(timeout=15)
        shutil.rmtree(data, ignore_errors=True)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]

    templates = [p.stem for p in (ROOT / "templates").glob("*.md") if p.stem != "layout"]
    render = subprocess.run(
        [
            "python",
            "-c",
            "import sys; from app.lib.email_render import load_template; "
            "[load_template(name) for name in sys.argv[1:]]",
            *templates,
        ],
        cwd=layout,
        env=env,
        capture_output=True,
        text=True,
        **run_as,
    )
    assert render.returncode == 0, render.stderr  # templates/ came along
    assert snapshot(layout) == before, (
        "the app wrote into its own folder; only DATA_DIR is writable"
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("app/factory.py", False),
        ("app/__pycache__/factory.cpython-311.pyc", True),
        (".env", True),
        ("data/host.db", True),
        ("tests/test_cli.py", True),
        ("uv.lock", False),
    ],
)
def test_dockerignore_keeps_secrets_and_local_state_out_of_the_context(path, expected):
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignored(path, rules) is expected
