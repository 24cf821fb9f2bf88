"""CPU time of one signed-in `/dashboard` request, in process (TestClient), so two versions
of the app can be compared on a busy machine where wrk's requests/s swing with the load.

    uv run python -m bench.dashboard_cpu [label]

Prints the best of three batches of 200 requests, in milliseconds (TestClient's own cost
included, the same for both versions). Run it in two checkouts, alternating.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from starlette.testclient import TestClient  # noqa: E402

from app.factory import create_app  # noqa: E402
from app.settings import load_settings  # noqa: E402
from tests.conftest import dev_sign_in  # noqa: E402

BATCH = 200


def main() -> None:
    label = sys.argv[1] if len(sys.argv) > 1 else "dashboard"
    env = {"APP_ENV": "test", "DATA_DIR": tempfile.mkdtemp(), "LOG_LEVEL": "WARNING"}
    app = create_app(load_settings(env=env, env_file=None))
    with TestClient(app, base_url="http://localhost") as client:
        dev_sign_in(client, "bench@example.com")
        for _ in range(50):  # warm: the shell and the overview are rendered once
            assert client.get("/dashboard").status_code == 200
        batches = []
        for _ in range(3):
            start = time.process_time()
            for _ in range(BATCH):
                client.get("/dashboard")
            batches.append((time.process_time() - start) / BATCH * 1000)
    print(f"{label}: {min(batches):.2f} ms CPU per /dashboard request (best of 3x{BATCH})")


if __name__ == "__main__":
    main()
