"""A person's sessions under their control (issue 13 item 4): Account lists them with device,
place and last seen; one or all others can be signed out; a sign-in from a device the person
has not used before sends the sign-in notice email, and a known device sends none."""

from __future__ import annotations

import re

from app.lib.email import outbox_for
from tests.conftest import dev_sign_in
from tests.test_team import hx

EMAIL = "ada@example.com"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/126.0 Safari/537.36"
)


def notices(app) -> list:
    outbox = outbox_for(app.state.settings)
    return [
        m
        for m in (outbox.get(i) for i in outbox.ids())
        if m.to == EMAIL and m.subject.startswith("New sign-in")
    ]


def browser(new_client, agent: str):
    client = new_client()
    client.headers["user-agent"] = agent
    dev_sign_in(client, EMAIL, "Ada")
    return client


def session_ids(page: str) -> list[str]:
    return re.findall(r'id="session-([^"]+)"', page)


def own_session(client) -> str:
    """The id of the session this client is using (its row says "this browser")."""
    return session_ids(client.get("/account").text.split("(this browser)")[0])[-1]


def test_sessions_listed_signed_out_one_or_all_and_new_devices_noticed(app, new_client):
    laptop = browser(new_client, FIREFOX)
    assert notices(app) == []  # the first sign-up gets the welcome, not a notice
    phone = browser(new_client, CHROME_MAC)
    [notice] = notices(app)
    assert "Chrome on macOS" in notice.text and "/account#sessions" in notice.text
    tablet = browser(new_client, CHROME_MAC)  # a device seen before: no second notice
    assert len(notices(app)) == 1

    account = laptop.get("/account").text
    assert "Firefox on Linux" in account and "(this browser)" in account
    assert account.count("Chrome on macOS") == 2
    ids = session_ids(account)
    assert len(ids) == 3
    mine, phones = own_session(laptop), own_session(phone)
    assert len({mine, phones, own_session(tablet)}) == 3
    # Bad ids and this very session: refused, nothing signed out.
    for bad, status in (("nope", 404), ("x" * 5000, 404), ("' OR '1'='1", 404), (mine, 400)):
        answer = laptop.post(f"/account/sessions/{bad}/revoke", headers=hx(laptop))
        assert answer.status_code == status, bad
    assert phone.get("/dashboard", follow_redirects=False).status_code == 200

    one = laptop.post(f"/account/sessions/{phones}/revoke", headers=hx(laptop))
    assert one.status_code == 200 and "That session is signed out." in one.text
    assert phone.get("/dashboard", follow_redirects=False).status_code == 303
    assert tablet.get("/dashboard", follow_redirects=False).status_code == 200

    others = laptop.post("/account/sessions/revoke-others", headers=hx(laptop))
    assert "Signed out of 1 other session(s)." in others.text
    assert tablet.get("/dashboard", follow_redirects=False).status_code == 303
    assert laptop.get("/dashboard", follow_redirects=False).status_code == 200
    assert session_ids(laptop.get("/account").text) == [mine]
    actions = [
        r["action"]
        for r in app.state.catalog.rows("SELECT action FROM sys_audit_logs WHERE tenant_id IS NULL")
    ]
    assert "auth.session_revoked" in actions and "auth.sessions_revoked" in actions
