"""`GET /metrics`: Prometheus text, for a scraper holding METRICS_TOKEN (app/telemetry)."""

from __future__ import annotations

import hmac

from fasthtml.common import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.telemetry.metrics import CONTENT_TYPE, exposition

rt = APIRouter()


@rt.get("/metrics")
async def metrics(req: Request) -> Response:
    state = req.app.state
    scheme, _, token = req.headers.get("authorization", "").partition(" ")
    expected = state.settings.metrics_token.encode()
    given = token.strip().encode()
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(given, expected):
        raise HTTPException(404)  # to anyone else there is nothing here
    body = await run_in_threadpool(exposition, state.catalog, state.databases)
    return Response(body, media_type=CONTENT_TYPE)
