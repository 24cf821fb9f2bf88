"""Entry point. `uv run main.py` serves the app; `uv run main.py migrate` migrates everything."""

from __future__ import annotations

import sys

from app.cli import run

if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
