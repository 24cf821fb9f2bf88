"""Email sign-in links: single use, 15 minutes, hashed at rest, bound to the asking browser.

Asking for a link stores the SHA-256 of the link's token, an HMAC of its six-digit code, and
the SHA-256 of a random value kept in the asking browser's signed session cookie. Opening
the link works only in a browser whose cookie holds that value; so does typing the code, for
when the email is read on another device. A few wrong codes and the link is dead. Every
redemption is one conditional UPDATE, so two tabs (or processes) racing for a link cannot
both win.

Anyone may ask for a link to any address and gets the same answer: the mail goes out either
way, because a first sign-in by email makes the account. Limits per address (counted here,
from the table, so every process sees them) and per IP (the edge's buckets) keep that from
becoming a way to flood someone's inbox.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from tenants.catalog import Catalog, token_hash
from tenants.stamp import from_now, new_id, now

LINK_MINUTES = 15
CODE_DIGITS = 6
MAX_CODE_ATTEMPTS = 5
BROWSER_KEY = "link_browser"  # session key: this browser's binding value


class LinkRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


INVALID = LinkRefused(400, "This sign-in link is invalid, used or expired. Ask for a new one.")
ELSEWHERE = LinkRefused(
    403,
    "This link works only in the browser where you asked for it. Open it there, or type the"
    " code from the email on that page.",
)
WRONG_CODE = LinkRefused(400, "That code is not right, or it has expired. Check the email.")


@dataclass(frozen=True)
class Link:
    id: str
    email: str
    purpose: str
    user_id: str | None


def browser_value(sess: dict) -> str:
    """This browser's binding value (made on first use, kept in its session cookie)."""
    if not isinstance(sess.get(BROWSER_KEY), str):
        sess[BROWSER_KEY] = secrets.token_urlsafe(24)
    return sess[BROWSER_KEY]


def _code_hash(secret: str, link_id: str, code: str) -> str:
    return hmac.new(secret.encode(), f"code:{link_id}:{code}".encode(), hashlib.sha256).hexdigest()


def asked_recently(catalog: Catalog, email: str, seconds: int) -> int:
    row = catalog.row(
        "SELECT COUNT(*) AS n FROM core_email_links WHERE email = :e AND created_at > :since",
        e=email,
        since=from_now(seconds=-seconds),
    )
    return row["n"] if row else 0


def issue(
    catalog: Catalog,
    secret: str,
    *,
    email: str,
    browser: str,
    ip: str,
    purpose: str = "sign_in",
    user_id: str | None = None,
) -> tuple[str, str]:
    """A new link for `email`; returns (token for the URL, code), neither stored as is."""
    link_id, token = new_id(), secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    catalog.execute(
        """INSERT INTO core_email_links (id, email, purpose, user_id, token_hash, code_hash,
                                         browser_hash, ip, created_at, expires_at)
           VALUES (:id, :email, :purpose, :u, :token, :code, :browser, :ip, :t, :exp)""",
        id=link_id,
        email=email,
        purpose=purpose,
        u=user_id,
        token=token_hash(token),
        code=_code_hash(secret, link_id, code),
        browser=token_hash(browser),
        ip=ip[:64],
        t=now(),
        exp=from_now(minutes=LINK_MINUTES),
    )
    return token, code


def _use(catalog: Catalog, row: dict) -> Link:
    used = catalog.execute(
        """UPDATE core_email_links SET used_at = :t
           WHERE id = :id AND used_at IS NULL AND expires_at > :t""",
        t=now(),
        id=row["id"],
    )
    if used != 1:  # someone (another tab) was quicker, or it just expired
        raise INVALID
    return Link(row["id"], row["email"], row["purpose"], row["user_id"])


def redeem_token(catalog: Catalog, token: str, browser: str | None) -> Link:
    """The link behind a URL token, used up; LinkRefused if it cannot be used here."""
    row = catalog.row(
        """SELECT id, email, purpose, user_id, browser_hash FROM core_email_links
           WHERE token_hash = :h AND used_at IS NULL AND expires_at > :t""",
        h=token_hash(token),
        t=now(),
    )
    if row is None:
        raise INVALID
    if not browser or not hmac.compare_digest(row["browser_hash"], token_hash(browser)):
        raise ELSEWHERE
    return _use(catalog, row)


def redeem_code(catalog: Catalog, secret: str, code: str, browser: str | None) -> Link:
    """The newest live link this browser asked for, if `code` is its code, used up."""
    if not browser:
        raise WRONG_CODE
    row = catalog.row(
        """SELECT id, email, purpose, user_id, code_hash FROM core_email_links
           WHERE browser_hash = :b AND used_at IS NULL AND expires_at > :t
           ORDER BY created_at DESC, id LIMIT 1""",
        b=token_hash(browser),
        t=now(),
    )
    if row is None:
        raise WRONG_CODE
    typed = "".join(code.split())
    if not hmac.compare_digest(row["code_hash"], _code_hash(secret, row["id"], typed)):
        catalog.execute(  # count the miss; the last allowed miss kills the link
            """UPDATE core_email_links SET attempts = attempts + 1,
                   used_at = CASE WHEN attempts + 1 >= :most THEN :t ELSE used_at END
               WHERE id = :id""",
            most=MAX_CODE_ATTEMPTS,
            t=now(),
            id=row["id"],
        )
        raise WRONG_CODE
    return _use(catalog, row)
