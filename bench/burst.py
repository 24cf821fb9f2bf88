"""A team opening its workspace at once: 24 concurrent clients of ONE tenant on /dashboard
and /notes for 12 s, against one app process, on SQLite and on PostgreSQL.

    uv run python -m bench.burst [--clients 24] [--seconds 12] [--backends sqlite,postgres]

Prints answers, failures, answers over 5 s, p50, p99 and the slowest answer per backend
(goal: 0 failures, none over 5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from tests.support import postgres
from tests.support.burst import burst
from tests.support.server import AppServer


def run(backend: str, clients: int, seconds: float, data_dir: Path) -> str:
    env = {"APP_ENV": "test", "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    env["RATE_LIMIT_SIGNIN"] = "off"  # 24 sign-ins from one address in a second
    cluster = None
    if backend == "postgres":
        cluster = postgres.start_cluster()
        env["DATABASE_URL"] = cluster.create_database("burst_host")
        env["TENANT_DATABASE_URL"] = f"{cluster.url}/burst_{{tenant_id}}"
    try:
        with AppServer(env) as server:
            result = asyncio.run(burst(server.url, clients, seconds, "team@example.com"))
    finally:
        if cluster is not None:
            postgres.remove_cluster(cluster)
    return result.summary()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as d:
            print(f"{backend:<9} {run(backend, args.clients, args.seconds, Path(d))}")


if __name__ == "__main__":
    main()
