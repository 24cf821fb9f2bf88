"""localstripe on 127.0.0.1, plus thin stand-ins for the two Stripe APIs it lacks.

    python -m tests.support.stripe_server PORT

localstripe (PyPI) is a stateful fake of Stripe's API: customers, products, plans (which
Stripe accepts as prices), payment methods, subscriptions, invoices and signed webhook
delivery. It answers 404 for Checkout Sessions and Customer Portal sessions, so this adds
them, shaped like Stripe's documented objects (`checkout.session`,
`billing_portal.session`), in the same store, so localstripe's own webhook delivery sends
their events:

- POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id}: a session in mode
  `subscription` for an existing customer and one line item whose price is a plan here.
- POST /_test/checkout/{id}/complete [card=pm_card_visa]: what the customer does on
  Stripe's hosted page: the card becomes the customer's default, the subscription is made
  (trialing if the session asked for a trial end) and `checkout.session.completed` is sent.
- POST /v1/billing_portal/sessions: a portal session with a URL.

It listens on 127.0.0.1 only (localstripe's own start listens on every interface) and keeps
its store in memory (localstripe's writes it to a fixed file in /tmp, shared by everyone).
"""

from __future__ import annotations

import sys
import time

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.resources import (
    Customer,
    Event,
    PaymentMethod,
    Plan,
    StripeObject,
    Subscription,
    schedule_webhook,
    try_convert_to_int,
)

resources.store.dump_to_disk = lambda: None  # memory only
BASE = ""  # this server's own URL, set at start


def _checked(condition: bool) -> None:
    if not condition:
        raise UserError(400, "Bad request")


class CheckoutSession(StripeObject):
    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(
        self,
        mode=None,
        customer=None,
        line_items=None,
        success_url=None,
        cancel_url=None,
        client_reference_id=None,
        metadata=None,
        subscription_data=None,
        **kwargs,
    ):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        _checked(mode == "subscription")
        _checked(isinstance(customer, str) and customer.startswith("cus_"))
        _checked(isinstance(line_items, list) and len(line_items) == 1)
        item = line_items[0]
        quantity = try_convert_to_int(item.get("quantity", 1))
        _checked(isinstance(item.get("price"), str) and isinstance(quantity, int) and quantity > 0)
        for url in (success_url, cancel_url):
            _checked(isinstance(url, str) and url.startswith(("http://", "https://")))
        subscription_data = subscription_data or {}
        _checked(isinstance(subscription_data, dict))
        trial_end = try_convert_to_int(subscription_data.get("trial_end"))
        _checked(trial_end is None or (isinstance(trial_end, int) and trial_end > time.time()))
        Customer._api_retrieve(customer)  # 404 if there is no such customer
        Plan._api_retrieve(item["price"])  # 404 if there is no such price
        super().__init__()
        self.mode, self.customer = mode, customer
        self.client_reference_id = client_reference_id
        self.metadata = metadata or {}
        self.success_url = success_url.replace("{CHECKOUT_SESSION_ID}", self.id)
        self.cancel_url = cancel_url
        self.status, self.payment_status, self.subscription = "open", "unpaid", None
        self.url = f"{BASE}/checkout/{self.id}"
        self.expires_at = int(time.time()) + 24 * 3600
        self._price, self._quantity, self._trial_end = item["price"], quantity, trial_end
        self._subscription_metadata = subscription_data.get("metadata") or {}

    def _complete(self, card: str) -> None:
        if self.status != "open":
            raise UserError(400, "This Checkout Session is no longer open")
        method = PaymentMethod._api_attach(card, customer=self.customer)
        Customer._api_update(self.customer, invoice_settings={"default_payment_method": method.id})
        subscription = Subscription(
            customer=self.customer,
            items=[{"plan": self._price, "quantity": self._quantity}],
            trial_end=self._trial_end,
            metadata=self._subscription_metadata,
        )
        if self._trial_end:  # localstripe knows no trials: Stripe's subscription would be this
            subscription.status, subscription.trial_start = "trialing", int(time.time())
        self.subscription, self.status = subscription.id, "complete"
        self.payment_status = "no_payment_required" if self._trial_end else "paid"
        schedule_webhook(Event("checkout.session.completed", self))


class PortalSession(StripeObject):
    object = "billing_portal.session"
    _id_prefix = "bps_"

    def __init__(self, customer=None, return_url=None, **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        _checked(isinstance(customer, str) and customer.startswith("cus_"))
        _checked(isinstance(return_url, str) and return_url.startswith(("http://", "https://")))
        Customer._api_retrieve(customer)
        super().__init__()
        self.customer, self.return_url = customer, return_url
        self.url = f"{BASE}/portal/{self.id}"


async def complete_checkout(request: web.Request) -> web.Response:
    data = await server.get_post_data(request) or {}
    session = CheckoutSession._api_retrieve(request.match_info["id"])
    session._complete(data.get("card") or "pm_card_visa")
    return server.json_response(session._export())


def main(port: int) -> None:
    global BASE
    BASE = f"http://127.0.0.1:{port}"
    app, url = server.app, "/v1/checkout/sessions"
    app.router.add_route("POST", url, server.api_create(CheckoutSession, url))
    app.router.add_route("GET", url + "/{id}", server.api_retrieve(CheckoutSession, url))
    url = "/v1/billing_portal/sessions"
    app.router.add_route("POST", url, server.api_create(PortalSession, url))
    app.router.add_route("POST", "/_test/checkout/{id}/complete", complete_checkout)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
