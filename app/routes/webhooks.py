"""`POST /webhooks/{source}/{token}`: where other systems deliver events to a tenant.

No session, no CSRF token: the signature is the credential (access class "webhook"). Answers
are small JSON bodies: 200 once the event is stored (or was stored before), 404 for any URL
that is not a live endpoint, 413 over WEBHOOK_MAX_BODY_BYTES, 401 for a missing, stale or
wrong signature, 400 for a body that is not a JSON object with an id and a type. Handling
runs after the response, as a job.

FastHTML reads and parses every request body, without a size limit, before a handler runs.
A webhook must cap the size and verify the exact bytes before anything parses them, so these
routes are registered as plain Starlette routes (`RawRouter`); they are still declared on
`rt`, so the access classes know them.
"""

from __future__ import annotations

import math

from fasthtml.common import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.telemetry.metrics import WEBHOOKS_IN
from app.webhooks.inbound import SOURCES, Receipt, receive
from app.work.jobs import job_manager


class RawRouter(APIRouter):
    """An APIRouter whose handlers take a Starlette `Request` and return a `Response`."""

    def to_app(self, app) -> None:
        for func, path, methods, name, *_ in self.routes:
            methods = [methods] if isinstance(methods, str) else methods
            app.add_route(Route(path, endpoint=func, methods=methods, name=name))


rt = RawRouter()


class TooLarge(Exception):
    pass


async def read_body(req: Request, limit: int) -> bytes:
    """The body, or TooLarge as soon as it is known to exceed `limit` (before reading it all)."""
    declared = req.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in req.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def Answer(receipt: Receipt) -> JSONResponse:
    content = {"ok": receipt.status == 200, "message": receipt.message}
    if receipt.event_id:
        content["event_id"] = receipt.event_id
    response = JSONResponse(content, status_code=receipt.status, background=receipt.task)
    if receipt.retry_after is not None:
        response.headers["Retry-After"] = str(receipt.retry_after)
    return response


@rt.post("/webhooks/{source}/{token}")
async def receive_webhook(req: Request) -> JSONResponse:
    limit = req.app.state.settings.webhook_max_body_bytes
    try:
        body = await read_body(req, limit)
    except TooLarge:
        return Answer(Receipt(413, f"the body is larger than {limit} bytes"))
    except ClientDisconnect:  # nobody is listening for an answer; store nothing
        return Answer(Receipt(400, "the body was cut short"))
    source, token = req.path_params["source"], req.path_params["token"]
    limits, endpoint = req.app.state.limits, req.url.path
    receipt = await run_in_threadpool(
        receive,
        job_manager(req.app),
        source,
        token,
        req.headers,
        body,
        lambda: limits.webhook(endpoint, verified=True),
    )
    if receipt.status in (400, 401, 404):
        # Refused deliveries count in a bucket of their own (per endpoint, or per address for
        # URLs that name none), so a flood of forgeries cannot starve the verified ones.
        key = endpoint if receipt.status != 404 else f"ip:{req.client.host if req.client else ''}"
        if (wait := limits.webhook(key, verified=False)) > 0:
            receipt = Receipt(429, "too many refused deliveries", retry_after=math.ceil(wait))
    # The source is a label only if it is one of ours: anything else in the path is one value.
    WEBHOOKS_IN.labels(source if source in SOURCES else "unknown", str(receipt.status)).inc()
    return Answer(receipt)
