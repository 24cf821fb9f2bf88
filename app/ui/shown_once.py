"""A secret shown once (a new API key, a signing secret): it arrives out of band into an
empty box on the page, with a copy button (static/copy.js) and a way to dismiss it."""

from __future__ import annotations

from fasthtml.common import Code, Div, P, Pre

from app.ui.kit import Button, Callout


def ShownOnce(what: str, value: str, value_id: str, box_id: str):
    return Div(
        Callout(
            P(f"Copy the {what} now: it will not be shown again."),
            Pre(Code(value, id=value_id)),
            Div(
                Button("Copy", variant="secondary", size="sm", data_copy=value_id),
                Button(
                    "I have stored it: dismiss", variant="ghost", size="sm", data_dismiss=box_id
                ),
                cls="btn-group",
            ),
            tone="warning",
            icon="shield",
        ),
        id=box_id,
        hx_swap_oob="true",
    )
