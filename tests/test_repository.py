"""What the repository holds (issue 16 item 13): no key file, and the app never writes one."""

from __future__ import annotations

import subprocess
from pathlib import Path

from app.factory import create_app

ROOT = Path(__file__).resolve().parent.parent


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout


def test_no_session_key_file_is_tracked_and_one_would_be_ignored():
    assert git("ls-files", ".sesskey") == ""
    assert git("check-ignore", ".sesskey").strip() == ".sesskey"


def test_the_app_writes_no_key_file_where_it_runs(make_settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # FastHTML would write .sesskey into the working directory
    app = create_app(make_settings())
    app.state.databases.dispose()
    app.state.catalog.dispose()
    assert not (tmp_path / ".sesskey").exists()
