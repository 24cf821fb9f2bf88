"""Page weight of the signed-in dashboard on a first load: its HTML and every stylesheet and
script it loads, uncompressed, as a browser with an empty cache would fetch them.

    uv run python -m bench.page_weight

Budget (issue 11): under 250 KB. Images are left out (the dashboard has none; icons are
inline SVG and counted with the HTML). Prints each part and the total.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.html import csrf_from  # noqa: E402
from tests.support.server import AppServer  # noqa: E402

BUDGET_KB = 250
ASSET = re.compile(r'<(?:link rel="stylesheet" href|script src)="(/static/[^"]+)"')


def dashboard_weight(data_dir: Path) -> dict[str, int]:
    """Bytes of the dashboard and of each asset it references, by path."""
    env = {"APP_ENV": "test", "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    with (
        AppServer(env) as server,
        httpx.Client(base_url=server.url, follow_redirects=True) as client,
    ):
        token = csrf_from(client.get("/login").text)
        client.post("/login/dev", data={"email": "bench@example.com", "csrf_token": token})
        page = client.get("/dashboard", headers={"Accept-Encoding": "identity"})
        assert page.status_code == 200 and 'id="sidebar"' in page.text, page.status_code
        parts = {"/dashboard": len(page.content)}
        # The activity list arrives in its own request once the page shows: part of the load.
        parts["/dashboard/activity"] = len(
            client.get("/dashboard/activity", headers={"HX-Request": "true"}).content
        )
        for path in dict.fromkeys(ASSET.findall(page.text)):
            parts[path] = len(client.get(path, headers={"Accept-Encoding": "identity"}).content)
    return parts


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parts = dashboard_weight(Path(tmp))
    for path, size in parts.items():
        print(f"{path:32} {size / 1024:7.1f} KB")
    total = sum(parts.values()) / 1024
    verdict = "within" if total < BUDGET_KB else "OVER"
    print(f"{'total':32} {total:7.1f} KB ({verdict} the {BUDGET_KB} KB budget)")


if __name__ == "__main__":
    main()
