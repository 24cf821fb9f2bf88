"""Passkeys (WebAuthn) with the `webauthn` package: register, sign in, second step.

The relying party is BASE_URL: its host name is the RP id, its origin the only origin
accepted (an assertion made on another origin is refused). Each ceremony's challenge is
kept server-side (core_oauth_states, under a random key held in the session) for five
minutes and used once: the row is deleted when the answer comes back, before it is checked,
so a replayed answer finds no challenge. Sign-in uses discoverable credentials, so a passkey
alone says who the person is; the second step asks only for this person's passkeys.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.settings import Settings
from tenants.catalog import Catalog
from tenants.stamp import from_now, new_id, now

CHALLENGE_SECONDS = 300
SESSION_KEY = "webauthn"  # session key: where this browser's pending challenge is kept
NAME_MAX = 60
PASSKEYS_MAX = 20
# What a broken, forged or foreign answer raises on its way through the parser and checks.
BAD_ANSWER = (WebAuthnException, ValueError, KeyError, TypeError, AttributeError)


class PasskeyRefused(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str
    name: str

    @classmethod
    def of(cls, settings: Settings, name: str) -> RelyingParty:
        url = urlsplit(settings.base_url)
        return cls(url.hostname or "localhost", f"{url.scheme}://{url.netloc}", name)


def passkeys_of(catalog: Catalog, user_id: str) -> list[dict[str, Any]]:
    return catalog.rows(
        """SELECT id, name, created_at, last_used_at, credential_id FROM core_passkeys
           WHERE user_id = :u ORDER BY created_at, id""",
        u=user_id,
    )


# -- challenges ---------------------------------------------------------------------------


def _remember(catalog: Catalog, sess: dict, purpose: str, challenge: bytes, user_id: str | None):
    key = f"webauthn:{secrets.token_urlsafe(24)}"
    value = json.dumps(
        {"purpose": purpose, "challenge": bytes_to_base64url(challenge), "user_id": user_id}
    )
    with catalog.begin() as conn:
        conn.execute(sa.text("DELETE FROM core_oauth_states WHERE expires_at < :t"), {"t": now()})
        conn.execute(
            sa.text("INSERT INTO core_oauth_states (key, value, expires_at) VALUES (:k, :v, :e)"),
            {"k": key, "v": value, "e": from_now(seconds=CHALLENGE_SECONDS)},
        )
    sess[SESSION_KEY] = key


def _take(catalog: Catalog, sess: dict, purpose: str) -> tuple[bytes, str | None]:
    """The pending challenge of this purpose, gone from the store from now on."""
    key = sess.pop(SESSION_KEY, None)
    if not isinstance(key, str):
        raise PasskeyRefused("No passkey request is pending here. Start again.")
    with catalog.begin() as conn:
        row = conn.execute(
            sa.text("SELECT value FROM core_oauth_states WHERE key = :k AND expires_at > :t"),
            {"k": key, "t": now()},
        ).first()
        gone = conn.execute(sa.text("DELETE FROM core_oauth_states WHERE key = :k"), {"k": key})
    if row is None or gone.rowcount != 1:
        raise PasskeyRefused("That passkey request expired or was used. Start again.")
    pending = json.loads(row[0])
    if pending["purpose"] != purpose:
        raise PasskeyRefused("That passkey request was for something else. Start again.")
    return base64url_to_bytes(pending["challenge"]), pending["user_id"]


# -- registration -------------------------------------------------------------------------


def registration_options(catalog: Catalog, rp: RelyingParty, sess: dict, user: dict) -> str:
    existing = passkeys_of(catalog, user["id"])
    if len(existing) >= PASSKEYS_MAX:
        raise PasskeyRefused(f"You have {PASSKEYS_MAX} passkeys; remove one to add another.")
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user["id"].encode(),
        user_name=user["email"],
        user_display_name=user["name"] or user["email"],
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p["credential_id"]))
            for p in existing
        ],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
    )
    _remember(catalog, sess, "register", options.challenge, user["id"])
    return options_to_json(options)


def register(
    catalog: Catalog, rp: RelyingParty, sess: dict, user_id: str, answer: Any, name: str
) -> str:
    """Check the browser's answer and store the new passkey; returns its id."""
    name = " ".join(name.split())[:NAME_MAX] or "Passkey"
    challenge, for_user = _take(catalog, sess, "register")
    if for_user != user_id:
        raise PasskeyRefused("That passkey request was for someone else.")
    try:
        verified = verify_registration_response(
            credential=answer,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except BAD_ANSWER as e:
        raise PasskeyRefused(f"The passkey could not be checked: {_why(e)}") from None
    transports = (
        answer.get("response", {}).get("transports", []) if isinstance(answer, dict) else []
    )
    passkey_id = new_id()
    try:
        catalog.execute(
            """INSERT INTO core_passkeys (id, user_id, credential_id, public_key, sign_count,
                                          name, transports, created_at)
               VALUES (:id, :u, :cred, :key, :count, :name, :tr, :t)""",
            id=passkey_id,
            u=user_id,
            cred=bytes_to_base64url(verified.credential_id),
            key=bytes_to_base64url(verified.credential_public_key),
            count=verified.sign_count,
            name=name,
            tr=json.dumps([t for t in transports if isinstance(t, str)][:8]),
            t=now(),
        )
    except sa.exc.IntegrityError:
        raise PasskeyRefused("That passkey is registered already.") from None
    return passkey_id


# -- authentication -----------------------------------------------------------------------


def authentication_options(
    catalog: Catalog, rp: RelyingParty, sess: dict, purpose: str, user_id: str | None = None
) -> str:
    """Options for `navigator.credentials.get`: any passkey of this site (sign-in), or only
    this person's (the second step)."""
    allowed = [
        PublicKeyCredentialDescriptor(id=base64url_to_bytes(p["credential_id"]))
        for p in (passkeys_of(catalog, user_id) if user_id else [])
    ]
    if user_id and not allowed:
        raise PasskeyRefused("You have no passkey yet.")
    options = generate_authentication_options(
        rp_id=rp.id,
        allow_credentials=allowed or None,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _remember(catalog, sess, purpose, options.challenge, user_id)
    return options_to_json(options)


def authenticate(catalog: Catalog, rp: RelyingParty, sess: dict, purpose: str, answer: Any) -> str:
    """Check an assertion; returns the id of the person whose passkey made it."""
    challenge, for_user = _take(catalog, sess, purpose)
    credential_id = answer.get("id") if isinstance(answer, dict) else None
    if not isinstance(credential_id, str):
        raise PasskeyRefused("The browser's answer named no passkey.")
    stored = catalog.row(
        "SELECT id, user_id, public_key, sign_count FROM core_passkeys WHERE credential_id = :c",
        c=credential_id,
    )
    if stored is None or (for_user is not None and stored["user_id"] != for_user):
        raise PasskeyRefused("That passkey is not registered here.", 403)
    try:
        verified = verify_authentication_response(
            credential=answer,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=base64url_to_bytes(stored["public_key"]),
            credential_current_sign_count=stored["sign_count"],
            require_user_verification=True,
        )
    except BAD_ANSWER as e:
        raise PasskeyRefused(f"The passkey was refused: {_why(e)}", 403) from None
    catalog.execute(
        "UPDATE core_passkeys SET sign_count = :n, last_used_at = :t WHERE id = :id",
        n=verified.new_sign_count,
        t=now(),
        id=stored["id"],
    )
    return stored["user_id"]


def _why(error: Exception) -> str:
    text = " ".join(str(error).split())[:160]
    return text if text.endswith(".") else f"{text or type(error).__name__}."
