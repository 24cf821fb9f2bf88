"""JOB_* and WEBHOOK_MAX_BODY_BYTES are settings like the others: typed, checked with the
rest at startup, handed to the JobManager and the webhook route by the app; no module reads
the environment on import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.factory import create_app
from app.settings import SettingsError
from app.work.jobs import JobConfig, job_manager

ROOT = Path(__file__).resolve().parents[1]


def test_job_settings_reach_the_job_manager(make_settings, monkeypatch):
    monkeypatch.setenv("JOB_LEASE_SECONDS", "999")  # the process environment is not read
    settings = make_settings(
        JOB_LEASE_SECONDS="5",
        JOB_POLL_SECONDS="0.25",
        JOB_RETRY_BASE_SECONDS="0",
        JOB_RETRY_CAP_SECONDS="30",
        JOB_WORKERS="3",
    )
    app = create_app(settings)
    try:
        assert job_manager(app).config == JobConfig(
            lease_seconds=5,
            poll_seconds=0.25,
            retry_base_seconds=0,
            retry_cap_seconds=30,
            workers=3,
        )
        assert job_manager(app).settings is settings
    finally:
        app.state.databases.dispose()
        app.state.catalog.dispose()


def test_defaults_are_the_documented_ones(make_settings):
    settings = make_settings()
    assert JobConfig.from_settings(settings) == JobConfig()
    assert settings.webhook_max_body_bytes == 1024 * 1024
    example = (ROOT / ".env.example").read_text()
    for line in (
        "JOB_LEASE_SECONDS=60",
        "JOB_POLL_SECONDS=1",
        "JOB_RETRY_BASE_SECONDS=2",
        "JOB_RETRY_CAP_SECONDS=600",
        "JOB_WORKERS=8",
        "WEBHOOK_MAX_BODY_BYTES=1048576",
    ):
        assert line in example.splitlines()


def test_bad_job_settings_are_refused_together_with_a_message_each(make_settings):
    with pytest.raises(SettingsError) as refused:
        make_settings(
            JOB_LEASE_SECONDS="0",
            JOB_POLL_SECONDS="soon",
            JOB_RETRY_BASE_SECONDS="-1",
            JOB_RETRY_CAP_SECONDS="inf",
            JOB_WORKERS="many",
            WEBHOOK_MAX_BODY_BYTES="0",
        )
    problems = "\n".join(refused.value.problems)
    for name in (
        "JOB_LEASE_SECONDS must be positive",
        "JOB_POLL_SECONDS must be a number of seconds",
        "JOB_RETRY_BASE_SECONDS must be zero or more",
        "JOB_RETRY_CAP_SECONDS must be positive",
        "JOB_WORKERS must be a whole number",
        "WEBHOOK_MAX_BODY_BYTES must be positive",
    ):
        assert name in problems
    assert len(refused.value.problems) == 6


def test_the_webhook_body_limit_comes_from_the_settings(make_settings):
    app = create_app(make_settings(WEBHOOK_MAX_BODY_BYTES="100", RATE_LIMIT_WEBHOOKS="off"))
    try:
        client = TestClient(app, base_url="http://localhost")
        path = "/webhooks/demo/" + "a" * 43
        too_large = client.post(path, content=b"x" * 101)
        assert too_large.status_code == 413
        assert "larger than 100 bytes" in too_large.json()["message"]
        assert client.post(path, content=b"x" * 100).status_code == 404  # read, then no endpoint
    finally:
        app.state.databases.dispose()
        app.state.catalog.dispose()


def test_importing_the_app_reads_no_job_or_webhook_variables():
    env = {**os.environ, "JOB_WORKERS": "many", "WEBHOOK_MAX_BODY_BYTES": "lots"}
    result = subprocess.run(
        [sys.executable, "-c", "import app.factory, app.webhooks.inbound, app.work.jobs"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
