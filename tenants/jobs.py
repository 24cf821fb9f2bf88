"""Job rows: the durable half of background jobs, in `tenant_jobs` or the host's `sys_jobs`.

A job is a row before it runs. Its life: `pending` (waits for `run_at`) -> `running` (claimed,
with a lease) -> `completed`, or back to `pending` with a later `run_at` after a failure, or
`failed` once its attempts are used up; `cancelled` at any point before it finishes.

Claiming is one conditional UPDATE: of any number of processes racing for a job, exactly one
changes the row. Each claim writes a fresh `lease_token`, and progress and outcomes are only
written `WHERE lease_token = :token`, so a run that was cancelled, or that stalled past its
lease while another process took the job over, can no longer change it. A `running` row whose
lease passed belongs to a process that died; `due()` offers it again.

Every change of a row counts up its `revision`, and the changes that make a job due sooner
(`fail` with a retry, `release`, `restart`, `requeue`) take the revision they were announced
for and apply only at it: that is what lets the host's due-work index trust a tenant job's
revision (tenants/due.py). Changes that return a revision return None when they did not apply.

A workflow job (app/work/workflow.py) keeps its steps in `steps`, a JSON list written with
`record_steps`, fenced like any progress.

Functions run on the connection you pass, inside a transaction you control, so a job can be
created in the same transaction as the row it is about. Write through `writing(engine)`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from tenants.stamp import from_now, new_id, now

TABLES = ("tenant_jobs", "sys_jobs")
STATUSES = ("pending", "running", "completed", "failed", "cancelled")
FINISHED = ("completed", "failed", "cancelled")
ERROR_MAX = 2000
MESSAGE_MAX = 200

# Building a TextClause parses its bind parameters each time; the statements here come from a
# small fixed set (table names are checked), so build each once.
_text = functools.lru_cache(maxsize=256)(sa.text)

_CLAIMABLE = """((status = 'pending' AND run_at <= :now)
                 OR (status = 'running' AND lease_until < :now))"""
_RETURNING = "RETURNING id, job_type, payload, attempts, max_attempts"


def _at(revision: int | None) -> str:
    """The condition that makes a change apply only at `revision` (when one is given)."""
    return " AND revision = :revision" if revision is not None else ""


@dataclass(frozen=True)
class Claim:
    """One run of a job, held by whoever has the token."""

    job_id: str
    job_type: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    token: str

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


@contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction. On SQLite it begins IMMEDIATE: it takes the write lock up front
    (waiting for it under busy_timeout) instead of failing when a read turns into a write."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        yield conn


def _checked(table: str) -> str:
    if table not in TABLES:
        raise ValueError(f"not a job table: {table!r}")
    return table


def _claim(row: sa.Row | None, token: str) -> Claim | None:
    if row is None:
        return None
    return Claim(
        row.id, row.job_type, json.loads(row.payload), row.attempts, row.max_attempts, token
    )


def _decoded(row: sa.RowMapping) -> dict[str, Any]:
    job = dict(row)
    for column in ("payload", "result", "steps"):
        job[column] = json.loads(job[column]) if job[column] is not None else None
    return job


@dataclass(frozen=True)
class NewJob:
    """What a new row holds besides its state: for `create` and `create_claimed`."""

    job_type: str
    payload: dict[str, Any]
    max_attempts: int = 3
    job_id: str = field(default_factory=new_id)  # set it when another row must point at it
    steps: list[dict[str, Any]] | None = None  # a workflow's steps, all pending
    submitted_by: str | None = None


def _insert(conn: sa.Connection, table: str, job: NewJob, **state: Any) -> None:
    """Insert `job` in `state` (status, attempts, run_at, lease), at revision 1."""
    stamp = now()
    row = {
        "id": job.job_id,
        "job_type": job.job_type,
        "payload": json.dumps(job.payload),
        "max_attempts": job.max_attempts,
        "steps": json.dumps(job.steps) if job.steps is not None else None,
        "submitted_by": job.submitted_by,
        "revision": 1,
        "created_at": stamp,
        "updated_at": stamp,
        "run_at": stamp,
        **state,
    }
    columns = ", ".join(row)  # fixed names from this function, never input
    values = ", ".join(f":{column}" for column in row)
    conn.execute(_text(f"INSERT INTO {_checked(table)} ({columns}) VALUES ({values})"), row)


def create(conn: sa.Connection, table: str, job: NewJob, run_at: str | None = None) -> str:
    """A pending job, due at `run_at` (default now); the scheduler will claim it."""
    _insert(conn, table, job, status="pending", **({"run_at": run_at} if run_at else {}))
    return job.job_id


def create_claimed(conn: sa.Connection, table: str, job: NewJob, lease_seconds: float) -> Claim:
    """A job already claimed for its first attempt by the caller, who runs it right away.

    If the caller dies before finishing, the lease runs out and the scheduler takes over.
    """
    token = new_id()
    lease = from_now(seconds=lease_seconds)
    _insert(conn, table, job, status="running", attempts=1, lease_until=lease, lease_token=token)
    return Claim(job.job_id, job.job_type, job.payload, 1, job.max_attempts, token)


def due(conn: sa.Connection, table: str, limit: int) -> list[str]:
    """Ids of jobs that may be claimed now: pending and due, or running with a lapsed lease."""
    rows = conn.execute(
        _text(f"SELECT id FROM {_checked(table)} WHERE {_CLAIMABLE} ORDER BY run_at LIMIT :n"),
        {"now": now(), "n": limit},
    )
    return list(rows.scalars())


def claim(conn: sa.Connection, table: str, job_id: str, lease_seconds: float) -> Claim | None:
    """Claim the job for its next attempt, or None if it is not claimable (someone else won,
    it is not due, or it finished). An abandoned last attempt is marked failed instead."""
    table, stamp, token = _checked(table), now(), new_id()
    row = conn.execute(
        _text(f"""UPDATE {table} SET status = 'running', attempts = attempts + 1,
                        lease_token = :token, lease_until = :lease, updated_at = :now,
                        revision = revision + 1
                    WHERE id = :id AND attempts < max_attempts AND {_CLAIMABLE} {_RETURNING}"""),
        {"id": job_id, "now": stamp, "token": token, "lease": from_now(seconds=lease_seconds)},
    ).first()
    if row is None:
        conn.execute(
            _text(f"""UPDATE {table} SET status = 'failed', finished_at = :now, updated_at = :now,
                            lease_token = NULL, lease_until = NULL, revision = revision + 1,
                            error = 'The process running the last attempt stopped before it finished.'
                        WHERE id = :id AND status = 'running' AND lease_until < :now
                          AND attempts >= max_attempts"""),
            {"id": job_id, "now": stamp},
        )
    return _claim(row, token)


_FRESH_ATTEMPTS = """attempts = {attempts}, error = NULL, result = NULL, progress = 0,
    progress_message = '', finished_at = NULL, run_at = :now, updated_at = :now,
    revision = revision + 1"""
_ENDED = "id = :id AND status IN ('failed', 'cancelled')"


def restart(
    conn: sa.Connection,
    table: str,
    job_id: str,
    lease_seconds: float,
    revision: int | None = None,
) -> Claim | None:
    """Give a failed or cancelled job a fresh set of attempts, claimed for the first one.
    Completed steps of a workflow stay completed: it resumes at the step that failed."""
    token, stamp = new_id(), now()
    row = conn.execute(
        _text(f"""UPDATE {_checked(table)} SET status = 'running',
                        {_FRESH_ATTEMPTS.format(attempts=1)},
                        lease_token = :token, lease_until = :lease
                    WHERE {_ENDED}{_at(revision)} {_RETURNING}"""),
        {
            "id": job_id,
            "now": stamp,
            "token": token,
            "lease": from_now(seconds=lease_seconds),
            "revision": revision,
        },
    ).first()
    return _claim(row, token)


def requeue(conn: sa.Connection, table: str, job_id: str, revision: int | None = None) -> bool:
    """Give a failed or cancelled job a fresh set of attempts, pending and due now."""
    result = conn.execute(
        _text(f"""UPDATE {_checked(table)} SET status = 'pending',
                        {_FRESH_ATTEMPTS.format(attempts=0)},
                        lease_token = NULL, lease_until = NULL
                    WHERE {_ENDED}{_at(revision)}"""),
        {"id": job_id, "now": now(), "revision": revision},
    )
    return result.rowcount == 1


def _held(
    conn: sa.Connection,
    table: str,
    claim: Claim,
    assignments: str,
    revision: int | None = None,
    **params: Any,
) -> int | None:
    """Apply `assignments` if `claim` still holds the job (and, given `revision`, the row is
    still at it). Returns the row's new revision; None if it was fenced out."""
    return conn.execute(
        _text(f"""UPDATE {_checked(table)}
                    SET {assignments}, updated_at = :now, revision = revision + 1
                    WHERE id = :id AND lease_token = :token{_at(revision)} RETURNING revision"""),
        {"id": claim.job_id, "token": claim.token, "now": now(), "revision": revision, **params},
    ).scalar()


