"""The API's description: `/api/openapi.json` (OpenAPI 3.1) and `/api/docs`, a page made from
it on the server with the site's own stylesheet: no script, no CDN, nothing inline, so it
runs under the app's strict Content-Security-Policy as is."""

from __future__ import annotations

import functools
import json
from typing import Any

from fasthtml.common import H2, APIRouter, Article, Code, Details, Li, P, Pre, Summary, Tr, Ul
from starlette.requests import Request
from starlette.responses import Response

from app.api.openapi import document
from app.api.routing import Api
from app.ui.components import rendered_once
from app.ui.kit import Card, Cell, PageHeader, Table
from app.ui.layout import APP_NAME, Page

rt = APIRouter()


def spec(api: Api) -> dict[str, Any]:
    return document(api, f"{APP_NAME} API")


@functools.cache
def _spec_bytes(api: Api) -> bytes:
    return json.dumps(spec(api), indent=2).encode()


@rt.get("/api/openapi.json")
def openapi_json(req: Request) -> Response:
    # The app's Api (app.state.api, from app/routes/api.py): route modules do not import
    # one another.
    return Response(_spec_bytes(req.app.state.api), media_type="application/json")


def _schema_name(ref: dict[str, Any]) -> str:
    return ref.get("$ref", "").rsplit("/", 1)[-1]


def Parameters(parameters: list[dict[str, Any]]):
    if not parameters:
        return ""
    columns = ("Parameter", "In", "Type", "About")
    rows = [
        Tr(
            Cell(Code(p["name"]), " required" if p.get("required") else "", label="Parameter"),
            Cell(p["in"], label="In"),
            Cell(Code(json.dumps(p["schema"])), label="Type"),
            Cell(p.get("description", ""), label="About"),
        )
        for p in parameters
    ]
    return Table(columns, *rows, stack=True, caption="Parameters")


def Operation(method: str, path: str, operation: dict[str, Any]):
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    answers = operation["responses"]
    return Card(
        P(Code(f"{method.upper()} {path}")),
        P(operation["description"]),
        Parameters(operation["parameters"]),
        P("Body: ", Code(_schema_name(body["schema"]))) if body else "",
        Ul(
            *[
                Li(
                    Code(code),
                    " ",
                    answer["description"],
                    *[Code(_schema_name(c["schema"])) for c in answer.get("content", {}).values()],
                )
                for code, answer in answers.items()
            ]
        ),
        title=operation["summary"],
        id=operation["operationId"],
    )


@rendered_once
def Reference(api: Api):
    doc = spec(api)
    operations = [
        (tag["name"], method, path, op)
        for tag in doc["tags"]
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if op["tags"] == [tag["name"]]
    ]
    schemas = doc["components"]["schemas"]
    return Article(
        P(doc["info"]["description"]),
        P(
            "Machine-readable: ",
            Code("/api/openapi.json"),
            ". Errors are ",
            Code("application/problem+json"),
            " (RFC 9457). Every answer carries ",
            Code("RateLimit-Policy"),
            " and ",
            Code("RateLimit"),
            " headers.",
        ),
        *[
            item
            for tag in doc["tags"]
            for item in (
                H2(tag["name"]),
                *[Operation(m, p, op) for t, m, p, op in operations if t == tag["name"]],
            )
        ],
        H2("Schemas"),
        *[
            Details(Summary(Code(name)), Pre(Code(json.dumps(schema, indent=2))))
            for name, schema in schemas.items()
        ],
    )


@rt.get("/api/docs")
def api_docs(req: Request):
    header = PageHeader("API reference", "The REST API at /api/v1, for scripts holding an API key.")
    return Page(req, "API reference", header, Reference(req.app.state.api))
