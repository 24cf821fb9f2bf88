"""Workflows: a job made of named steps that each run once, resumed at the step that failed.

    from app.work.workflow import Workflow

    def collect(ctx, month: str) -> dict:        # a step: (ctx, **payload) -> JSON or None
        ctx.db.execute(...)                      # committed together with the step's record
        return {"rows": 42}

    def publish(ctx, month: str) -> None:
        rows = ctx.results["collect"]["rows"]    # results of the steps before it
        ...

    REPORT = Workflow(("collect", collect), ("publish", publish))
    JOBS = {..., "reports.build": REPORT}        # app/work/handlers.py: a handler like any

The steps run in order, in one worker thread. When a step returns, "completed" and its result
are recorded in the job row (`steps`), fenced by the run's lease token; for a tenant job that
record commits in the same transaction as what the step wrote through `ctx.db`, so a crash
before the commit leaves no trace of the step, and after it the step never runs again. A step
that raises fails the attempt (its writes rolled back, the error kept with the step): the job
is retried with the usual backoff and resumes at that step, skipping completed ones, whose
results come back from the row. The job's result is the last step's. The job page shows each
step's state.

Effects outside the tenant database (files, email, HTTP, and all a system job does) are not in
that transaction: a crash after such an effect but before the step's record repeats the step,
so make them idempotent (e.g. a file named after the job, replaced whole). Results are stored
in the row and shown with the job's details: keep them small, and no server paths in them.
On SQLite a step's uncommitted writes hold the tenant's write lock until the step is recorded,
so keep writing steps short (and call no `ctx.progress` after writing: split the step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.work.jobs import JobContext, JobLost
from tenants.jobs import ERROR_MAX
from tenants.stamp import now

Step = Callable[..., Any]


class Workflow:
    """A job handler that runs `steps`, (name, function) pairs, once each, in order."""

    def __init__(self, *steps: tuple[str, Step]):
        names = [name for name, _ in steps]
        if not names or len(set(names)) != len(names):
            raise ValueError("a workflow needs steps with distinct names")
        self.steps = steps

    def initial_steps(self) -> list[dict[str, Any]]:
        """The job row's `steps` before anything ran (JobManager asks when creating it)."""
        return [{"name": name, "status": "pending"} for name, _ in self.steps]

    def __call__(self, ctx: JobContext, **payload: Any) -> Any:
        recorded = {step["name"]: step for step in ctx.recorded_steps() or []}
        states = [recorded.get(name, {"name": name, "status": "pending"}) for name, _ in self.steps]
        result = None
        for index, (name, run) in enumerate(self.steps):
            if states[index]["status"] == "completed":
                result = ctx.results[name] = states[index].get("result")
                continue
            if ctx.cancelled():
                raise JobLost(ctx.job_id)
            self._record(ctx, states, index, status="running", started_at=now(), error=None)
            try:
                result = run(ctx, **payload)
            except Exception as error:
                if ctx.db is not None:
                    ctx.db.rollback()  # none of the failed step's writes
                message = f"{type(error).__name__}: {error}"[:ERROR_MAX]
                self._record(ctx, states, index, status="failed", error=message)
                raise
            ctx.results[name] = result
            self._record(ctx, states, index, status="completed", result=result, finished_at=now())
        return result

    def _record(self, ctx: JobContext, states: list[dict], index: int, **change: Any) -> None:
        states[index] = {**states[index], **change}
        done = sum(state["status"] == "completed" for state in states)
        name, total = states[index]["name"], len(states)
        message = f"Step {index + 1} of {total}: {name}"
        ctx.record_steps(states, done * 100 // total, message)