def complete(conn: sa.Connection, table: str, claim: Claim, result: Any) -> int | None:
    return _held(
        conn,
        table,
        claim,
        """status = 'completed', result = :result, error = NULL, progress = 100,
           lease_token = NULL, lease_until = NULL, finished_at = :now""",
        result=json.dumps(result, default=str),
    )


def fail(
    conn: sa.Connection,
    table: str,
    claim: Claim,
    error: str,
    retry_at: str | None,
    revision: int | None = None,
) -> int | None:
    """Record a failed attempt: pending again at `retry_at`, or `failed` if that was the last
    attempt (or `retry_at` is None). The error is kept either way."""
    if claim.last_attempt or retry_at is None:
        outcome, params = "status = 'failed', finished_at = :now", {}
    else:
        outcome, params = "status = 'pending', run_at = :retry_at", {"retry_at": retry_at}
    return _held(
        conn,
        table,
        claim,
        f"{outcome}, error = :error, lease_token = NULL, lease_until = NULL",
        revision,
        error=error[:ERROR_MAX],
        **params,
    )


def release(
    conn: sa.Connection, table: str, claim: Claim, revision: int | None = None
) -> int | None:
    """Hand a claim back unstarted: pending and due now, the attempt not counted."""
    return _held(
        conn,
        table,
        claim,
        """status = 'pending', attempts = attempts - 1, run_at = :now,
           lease_token = NULL, lease_until = NULL""",
        revision,
    )


