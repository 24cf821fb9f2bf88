"""Plan enforcement: the one check every gated route makes, on the server, before it changes
anything.

    require_room(auth, "webhook_endpoints", used=len(endpoints))   # before creating one more
    require_feature(auth, "audit_log")

Both raise `PlanLimit` (HTTP 402), whose answer says what the plan allows and links to the
billing page (a toast for HTMX, an error page otherwise); raising rolls the request's writes
back, so nothing changes. The plan comes from the session lookup (app/billing/state.py), so
a check costs a comparison; counting what is used is the route's own query.

Over a limit after a downgrade, nothing is deleted: what exists keeps working, and only
adding more is refused (scheduled syncs beyond the limit are skipped, app/syncs/jobs.py).
"""

from __future__ import annotations

from fasthtml.common import A, Div, HttpHeader, Span
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.billing.plans import FLAG_LABELS, LIMIT_LABELS, PAID, Plan
from app.billing.state import current_plan, tenant_plan
from app.ui.layout import ErrorPage
from app.web.permissions import can

BILLING_PAGE = "/settings/billing"


class PlanLimit(HTTPException):
    """The workspace's plan does not allow this; `upgrade` says whether one would."""

    def __init__(self, message: str, upgrade: bool = True):
        super().__init__(402, message)
        self.upgrade = upgrade


def _better(limit: str, used: int) -> Plan | None:
    """The cheapest paid plan that has room for one more."""
    for candidate in PAID:
        allowed = candidate.limit(limit)
        if allowed is None or allowed > used:
            return candidate
    return None


def room_problem(current: Plan, limit: str, used: int, adding: int = 1) -> str | None:
    """Why `current` has no room for `adding` more of `limit` beyond `used`, or None."""
    allowed = current.limit(limit)
    if allowed is None or used + adding <= allowed:
        return None
    label = LIMIT_LABELS[limit]
    better = _better(limit, used)
    offer = f" {better.name} allows {better.limit(limit) or 'unlimited'}." if better else ""
    if allowed == 0:
        return f"The {current.name} plan has no {label}.{offer}"
    return (
        f"The {current.name} plan allows {allowed} {label}, and this workspace has {used}.{offer}"
    )


def require_room(auth, limit: str, used: int, adding: int = 1) -> None:
    """Refuse (402) unless the workspace's plan allows `adding` more of `limit`."""
    if problem := room_problem(current_plan(auth), limit, used, adding):
        raise PlanLimit(problem)


def over_limit(auth, limit: str, used: int) -> PlanLimit:
    """The refusal for a limit found full where it is counted (inside a locked transaction)."""
    return PlanLimit(room_problem(current_plan(auth), limit, used, 1) or "The plan is full.")


def require_room_in(tenant: dict, limit: str, used: int) -> None:
    """The same for a workspace other than the session's (joining one by invitation): the
    person asking cannot upgrade it, so the message sends them to its owner."""
    if problem := room_problem(tenant_plan(tenant), limit, used):
        raise PlanLimit(f"{problem} Ask an owner of {tenant['name']} to upgrade.", upgrade=False)


def require_feature(auth, feature: str) -> None:
    """Refuse (402) unless the workspace's plan includes `feature`."""
    current = current_plan(auth)
    if not current.has(feature):
        better = next((p for p in PAID if p.has(feature)), None)
        offer = f" It comes with {better.name}." if better else ""
        raise PlanLimit(f"{FLAG_LABELS[feature]} is not part of the {current.name} plan.{offer}")


def UpgradeLink(req: Request):
    """Where to go from a refusal: the billing page for those who may change the plan."""
    auth = req.scope.get("auth")
    if auth is not None and can(auth, "billing", "manage"):
        return A("See plans and upgrade", href=BILLING_PAGE)
    return Span("Ask an owner of this workspace to upgrade.")


def plan_limit_answer(req: Request, exc: Exception):
    """The answer to PlanLimit (registered for 402 in app/web/errors.py)."""
    db = getattr(req.scope.get("auth"), "db", None)
    if db is not None:
        db.rollback()
    message = getattr(exc, "detail", "") or "Your plan does not allow this."
    link = UpgradeLink(req) if getattr(exc, "upgrade", True) else ""
    if "hx-request" in req.headers:
        toast = Div(
            Div(message, " ", link, cls="toast toast-error", role="status"),
            id="toasts",
            hx_swap_oob="true",
        )
        return toast, HttpHeader("HX-Reswap", "none")
    return ErrorPage(req, 402, "Upgrade needed", Div(message, " ", link))
