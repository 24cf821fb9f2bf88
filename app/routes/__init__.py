"""Routers, one per area, each declared with its access class (see app/access.py).

To add an area: write `app/routes/<area>.py` with `rt = APIRouter()`, then list it here.
"""

from __future__ import annotations

from fasthtml.common import APIRouter

from app.routes import (
    account,
    account_lifecycle,
    admin,
    api,
    api_docs,
    api_keys,
    audit,
    auth,
    billing,
    blog,
    dashboard,
    dev_login,
    email_signin,
    health,
    invitations,
    jobs,
    members,
    metrics,
    notes,
    outbound_webhooks,
    outbox,
    passkeys,
    public,
    security,
    sessions,
    settings,
    sync,
    tenants,
    webhook_settings,
    webhooks,
)
from app.settings import Settings


def ROUTERS(config: Settings) -> list[tuple[str, APIRouter]]:
    routers = [
        ("public", public.rt),
        ("public", health.rt),
        ("public", auth.rt),
        ("public", blog.rt),
        ("public", invitations.link_rt),
        ("public", email_signin.rt),
        ("public", passkeys.rt),
        ("signed_in", account.rt),
        ("signed_in", account_lifecycle.rt),
        ("signed_in", invitations.accept_rt),
        ("signed_in", tenants.rt),
        ("signed_in", passkeys.account_rt),
        ("signed_in", sessions.rt),
        ("signed_in", admin.stop_rt),
        ("superuser", admin.rt),
        ("tenant", members.rt),
        ("tenant", invitations.rt),
        ("tenant", audit.rt),
        ("tenant", account_lifecycle.tenant_rt),
        ("tenant", dashboard.rt),
        ("tenant", notes.rt),
        ("tenant", settings.rt),
        ("tenant", security.rt),
        ("tenant", jobs.rt),
        ("tenant", webhook_settings.rt),
        ("tenant", sync.rt),
        ("tenant", api_keys.rt),
        ("tenant", outbound_webhooks.rt),
        ("tenant", billing.rt),
        ("webhook", webhooks.rt),
        ("api", api.rt),
        ("public", api_docs.rt),
    ]
    if config.metrics_token:  # without a token there is no /metrics at all
        routers.append(("public", metrics.rt))
    if not config.is_production:  # these do not exist in production at all
        routers.append(("signed_in", outbox.rt))
        routers.append(("tenant", billing.dev_rt))
    if config.dev_login_enabled:
        routers.append(("public", dev_login.rt))
    return routers