def extend(conn: sa.Connection, table: str, claim: Claim, lease_seconds: float) -> int | None:
    """Heartbeat: push the lease forward. False if the claim was fenced out."""
    return _held(conn, table, claim, "lease_until = :lease", lease=from_now(seconds=lease_seconds))


def report(
    conn: sa.Connection,
    table: str,
    claim: Claim,
    percent: int,
    message: str,
    lease_seconds: float,
) -> int | None:
    """Record progress (which also extends the lease)."""
    return _held(
        conn,
        table,
        claim,
        "progress = :p, progress_message = :m, lease_until = :lease",
        p=max(0, min(100, int(percent))),
        m=message[:MESSAGE_MAX],
        lease=from_now(seconds=lease_seconds),
    )


def record_steps(
    conn: sa.Connection,
    table: str,
    claim: Claim,
    steps: list[dict[str, Any]],
    percent: int,
    message: str,
) -> int | None:
    """Record a workflow's steps (and progress) if `claim` still holds the job."""
    return _held(
        conn,
        table,
        claim,
        "steps = :steps, progress = :p, progress_message = :m",
        steps=json.dumps(steps, default=str),
        p=max(0, min(100, int(percent))),
        m=message[:MESSAGE_MAX],
    )


def revision(conn: sa.Connection, table: str, job_id: str) -> int | None:
    """The row's revision, or None if there is no such job."""
    return conn.execute(
        _text(f"SELECT revision FROM {_checked(table)} WHERE id = :id"), {"id": job_id}
    ).scalar()


def holds(conn: sa.Connection, table: str, claim: Claim) -> bool:
    """Whether `claim` still owns its job (not cancelled, not taken over)."""
    token = conn.execute(
        _text(f"SELECT lease_token FROM {_checked(table)} WHERE id = :id"), {"id": claim.job_id}
    ).scalar()
    return token == claim.token


def cancel(conn: sa.Connection, table: str, job_id: str) -> bool:
    """Cancel a job that has not finished. A running handler learns it from `holds()`."""
    stamp = now()
    result = conn.execute(
        _text(f"""UPDATE {_checked(table)} SET status = 'cancelled', finished_at = :now,
                        updated_at = :now, lease_token = NULL, lease_until = NULL,
                        revision = revision + 1
                    WHERE id = :id AND status IN ('pending', 'running')"""),
        {"id": job_id, "now": stamp},
    )
    return result.rowcount == 1


def get(conn: sa.Connection, table: str, job_id: str) -> dict[str, Any] | None:
    row = (
        conn.execute(_text(f"SELECT * FROM {_checked(table)} WHERE id = :id"), {"id": job_id})
        .mappings()
        .first()
    )
    return _decoded(row) if row else None


def listing(
    conn: sa.Connection,
    table: str,
    *,
    job_type: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first, optionally filtered. Filters are bound values, never SQL text."""
    table = _checked(table)
    filters = {"job_type": job_type, "status": status}
    params = {k: v for k, v in filters.items() if v is not None}
    where = " AND ".join([f"{column} = :{column}" for column in params] or ["1 = 1"])
    rows = conn.execute(
        _text(f"SELECT * FROM {table} WHERE {where} ORDER BY created_at DESC, id LIMIT :limit"),
        {**params, "limit": max(1, min(int(limit), 500))},
    )
    return [_decoded(r) for r in rows.mappings()]
