"""`POST /webhooks/{source}/{token}`: where other systems deliver events to a tenant; and
`POST /webhooks/stripe`: Stripe's events for the whole account (app/billing/webhook.py).

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

from app.billing import webhook as stripe_webhook
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


async def _body(req: Request) -> bytes | Receipt:
    """The raw body, or the answer to a delivery that is too large or was cut short."""
    limit = req.app.state.settings.webhook_max_body_bytes
    try:
        return await read_body(req, limit)
    except TooLarge:
        return Receipt(413, f"the body is larger than {limit} bytes")
    except ClientDisconnect:  # nobody is listening for an answer; store nothing
        return Receipt(400, "the body was cut short")


def _refusals_limited(req: Request, receipt: Receipt, key: str) -> Receipt:
    """Refused deliveries count in a bucket of their own (per endpoint, or per address for
    URLs that name none), so a flood of forgeries cannot starve the verified ones."""
    if receipt.status in (400, 401, 404):
        key = key if receipt.status != 404 else f"ip:{req.client.host if req.client else ''}"
        if (wait := req.app.state.limits.webhook(key, verified=False)) > 0:
            return Receipt(429, "too many refused deliveries", retry_after=math.ceil(wait))
    return receipt


@rt.post("/webhooks/stripe")
async def receive_stripe(req: Request) -> JSONResponse:
    body = await _body(req)
    if isinstance(body, Receipt):
        return Answer(body)
    state = req.app.state
    receipt = await run_in_threadpool(
        stripe_webhook.receive, job_manager(req.app), state.settings, req.headers, body
    )
    receipt = _refusals_limited(req, receipt, req.url.path)
    WEBHOOKS_IN.labels("stripe", str(receipt.status)).inc()
    return Answer(receipt)


@rt.post("/webhooks/{source}/{token}")
async def receive_webhook(req: Request) -> JSONResponse:
    body = await _body(req)
    if isinstance(body, Receipt):
        return Answer(body)
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
    receipt = _refusals_limited(req, receipt, endpoint)
    # The source is a label only if it is one of ours: anything else in the path is one value.
    WEBHOOKS_IN.labels(source if source in SOURCES else "unknown", str(receipt.status)).inc()
    return Answer(receipt)
