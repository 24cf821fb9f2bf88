"""The baseline every speed benchmark is measured against: a bare FastHTML hello world,
served by uvicorn as one process and loaded by wrk (Debian package `wrk`) in the same run."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile

import httpx

from tests.support.server import free_port

HELLO = """
from fasthtml.common import FastHTML
import uvicorn, sys
app = FastHTML(default_hdrs=False)
@app.get("/")
def index(): return "Hello, world"
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def wrk(url: str, seconds: int, connections: int, *headers: str) -> dict[str, float]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for header in headers:
        command[1:1] = ["-H", header]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": float(p50.group(1)) * scale,
        "errors": int(errors.group(1)) if errors else 0,
    }


def hello_world(seconds: int, connections: int) -> dict[str, float]:
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".py") as script:
        script.write(HELLO)
        script.flush()
        process = subprocess.Popen([sys.executable, script.name, str(port)])
        try:
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except httpx.HTTPError:
                    subprocess.run(["sleep", "0.1"], check=True)
            return wrk(f"http://127.0.0.1:{port}/", seconds, connections)
        finally:
            process.terminate()
            process.wait()
