"""Background chores that run every so often for the app's lifetime (in the lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def every(seconds: float, chore: Callable[[], object], name: str) -> AsyncIterator[None]:
    """Run the blocking `chore` in a thread every `seconds` until the context ends.

    A failed round is logged and the next one runs anyway: a chore must never take the
    app down.
    """

    async def loop() -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await asyncio.to_thread(chore)
            except Exception:
                log.exception("%s failed", name)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
