"""Send a signed demo webhook, the way a provider would. Standard library only.

    uv run scripts/send_webhook.py URL SECRET ["message"] [--type demo.ping] [--id evt_123]

URL and SECRET are shown once when you create a "demo" endpoint under Settings -> Webhooks.
The event becomes a note on your dashboard. Send the same --id twice to see a redelivery
acknowledged but not processed again. The signature is the timestamped scheme:
header `Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" with SECRET>`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid


def signed_request(url: str, secret: str, body: bytes) -> urllib.request.Request:
    timestamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/json",
        "Webhook-Signature": f"t={timestamp},v1={mac.hexdigest()}",
    }
    return urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (http(s) checked in main)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("secret")
    parser.add_argument("message", nargs="?", default="Hello from send_webhook.py")
    parser.add_argument("--type", default="demo.ping", help="event type (default demo.ping)")
    parser.add_argument("--id", default=None, help="event id (default: a new random one)")
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        parser.error("URL must start with http:// or https://")
    event = {
        "id": args.id or f"evt_{uuid.uuid4().hex}",
        "type": args.type,
        "data": {"message": args.message},
    }
    request = signed_request(args.url, args.secret, json.dumps(event).encode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (http(s) only)
            status, answer = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read().decode()
    except urllib.error.URLError as error:
        print(f"could not reach {args.url}: {error.reason}", file=sys.stderr)
        return 2
    print(status, answer)
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
