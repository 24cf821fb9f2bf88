"""Entry point. `uv run main.py` serves the app; `uv run main.py migrate` migrates everything
(`--help` lists the rest).

`python main.py` works too: with the dependencies missing (a fresh clone, the system Python)
it hands over to `uv run main.py` with the same arguments, which installs them into the
project's own environment first; without uv it says in one line how to get it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HANDED_OVER = "SAAS_STARTER_VIA_UV"  # set on the way to uv, so a broken setup cannot loop


def _hand_over_to_uv(missing: str) -> None:
    uv = shutil.which("uv")
    if uv and not os.environ.get(HANDED_OVER):
        os.environ[HANDED_OVER] = "1"
        command = [uv, "run", "--project", str(HERE), str(HERE / "main.py"), *sys.argv[1:]]
        os.execv(uv, command)  # noqa: S606 (this process becomes uv's: same args, same exit)
    sys.exit(
        f"main.py needs its dependencies (no module named {missing!r}): install uv"
        " (pip install uv), then run: uv run main.py"
    )


if __name__ == "__main__":
    try:
        from app.cli import run
    except ModuleNotFoundError as e:
        ours = (e.name or "").split(".")[0] in ("app", "tenants")
        if ours:
            raise
        _hand_over_to_uv(e.name or "?")
    sys.exit(run(sys.argv[1:]))
