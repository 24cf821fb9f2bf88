"""Removing the demo is one step: delete app/demo/. A copy of the app without that folder
starts, serves its pages, and links nowhere into the demo."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("app", "tenants", "migrations", "templates", "static", "blog")

CHECK = """
from starlette.testclient import TestClient
from app.factory import create_app
from app.settings import load_settings
from tests.conftest import dev_sign_in

settings = load_settings(env={"APP_ENV": "development", "DATA_DIR": "data"}, env_file=None)
app = create_app(settings)
paths = [getattr(route, "path", "") for route in app.routes]
assert not [p for p in paths if p.startswith("/demo")], paths
with TestClient(app, base_url="http://localhost") as client:
    assert client.get("/demo").status_code == 404
    dev_sign_in(client, "ada@example.com")
    for page in ("/dashboard", "/jobs", "/sync"):
        answer = client.get(page)
        assert answer.status_code == 200, (page, answer.status_code)
        assert 'href="/demo' not in answer.text, page
print("ok")
"""


def test_the_app_runs_without_the_demo_folder(tmp_path: Path) -> None:
    for part in PARTS:
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", tmp_path / "tests", ignore=shutil.ignore_patterns("test_*"))
    shutil.rmtree(tmp_path / "app" / "demo")
    run = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("ok")
