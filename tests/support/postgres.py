"""A throwaway PostgreSQL cluster for the test suite: initdb, start on a free port, remove.

`initdb` refuses to run as root, so as root the server runs as the `postgres` user; its
directory lives under /tmp where that user can reach it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa


def _bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def available() -> bool:
    return _bin("initdb") is not None and _bin("pg_ctl") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        """Server URL without a database name; add `/name` for a database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(f"{self.url}/postgres", isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return f"{self.url}/{name}"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, _bin("pg_ctl"), "-D", str(self.root / "data"), *args],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "stop")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=400"
        )
        self.pg_ctl("-o", options, "-l", str(self.root / "server.log"), "-w", "start")


def start_cluster() -> Cluster:
    root = Path(tempfile.mkdtemp(prefix="saas-pg-"))
    root.chmod(0o755)
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_user,
            _bin("initdb"),
            "-D",
            str(root / "data"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    cluster = Cluster(root, _free_port(), as_user)
    cluster.start()
    return cluster


def remove_cluster(cluster: Cluster) -> None:
    try:
        cluster.stop()
    finally:
        shutil.rmtree(cluster.root, ignore_errors=True)
