"""Health endpoints for load balancers and orchestrators (public, no session needed).

- `/healthz`: the process is up and serving. Nothing else is checked, so it never flaps and
  a restart is only triggered by a process that is really stuck.
- `/readyz`: ready for traffic: the host database answers, its migrations are current and
  the job scheduler is running. Otherwise 503 with the reasons, so traffic goes elsewhere
  until it recovers (a database restart, a deploy whose migrations have not run yet).
"""

from __future__ import annotations

import anyio
import sqlalchemy as sa
from fasthtml.common import APIRouter
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse

from tenants.migrate import HOST_MIGRATIONS, load

rt = APIRouter()

READY_TIMEOUT_SECONDS = 3.0


def database_problems(engine: sa.Engine) -> list[str]:
    """Why the host database is not usable: unreachable, or migrations not all applied.

    Read-only on purpose: a probe must not take the migration lock or create anything.
    """
    try:
        with engine.connect() as conn:
            applied = set(conn.execute(sa.text("SELECT version FROM schema_migrations")).scalars())
    except sa.exc.SQLAlchemyError as e:
        return [f"host database unreachable or not migrated: {type(e).__name__}"]
    missing = [m.name for m in load(HOST_MIGRATIONS) if m.version not in applied]
    return [f"host migrations not applied: {', '.join(missing)}"] if missing else []


def _scheduler_problems(state: State) -> list[str]:
    scheduler = getattr(state, "scheduler", None)
    if scheduler is None or not scheduler.alive():
        return ["the job scheduler is not running"]
    return []


@rt.get("/healthz")
def healthz():
    return JSONResponse({"status": "ok"})


@rt.get("/readyz")
async def readyz(req: Request):
    state = req.app.state
    problems = ["host database did not answer in time"]
    # A database that hangs (rather than refusing) must not hang the probe: give up waiting;
    # the abandoned thread finishes or fails on its own.
    with anyio.move_on_after(READY_TIMEOUT_SECONDS):
        problems = await anyio.to_thread.run_sync(
            database_problems, state.catalog.engine, abandon_on_cancel=True
        )
    problems += _scheduler_problems(state)
    if problems:
        return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})
