"""Webhook signatures: HMAC-SHA256 over the raw request bytes, compared in constant time.

Two schemes, both widely used:

- timestamped (Stripe style): header `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, signed over
  `b"<t>." + body`. The timestamp is inside the signature, so a captured delivery cannot be
  replayed after `tolerance` seconds; several `v1` let a sender sign with two secrets while
  it rotates.
- github: header `X-Hub-Signature-256: sha256=<hex>`, signed over the body alone.

Verify before parsing: the body is checked exactly as it arrived, never re-encoded JSON.
Every `verify_*` returns None or raises a `SignatureError` saying what was wrong, which is
safe to tell the sender (it reveals nothing about the secret). No web imports here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable

TOLERANCE_SECONDS = 300
MAX_HEADER_LENGTH = 2048  # a header this long is not a signature; don't parse it
_HEX64 = re.compile(r"[0-9a-f]{64}")
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


class SignatureError(Exception):
    """The delivery is not signed by any of the secrets; the message says why."""


def _digest(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _matches(candidates: list[str], secrets: Iterable[str], message: bytes) -> bool:
    expected = [_digest(s, message) for s in secrets]
    # compare_digest on every pair: no early exit that would time how far a guess got
    hits = [hmac.compare_digest(e, c) for e in expected for c in candidates]
    return any(hits)


def sign_timestamped(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `t=...,v1=...` header value for `body`, signed at `timestamp` (default: now)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(secret, f'{t}.'.encode() + body)}"


def verify_timestamped(
    header: str | None,
    body: bytes,
    secrets: Iterable[str],
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Accept if some `v1` matches some secret and `t` is within `tolerance` of now."""
    if not header:
        raise SignatureError("missing signature header")
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("malformed signature header")
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and _UNIX_SECONDS.fullmatch(value):
            timestamp = int(value)
        elif key == "v1" and _HEX64.fullmatch(value):
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("malformed signature header")
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    if not _matches(candidates, secrets, f"{timestamp}.".encode() + body):
        raise SignatureError("signature does not match")


def sign_github(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` header value for `body`."""
    return f"sha256={_digest(secret, body)}"


def verify_github(header: str | None, body: bytes, secrets: Iterable[str]) -> None:
    """Accept if `sha256=<hex>` matches some secret. GitHub's scheme has no timestamp."""
    if not header:
        raise SignatureError("missing signature header")
    scheme, _, value = header.strip().partition("=")
    if scheme != "sha256" or not _HEX64.fullmatch(value):
        raise SignatureError("malformed signature header")
    if not _matches([value], secrets, body):
        raise SignatureError("signature does not match")
