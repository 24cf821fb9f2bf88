"""The OpenAPI 3.1 document, generated from the endpoint declarations (app/api/routing.py).

Query parameters, request bodies and answers come from the same pydantic models that check
requests, so the document cannot drift from what the server does. Every operation lists the
errors every endpoint can answer (RFC 9457 problem documents), the key it needs, and, for
POST, the Idempotency-Key header.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api.problems import MEDIA_TYPE
from app.api.routing import Api, Endpoint

REF = "#/components/schemas/{model}"
PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
ERRORS = {
    "400": "Malformed request (bad query parameter, JSON or Idempotency-Key)",
    "401": "No API key, or one that is unknown, revoked or expired",
    "403": "The key's scope does not allow this, or the workspace is suspended",
    "404": "No such resource in this workspace",
    "429": "Rate limit exceeded (see Retry-After and the RateLimit headers)",
}
BODY_ERRORS = {
    "415": "The body is not sent as application/json",
    "422": "The body's fields are not valid, or an Idempotency-Key was reused differently",
}
RATE_HEADERS = {
    "RateLimit-Policy": {"schema": {"type": "string"}, "description": "The key's quota."},
    "RateLimit": {
        "schema": {"type": "string"},
        "description": "What is left of it, and when it resets.",
    },
}


@functools.cache
def document(api: Api, title: str, version: str = "1.0.0") -> dict[str, Any]:
    """The whole document (built once per process: the endpoints are fixed at startup)."""
    models = {m for e in api.endpoints for m in (e.body, e.response) if m is not None}
    _, defs = models_json_schema(
        [(m, "serialization") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template=REF,
    )
    schemas = {**defs.get("$defs", {}), "Problem": PROBLEM}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in api.endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "The workspace's data over HTTP. Authenticate with an API key from Settings → "
                "API keys, sent as `Authorization: Bearer sk_...`. Lists are newest first and "
                "paged by cursor: pass a page's `next_cursor` as `cursor` for the next one."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "tags": [{"name": tag} for tag in dict.fromkeys(e.tag for e in api.endpoints)],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "An API key."}
            },
        },
    }


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", endpoint.path)
    ]
    if endpoint.query is not None:
        parameters += _query_parameters(endpoint.query)
    if endpoint.method == "POST":
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Send the same key again within 24 hours to get the first answer "
                "back instead of doing it twice.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        )
    status = str(endpoint.status)
    answer: dict[str, Any] = {
        "description": "Done" if status == "204" else "OK",
        "headers": RATE_HEADERS,
    }
    if endpoint.response is not None and status != "204":
        answer["content"] = {
            "application/json": {"schema": {"$ref": REF.format(model=endpoint.response.__name__)}}
        }
    errors = {**ERRORS, **(BODY_ERRORS if endpoint.body is not None else {})}
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "description": f"Needs a {'read-write' if endpoint.scope == 'write' else 'read or read-write'} key.",
        "parameters": parameters,
        "responses": {
            status: answer,
            **{
                code: {
                    "description": text,
                    "content": {MEDIA_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}},
                }
                for code, text in errors.items()
            },
        },
    }
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": REF.format(model=endpoint.body.__name__)}}
            },
        }
    return operation


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters
