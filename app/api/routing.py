"""API endpoints: declared once, served, validated and documented from the same declaration.

    from app.api.routing import Api, ApiCall

    api = Api("/api/v1")

    @api.get("/projects/{project_id}", summary="Get a project", scope="read",
             response=Project, tag="Projects")
    def get_project(call: ApiCall) -> dict:
        rows = call.db.q("SELECT id, name FROM projects WHERE id = :id", id=call.path["project_id"])
        if not rows:
            raise Problem(404, "There is no project with that id.")
        return rows[0]

`query` and `body` are pydantic models: the request's query string and JSON body are checked
against them before the handler runs (400 and 422 problem documents naming each bad field),
and the handler gets them as `call.query` and `call.body`. `response` is the model of what it
returns (a dict, or None for 204). The same models make the OpenAPI document
(app/api/openapi.py), so the docs say exactly what the server enforces. A POST may carry an
`Idempotency-Key` (app/api/idempotency.py).

Where a handler runs follows app/web/mount.py: a GET on SQLite runs on the event loop (its
reads take microseconds and never wait); everything else in a worker thread. Its database
writes belong to the request's unit of work: committed once the answer is ready, rolled back
if the handler raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fasthtml.common import APIRouter
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from app.api.idempotency import IDEMPOTENCY_HEADER, once
from app.api.keys import rate_headers
from app.api.problems import Problem
from tenants.api_keys import ApiKey
from tenants.routing import TenantDB
from tenants.sqlite_writers import on_event_loop

JSON = "application/json"


@dataclass
class ApiCall:
    """What a handler gets: the request, the key (the workspace and its scope), the
    workspace's database, the path parameters and the checked query and body."""

    req: Request
    key: ApiKey
    db: TenantDB
    path: dict[str, str]
    query: Any = None
    body: Any = None
    raw: bytes = b""  # the body as sent

    @property
    def tenant_id(self) -> str:
        return self.key.tenant_id


Handler = Callable[[ApiCall], Any]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the full path template, /api/v1/...
    summary: str
    scope: str  # "read" or "write": the key scope it needs
    tag: str
    handler: Handler = field(repr=False)
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


class Api:
    """A set of endpoints under one prefix; `rt` is the APIRouter the app mounts (class api)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.rt = APIRouter()
        self.endpoints: list[Endpoint] = []

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self._route("GET", path, scope="read", **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self._route("POST", path, scope="write", status=201, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self._route("PATCH", path, scope="write", **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self._route("DELETE", path, scope="write", status=204, **kw)

    def _route(self, method: str, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            endpoint = Endpoint(method, self.prefix + path, handler=handler, **kw)
            self.endpoints.append(endpoint)
            getattr(self.rt, method.lower())(endpoint.path)(_serve(endpoint))
            return handler

        return register


def _serve(endpoint: Endpoint):
    """The route handler FastHTML calls for `endpoint` (after the guard found the key)."""

    async def serve(req: Request, auth) -> Response:  # auth: a KeyAuth (app/api/keys.py)
        if not auth.key.allows(endpoint.scope):
            raise Problem(403, "This API key is read-only; this needs a read-write key.")
        call = ApiCall(req, auth.key, auth.db, dict(req.path_params))
        call.query = _checked_query(endpoint, req)
        if endpoint.body is not None:
            call.raw = await req.body()
            call.body = _checked_body(endpoint, call.raw, req.headers.get("content-type"))
        key = req.headers.get(IDEMPOTENCY_HEADER) if endpoint.method == "POST" else None
        if key is not None:
            status, text, replayed = await _run(
                req, once, call, key, lambda: _answer(endpoint, call)
            )
        else:
            (status, text), replayed = await _run(req, _answer, endpoint, call), False
        headers = rate_headers(req.scope["api_rate"]) if "api_rate" in req.scope else {}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        if status == 204:
            return Response(status_code=204, headers=headers)
        return Response(text, status_code=status, headers=headers, media_type=JSON)

    serve.__name__ = endpoint.operation_id
    return serve


def _answer(endpoint: Endpoint, call: ApiCall) -> tuple[int, str]:
    """Run the handler: (status, JSON text)."""
    result = endpoint.handler(call)
    if result is None:
        return 204, ""
    return endpoint.status, json.dumps(result, ensure_ascii=False, separators=(",", ":"))


async def _run(req: Request, func: Callable[..., Any], *args: Any) -> Any:
    state = req.app.state
    if req.method == "GET" and state.reads_on_loop:
        marker = on_event_loop.set(f"API {req.method} {req.url.path}")  # a write here is a bug
        try:
            return func(*args)
        finally:
            on_event_loop.reset(marker)
    return await run_in_threadpool(func, *args)


def _errors(error: ValidationError, where: str) -> list[dict[str, str]]:
    found = []
    for item in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in item["loc"]) or where
        found.append({"field": name, "message": item["msg"]})
    return found


def _checked_query(endpoint: Endpoint, req: Request) -> Any:
    params = req.query_params
    if endpoint.query is None:
        if params:
            raise Problem(400, "This endpoint takes no query parameters.")
        return None
    repeated = sorted({name for name, _ in params.multi_items() if len(params.getlist(name)) > 1})
    if repeated:
        errors = [{"field": name, "message": "Give this parameter once."} for name in repeated]
        raise Problem(400, "A query parameter was given more than once.", errors=errors)
    try:
        return endpoint.query.model_validate(dict(params))
    except ValidationError as e:
        raise Problem(
            400, "Some query parameters are not valid.", errors=_errors(e, "query")
        ) from None


def _checked_body(endpoint: Endpoint, raw: bytes, content_type: str | None) -> Any:
    assert endpoint.body is not None
    if (content_type or "").split(";")[0].strip().lower() != JSON:
        raise Problem(415, "Send the body as JSON (Content-Type: application/json).")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # bad UTF-8, bad JSON, absurd nesting
        raise Problem(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Problem(422, "The body must be a JSON object.")
    try:
        return endpoint.body.model_validate(data)
    except ValidationError as e:
        raise Problem(422, "Some fields are not valid.", errors=_errors(e, "body")) from None
