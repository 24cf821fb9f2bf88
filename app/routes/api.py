"""The REST API, /api/v1: notes (list, get, create, update, delete), and read access to
members, jobs and sync runs. Access class `api`: an API key, acting as its workspace
(app/api/keys.py). Every id is looked up in the key's own workspace database, so another
workspace's ids do not exist here (404). Writes made with a key are audited with its id.

How endpoints are declared, validated and documented: app/api/routing.py.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.api.pagination import ListQuery, page
from app.api.problems import Problem
from app.api.routing import Api, ApiCall
from app.syncs.jobs import SYNC_JOB
from app.web.signin import client_ip
from app.webhooks.outbound import emit
from app.work.jobs import job_manager
from tenants.jobs import STATUSES
from tenants.stamp import iso, new_id, now

api = Api("/api/v1")
rt = api.rt
NOTE_MAX = 2000


def _audit(call: ApiCall, action: str, **details: Any) -> None:
    """A key acts as its workspace: the entry has no person, and names the key."""
    call.req.app.state.catalog.audit(
        action,
        actor=None,
        tenant=call.tenant_id,
        ip=client_ip(call.req),
        api_key=call.key.key_id,
        key_prefix=call.key.prefix,
        **details,
    )


def _list(call: ApiCall, sql: str, conditions: list[str], params: dict[str, Any], shown) -> dict:
    """One page of `sql` (a SELECT with no WHERE) under the conditions, newest first."""
    more, values = call.query.where()
    where = " AND ".join([*conditions, *more]) or "1 = 1"
    rows = call.db.q(
        f"{sql} WHERE {where} ORDER BY created_at DESC, id DESC LIMIT :limit",
        **params,
        **values,
        limit=call.query.limit + 1,
    )
    return page(rows, call.query.limit, shown)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _stamp(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


# -- notes ---------------------------------------------------------------------------------


class Note(BaseModel):
    id: str
    body: str
    author_id: str | None = Field(description="The person who wrote it; null when a key did.")
    created_at: str


class NoteList(BaseModel):
    data: list[Note]
    next_cursor: str | None


class NoteQuery(ListQuery):
    created_after: AwareDatetime | None = Field(None, description="Only notes newer than this.")
    created_before: AwareDatetime | None = Field(None, description="Only notes older than this.")
    contains: str | None = Field(
        None, min_length=1, max_length=200, description="Text in the body."
    )


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=NOTE_MAX, pattern=r"\S")


def _note(row: dict[str, Any]) -> dict[str, Any]:
    author = row["author_id"]
    return {
        "id": row["id"],
        "body": row["body"],
        "author_id": None if author.startswith("api:") else author,
        "created_at": row["created_at"],
    }


def _found_note(call: ApiCall) -> dict[str, Any]:
    rows = call.db.q(
        "SELECT id, body, author_id, created_at FROM notes WHERE id = :id", id=call.path["note_id"]
    )
    if not rows:
        raise Problem(404, "There is no note with that id.")
    return rows[0]


@api.get("/notes", summary="List notes", query=NoteQuery, response=NoteList, tag="Notes")
def list_notes(call: ApiCall) -> dict:
    query: NoteQuery = call.query
    conditions, params = [], {}
    if query.created_after:
        conditions.append("created_at > :after")
        params["after"] = _stamp(query.created_after)
    if query.created_before:
        conditions.append("created_at < :before")
        params["before"] = _stamp(query.created_before)
    if query.contains:
        conditions.append("lower(body) LIKE :contains ESCAPE '\\'")
        params["contains"] = "%" + _escape_like(query.contains.lower()) + "%"
    return _list(
        call, "SELECT id, body, author_id, created_at FROM notes", conditions, params, _note
    )


@api.post("/notes", summary="Create a note", body=NoteIn, response=Note, tag="Notes")
def create_note(call: ApiCall) -> dict:
    body: NoteIn = call.body
    note = {
        "id": new_id(),
        "body": body.body.strip(),
        "author_id": f"api:{call.key.key_id}",
        "created_at": now(),
    }
    call.db.q(
        "INSERT INTO notes (id, body, author_id, created_at) VALUES (:id, :body, :author_id, :created_at)",
        **note,
    )
    shown = _note(note)
    emit(job_manager(call.req.app), call.db, "note.created", shown)
    _audit(call, "api.note_created", note=note["id"])
    return shown


@api.get("/notes/{note_id}", summary="Get a note", response=Note, tag="Notes")
def get_note(call: ApiCall) -> dict:
    return _note(_found_note(call))


@api.patch("/notes/{note_id}", summary="Change a note", body=NoteIn, response=Note, tag="Notes")
def update_note(call: ApiCall) -> dict:
    note = _found_note(call)
    note["body"] = call.body.body.strip()
    call.db.q("UPDATE notes SET body = :body WHERE id = :id", body=note["body"], id=note["id"])
    _audit(call, "api.note_updated", note=note["id"])
    return _note(note)


@api.delete("/notes/{note_id}", summary="Delete a note", tag="Notes")
def delete_note(call: ApiCall) -> None:
    deleted = call.db.q("DELETE FROM notes WHERE id = :id RETURNING id", id=call.path["note_id"])
    if not deleted:
        raise Problem(404, "There is no note with that id.")
    _audit(call, "api.note_deleted", note=call.path["note_id"])


# -- members -------------------------------------------------------------------------------

Role = Literal["owner", "admin", "member"]


class Member(BaseModel):
    id: str = Field(description="The person's user id.")
    email: str
    name: str
    role: Role
    joined_at: str


class MemberList(BaseModel):
    data: list[Member]
    next_cursor: str | None


class MemberQuery(ListQuery):
    role: Role | None = Field(None, description="Only members with this role.")


def _member(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["display_name"],
        "role": row["role"],
        "joined_at": row["created_at"],
    }


_MEMBERS = "SELECT id, email, display_name, role, created_at FROM core_tenant_users"


@api.get("/members", summary="List members", query=MemberQuery, response=MemberList, tag="Members")
def list_members(call: ApiCall) -> dict:
    role = call.query.role
    return _list(call, _MEMBERS, ["role = :role"] if role else [], {"role": role}, _member)


@api.get("/members/{user_id}", summary="Get a member", response=Member, tag="Members")
def get_member(call: ApiCall) -> dict:
    rows = call.db.q(f"{_MEMBERS} WHERE id = :id", id=call.path["user_id"])
    if not rows:
        raise Problem(404, "There is no member with that id.")
    return _member(rows[0])


# -- jobs ----------------------------------------------------------------------------------

JobStatus = Literal["pending", "running", "completed", "failed", "cancelled"]
assert set(JobStatus.__args__) == set(STATUSES)  # type: ignore[attr-defined]


class Job(BaseModel):
    id: str
    type: str
    status: JobStatus
    attempts: int
    max_attempts: int
    progress: int
    message: str
    error: str | None
    created_at: str
    updated_at: str
    finished_at: str | None


class JobList(BaseModel):
    data: list[Job]
    next_cursor: str | None


class JobQuery(ListQuery):
    status: JobStatus | None = Field(None, description="Only jobs in this state.")
    type: str | None = Field(None, max_length=100, description="Only jobs of this type.")


_JOBS = """SELECT id, job_type, status, attempts, max_attempts, progress, progress_message, error,
                  payload, result, created_at, updated_at, finished_at FROM tenant_jobs"""


def _job(row: dict[str, Any]) -> dict[str, Any]:
    # Payload and result stay out: they are shown only to whoever may see a job's details.
    return {
        "id": row["id"],
        "type": row["job_type"],
        "status": row["status"],
        "attempts": row["attempts"],
        "max_attempts": row["max_attempts"],
        "progress": row["progress"],
        "message": row["progress_message"],
        "error": row["error"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "finished_at": row["finished_at"],
    }


@api.get("/jobs", summary="List jobs", query=JobQuery, response=JobList, tag="Jobs")
def list_jobs(call: ApiCall) -> dict:
    conditions, params = [], {}
    for column, value in (("status", call.query.status), ("job_type", call.query.type)):
        if value is not None:
            conditions.append(f"{column} = :{column}")
            params[column] = value
    return _list(call, _JOBS, conditions, params, _job)


@api.get("/jobs/{job_id}", summary="Get a job", response=Job, tag="Jobs")
def get_job(call: ApiCall) -> dict:
    rows = call.db.q(f"{_JOBS} WHERE id = :id", id=call.path["job_id"])
    if not rows:
        raise Problem(404, "There is no job with that id.")
    return _job(rows[0])


# -- sync runs (the sync jobs) ---------------------------------------------------------------


class SyncRun(BaseModel):
    id: str = Field(description="The run's job id.")
    source_id: str | None
    mode: str | None
    status: JobStatus
    outcome: str | None = Field(description="How the run ended: succeeded, cancelled, skipped...")
    pages: int | None
    fetched: int | None
    written: int | None
    error: str | None
    created_at: str
    finished_at: str | None


class SyncRunList(BaseModel):
    data: list[SyncRun]
    next_cursor: str | None


class SyncRunQuery(ListQuery):
    status: JobStatus | None = Field(None, description="Only runs in this state.")
    source_id: str | None = Field(
        None, pattern=r"^[a-f0-9]{32}$", description="Only runs of this source."
    )


def _sync_run(row: dict[str, Any]) -> dict[str, Any]:
    payload = json.loads(row["payload"] or "{}")
    result = json.loads(row["result"]) if row["result"] else {}
    result = result if isinstance(result, dict) else {}
    return {
        "id": row["id"],
        "source_id": payload.get("source_id"),
        "mode": payload.get("mode"),
        "status": row["status"],
        "outcome": result.get("status"),
        "pages": result.get("pages"),
        "fetched": result.get("fetched"),
        "written": result.get("written"),
        "error": row["error"],
        "created_at": row["created_at"],
        "finished_at": row["finished_at"],
    }


@api.get(
    "/sync-runs", summary="List sync runs", query=SyncRunQuery, response=SyncRunList, tag="Sync"
)
def list_sync_runs(call: ApiCall) -> dict:
    conditions, params = ["job_type = :sync"], {"sync": SYNC_JOB}
    if call.query.status is not None:
        conditions.append("status = :status")
        params["status"] = call.query.status
    if call.query.source_id is not None:  # hex, checked: it matches only itself in the JSON
        conditions.append("payload LIKE :source")
        params["source"] = f'%"source_id": "{call.query.source_id}"%'
    return _list(call, _JOBS, conditions, params, _sync_run)


@api.get("/sync-runs/{run_id}", summary="Get a sync run", response=SyncRun, tag="Sync")
def get_sync_run(call: ApiCall) -> dict:
    rows = call.db.q(
        f"{_JOBS} WHERE id = :id AND job_type = :sync", id=call.path["run_id"], sync=SYNC_JOB
    )
    if not rows:
        raise Problem(404, "There is no sync run with that id.")
    return _sync_run(rows[0])
