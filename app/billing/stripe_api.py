"""Every call the app makes to Stripe, through the official `stripe` library.

One client per key and API base (STRIPE_API_BASE points it at a local stand-in in tests),
with a timeout and the library's own retries (which send idempotency keys). Answers are
turned into plain dicts, so the rest of the app reads Stripe's documented fields and nothing
of the library's object model. A failure to reach Stripe or a refusal becomes
`StripeUnavailable`, whose message is fit to show.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, cast

import stripe
from stripe.params.checkout import SessionCreateParams

from app.settings import Settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 20
RETRIES = 2


class StripeUnavailable(Exception):
    """Stripe could not be reached, or refused the request."""


@functools.lru_cache(maxsize=4)
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=RETRIES,
        http_client=stripe.HTTPXClient(timeout=TIMEOUT_SECONDS, allow_sync_methods=True),
    )


class Stripe:
    """The calls, for the account in `settings` (Stripe must be configured)."""

    def __init__(self, settings: Settings):
        if not settings.billing_configured:
            raise StripeUnavailable("Billing is not configured (STRIPE_SECRET_KEY).")
        self.v1 = _client(settings.stripe_secret_key, settings.stripe_api_base).v1

    def _call(self, what: str, request: Any) -> dict[str, Any]:
        try:
            return request().to_dict()
        except stripe.StripeError as error:
            log.warning("Stripe refused or did not answer (%s): %s", what, error)
            raise StripeUnavailable(
                "Stripe did not complete the request. Try again in a moment."
            ) from error

    def create_customer(self, tenant_id: str, name: str, email: str) -> str:
        customer = self._call(
            "create customer",
            lambda: self.v1.customers.create(
                {"name": name, "email": email, "metadata": {"tenant_id": tenant_id}},
                {"idempotency_key": f"customer-{tenant_id}"},
            ),
        )
        return customer["id"]

    def checkout_session(self, params: dict[str, Any]) -> dict[str, Any]:
        typed = cast(SessionCreateParams, params)  # built by the route
        return self._call(
            "create checkout session", lambda: self.v1.checkout.sessions.create(typed)
        )

    def checkout_session_of(self, session_id: str) -> dict[str, Any]:
        return self._call(
            "read checkout session", lambda: self.v1.checkout.sessions.retrieve(session_id)
        )

    def portal_session(self, customer_id: str, return_url: str) -> dict[str, Any]:
        return self._call(
            "create portal session",
            lambda: self.v1.billing_portal.sessions.create(
                {"customer": customer_id, "return_url": return_url}
            ),
        )

    def subscriptions(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's subscriptions in every status, cancelled ones too."""
        listing = self._call(
            "list subscriptions",
            lambda: self.v1.subscriptions.list(
                {"customer": customer_id, "status": "all", "limit": 20}
            ),
        )
        return listing["data"]

    def invoices(self, customer_id: str, limit: int = 24) -> list[dict[str, Any]]:
        listing = self._call(
            "list invoices",
            lambda: self.v1.invoices.list({"customer": customer_id, "limit": limit}),
        )
        return listing["data"]

    def next_invoice(self, customer_id: str, subscription_id: str) -> dict[str, Any] | None:
        """A preview of the subscription's next invoice; None if Stripe has none to show."""
        try:
            return self.v1.invoices.create_preview(
                {"customer": customer_id, "subscription": subscription_id}
            ).to_dict()
        except stripe.InvalidRequestError:  # e.g. a subscription that ends at period end
            return None
        except stripe.StripeError as error:
            log.warning("Stripe did not preview the next invoice: %s", error)
            return None

    def set_quantity(self, subscription_id: str, item_id: str, quantity: int) -> dict[str, Any]:
        """Set a per-seat subscription's quantity (Stripe prorates by default)."""
        return self._call(
            "change quantity",
            lambda: self.v1.subscriptions.update(
                subscription_id, {"items": [{"id": item_id, "quantity": quantity}]}
            ),
        )

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        return self._call(
            "read subscription", lambda: self.v1.subscriptions.retrieve(subscription_id)
        )

    def cancel(self, subscription_id: str) -> dict[str, Any]:
        """End the subscription now (its workspace is gone); one already ended stays so."""
        current = self.subscription(subscription_id)
        if current["status"] in ("canceled", "incomplete_expired"):
            return current
        return self._call("cancel", lambda: self.v1.subscriptions.cancel(subscription_id))


def first_item(subscription: dict[str, Any]) -> dict[str, Any]:
    """The subscription's item (the plans here have one price each)."""
    items = (subscription.get("items") or {}).get("data") or []
    return items[0] if items else {}


def price_of(item: dict[str, Any]) -> dict[str, Any]:
    """An item's price; `plan` is the older name Stripe still sends beside it."""
    return item.get("price") or item.get("plan") or {}
