"""Data sync: start a sync, watch its progress, browse the synced rows, set the schedule.

`/sync` shows every source of the tenant. Source
ids live in the tenant's own database, so another tenant's id is simply not found (404).
Default sources (the demo's, outside production) are created on first view, so a new user
can press "Sync now" straight away.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, cast

from fasthtml.common import (
    H3,
    APIRouter,
    Div,
    Figure,
    Form,
    Nav,
    Option,
    Progress,
    Select,
    Small,
    Td,
    Tr,
)
from fasthtml.svg import Rect, Svg, Text
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.syncs.jobs import cancel_sync, change_schedule, start_sync
from app.syncs.runner import MODES, in_progress
from app.syncs.sources import (
    SCHEDULES,
    SPECS,
    ensure_default_sources,
    get_source,
    list_sources,
)
from app.syncs.spec import SyncSpec
from app.ui.kit import Button, Card, EmptyState, Field, PageHeader, StatusBadge, Table, Toasts, When
from app.ui.layout import Page
from app.ui.time import workspace_zone
from app.web.mount import writes
from app.web.permissions import can, require
from tenants.stamp import now

rt = APIRouter()
ROWS_PER_PAGE = 20
CHART_BARS = 20  # the most common values of the chart column


def _source_or_404(auth, source_id: str) -> tuple[dict, SyncSpec]:
    source = get_source(auth.db, source_id)
    if source is None or source["kind"] not in SPECS:
        raise HTTPException(404)
    return source, SPECS[source["kind"]]


# --- components --------------------------------------------------------------------------


def SyncStatus(source: dict, runnable: bool = True, zone=UTC):
    """Status, progress and the actions `runnable` allows. While a sync runs it polls itself
    every second."""
    sid, running = source["id"], in_progress(source)
    fetched, total = source["run_fetched"], source["run_total"]
    progress = ""
    if running:
        progress = (
            Progress(value=min(fetched, total), max=total, aria_label="Sync progress")
            if total
            else Progress(aria_label="Sync progress")
        )
    counts = (
        f"{source['run_pages']} pages · {fetched:,} rows fetched · "
        f"{source['run_written']:,} new or changed"
    )
    if not runnable:
        actions = ""
    elif running:
        actions = Button("Cancel", hx_post=f"/sync/{sid}/cancel", variant="outline", size="sm")
    else:
        actions = Form(
            Button("Sync now", name="mode", value="incremental", type="submit", icon="sync"),
            Button("Full resync", name="mode", value="full", type="submit", variant="outline"),
            hx_post=f"/sync/{sid}/run",
            hx_target=f"#sync-status-{sid}",
            hx_swap="outerHTML",
            cls="btn-group",
        )
    polling = {"hx_get": f"/sync/{sid}/status", "hx_trigger": "every 1s", "hx_swap": "outerHTML"}
    last = source["last_success_at"]
    return Div(
        Div(
            Div(
                StatusBadge("sync", "syncing" if running else source["status"]),
                Small(counts, cls="muted"),
                cls="row",
            ),
            actions,
            cls="row-between",
        ),
        progress,
        Small("Last success: ", When(last, zone) if last else "never", cls="muted"),
        Small(source["last_error"], cls="error") if source["status"] == "failed" else "",
        id=f"sync-status-{sid}",
        cls="stack sync-status",
        **(polling if running else {}),
    )


def ScheduleForm(source: dict, editable: bool = True, error: str = "", zone=UTC):
    sid = source["id"]
    select = Select(
        *[Option(s.capitalize(), value=s, selected=s == source["schedule"]) for s in SCHEDULES],
        name="schedule",
        disabled=not editable,
    )
    upcoming = source["next_run_at"]
    return Form(
        Field("Schedule", select, error or None, id=f"schedule-{sid}", cls="field-narrow"),
        Button("Save", type="submit", variant="outline") if editable else "",
        Small("Next run: ", When(upcoming, zone), cls="muted") if upcoming else "",
        hx_post=f"/sync/{sid}/schedule",
        hx_swap="outerHTML",
        id=f"sync-schedule-{sid}",
        cls="inline-form schedule-form",
    )


def CountChart(counts: list[tuple[Any, int]], column: str):
    """Horizontal bars as inline SVG: attributes only, as the CSP forbids inline styles."""
    if not counts:
        return ""
    bar, gap, label_width, bar_space = 18, 6, 90, 200
    top = max(n for _, n in counts)
    shapes = []
    for i, (value, n) in enumerate(counts):
        y, length = i * (bar + gap), max(1, round(bar_space * n / top))
        shapes += [
            Text(str(value), x=0, y=y + 13, fill="currentColor", font_size=12),
            Rect(
                x=label_width,
                y=y,
                width=length,
                height=bar,
                rx=3,
                fill="currentColor",
                fill_opacity="0.55",
            ),
            Text(f"{n:,}", x=label_width + length + 6, y=y + 13, fill="currentColor", font_size=12),
        ]
    width, height = label_width + bar_space + 60, len(counts) * (bar + gap)
    return Figure(
        Svg(
            *shapes,
            viewBox=f"0 0 {width} {height}",
            width=width,
            height=height,
            role="img",
            aria_label=f"Rows by {column}",
        ),
        cls="sync-chart",
    )


def SyncedRows(db, spec: SyncSpec, source_id: str, page: int = 1):
    """A page of the synced table, a pager, and a chart of counts."""
    table = db.t[spec.table]  # a SyncSpec's names are checked to be plain SQL names
    total = table.count
    pages = max(1, -(-total // ROWS_PER_PAGE))
    page = min(max(1, page), pages)
    keys = [spec.key] if isinstance(spec.key, str) else list(spec.key)
    rows = table(
        order_by=", ".join([f"{spec.updated_column} DESC", *keys]),
        limit=ROWS_PER_PAGE,
        offset=(page - 1) * ROWS_PER_PAGE,
    )
    target = f"#sync-rows-{source_id}"

    def cell(column: str, value: Any):
        shown = "—" if value is None else spec.formats.get(column, str)(value)
        return Td(
            shown,
            cls="truncate" if len(shown) > 24 else None,
            title=shown if len(shown) > 24 else None,
        )

    def turn(label: str, to: int):
        return Button(
            label,
            hx_get=f"/sync/{source_id}/rows?page={to}",
            hx_target=target,
            hx_swap="outerHTML",
            variant="outline",
            size="sm",
        )

    chart = []
    if column := spec.chart_column:
        counts = db.q(
            f"SELECT {column} AS label, COUNT(*) AS n FROM {spec.table}"
            f" GROUP BY {column} ORDER BY n DESC, {column} LIMIT :bars",
            bars=CHART_BARS,
        )
        chart = [(r["label"], r["n"]) for r in counts]
    return Div(
        H3(f"Synced rows ({total:,})"),
        CountChart(chart, spec.chart_column or ""),
        Table(
            [heading for _, heading in spec.display],
            *[Tr(*[cell(c, r[c]) for c, _ in spec.display]) for r in rows],
        )
        if rows
        else EmptyState(
            "No rows yet", "Press Sync now to bring the first ones in.", icon="database"
        ),
        Nav(
            turn("Previous", page - 1) if page > 1 else "",
            Small(f"Page {page} of {pages}"),
            turn("Next", page + 1) if page < pages else "",
            cls="pager",
        ),
        id=f"sync-rows-{source_id}",
    )


def SourceCard(req: Request, auth, source: dict, zone):
    spec = SPECS[source["kind"]]
    return Card(
        SyncStatus(source, can(auth, "sync", "run"), zone),
        ScheduleForm(source, editable=can(auth, "sync", "manage"), zone=zone),
        SyncedRows(auth.db, spec, source["id"]),
        title=source["name"],
        id=f"sync-source-{source['id']}",
    )


def SyncPanel(req: Request, auth):
    """Every source of the tenant, each with its status, schedule and rows."""
    listed = list_sources(auth.db)
    if ensure_default_sources(auth.db, listed):
        listed = list_sources(auth.db)
    sources = [s for s in listed if s["kind"] in SPECS]
    if not sources:
        return Div(
            EmptyState(
                "No data sources yet",
                "Register a sync in app/syncs (see the README) and it shows up here.",
                icon="sync",
            ),
            id="sync-panel",
        )
    zone = workspace_zone(auth.db)
    return Div(*[SourceCard(req, auth, s, zone) for s in sources], id="sync-panel")


# --- routes ------------------------------------------------------------------------------


@rt.get("/sync")
@writes  # the default sources are made on first view
def sync_page(req: Request, auth):
    return Page(
        req,
        "Data sync",
        PageHeader("Data sync", "Bring data in from other systems, on demand or on a schedule."),
        SyncPanel(req, auth),
    )


@rt.get("/sync/{source_id}/status")
def sync_status(auth, source_id: str):
    source, spec = _source_or_404(auth, source_id)
    status = SyncStatus(source, can(auth, "sync", "run"), workspace_zone(auth.db))
    if in_progress(source):
        return status
    # Finished: stop polling and refresh the rows the run brought in.
    return status, SyncedRows(auth.db, spec, source_id)(hx_swap_oob="true")


@rt.post("/sync/{source_id}/run")
def sync_run(req: Request, auth, source_id: str, mode: str = ""):
    require(auth, "sync", "run")
    source, _ = _source_or_404(auth, source_id)
    if mode not in MODES:
        raise HTTPException(400, "Choose a sync now or a full resync.")
    if in_progress(source):
        return SyncStatus(source, zone=workspace_zone(auth.db)), Toasts(
            "A sync of this source is already running."
        )
    task = start_sync(req, auth.tenant_id, source_id, mode, submitted_by=auth.user_id)
    starting = {
        **source,
        "status": "running",
        "heartbeat_at": now(),
        "run_pages": 0,
        "run_fetched": 0,
        "run_written": 0,
        "run_total": None,
    }
    return SyncStatus(starting, zone=workspace_zone(auth.db)), Toasts("Sync started."), task


@rt.post("/sync/{source_id}/cancel")
def sync_cancel(req: Request, auth, source_id: str):
    require(auth, "sync", "run")
    source, _ = _source_or_404(auth, source_id)
    zone = workspace_zone(auth.db)
    if not in_progress(source) or not cancel_sync(req, auth.tenant_id, source["job_id"]):
        return SyncStatus(source, zone=zone), Toasts("That sync has already finished.")
    return SyncStatus(source, zone=zone), Toasts("Stopping after the current page.")


@rt.get("/sync/{source_id}/rows")
def sync_rows(auth, source_id: str, page: str = "1"):
    _, spec = _source_or_404(auth, source_id)
    number = int(page) if page.isdigit() and len(page) < 7 else 1
    return SyncedRows(auth.db, spec, source_id, number)


@rt.post("/sync/{source_id}/schedule")
def sync_schedule(req: Request, auth, source_id: str, schedule: str = ""):
    require(auth, "sync", "manage")
    source, _ = _source_or_404(auth, source_id)
    if schedule not in SCHEDULES:
        return ScheduleForm(source, error=f"Choose one of: {', '.join(SCHEDULES)}.")
    change_schedule(req, auth.db, source_id, schedule)
    saved = cast(dict, get_source(auth.db, source_id))  # found above
    zone = workspace_zone(auth.db)
    return ScheduleForm(saved, zone=zone), Toasts(f"Schedule: {schedule}.")
