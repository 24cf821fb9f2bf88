"""The session cookie: a small signed dict (in practice an opaque session id), read once.

The cookie has Starlette's format (`base64(json)` signed with a timestamp by itsdangerous), so
a cookie set by Starlette's SessionMiddleware keeps working. What differs is the cost: a
cookie value seen before is not verified and decoded again but found in a bounded cache of
recent values, and a cookie is written only when the session changed. The real session
(who, which tenant, expiry, revocation) lives server-side in the catalog; the cookie only
names it, so the cache can never grant more than the signature already did.
"""

from __future__ import annotations

import json
import time
from base64 import b64decode, b64encode
from collections import OrderedDict
from typing import Any

import itsdangerous
from starlette.requests import cookie_parser

CACHE_SIZE = 10_000


class SessionCookie:
    def __init__(self, secret_key: str, *, name: str, max_age: int, secure: bool):
        self.signer = itsdangerous.TimestampSigner(secret_key)
        self.name, self.max_age = name, max_age
        flags = "; path=/; httponly; samesite=lax" + ("; secure" if secure else "")
        self._set = f"{name}={{}}; Max-Age={max_age}{flags}"
        self._clear = f"{name}=null; expires=Thu, 01 Jan 1970 00:00:00 GMT{flags}"
        self._seen: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()

    def value(self, cookie_header: str) -> str | None:
        """This cookie's value in a `Cookie:` header, if present."""
        if self.name not in cookie_header:
            return None
        return cookie_parser(cookie_header).get(self.name)

    def load(self, raw: str | None) -> dict[str, Any]:
        """The session in a cookie value: {} when absent, tampered, malformed or too old."""
        if not raw:
            return {}
        seen = self._seen.get(raw)
        if seen is not None:
            session, signed = seen
            if time.time() - signed <= self.max_age:
                self._seen.move_to_end(raw)
                return dict(session)
            del self._seen[raw]
            return {}
        try:
            data, signed_at = self.signer.unsign(raw, max_age=self.max_age, return_timestamp=True)
            session = json.loads(b64decode(data))
        except (itsdangerous.BadSignature, ValueError, UnicodeError):
            return {}
        if not isinstance(session, dict):
            return {}
        self._seen[raw] = (session, signed_at.timestamp())
        if len(self._seen) > CACHE_SIZE:
            self._seen.popitem(last=False)
        return dict(session)

    def header(self, before: dict[str, Any], after: dict[str, Any]) -> bytes | None:
        """The `Set-Cookie` value for a session that changed from `before` to `after`."""
        if after == before:
            return None
        if not after:
            return self._clear.encode()
        signed = self.signer.sign(b64encode(json.dumps(after).encode())).decode()
        return self._set.format(signed).encode()
