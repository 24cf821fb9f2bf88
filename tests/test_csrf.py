"""CSRF: every state-changing browser request needs this session's token, or gets 403."""

from tests.conftest import csrf_from, dev_sign_in, page_csrf


def test_post_without_token_is_refused_and_changes_nothing(client):
    dev_sign_in(client, "ada@example.com")
    response = client.post("/notes", data={"body": "sneaky"})
    assert response.status_code == 403
    assert "sneaky" not in client.get("/dashboard").text


def test_wrong_token_is_refused(client):
    dev_sign_in(client, "ada@example.com")
    response = client.post("/notes", data={"body": "x"}, headers={"X-CSRF-Token": "0" * 64})
    assert response.status_code == 403


def test_another_sessions_token_is_refused(client, new_client):
    dev_sign_in(client, "ada@example.com")
    other = new_client()
    dev_sign_in(other, "bob@example.com")
    response = client.post("/notes", data={"body": "x"}, headers={"X-CSRF-Token": page_csrf(other)})
    assert response.status_code == 403


def test_header_and_form_field_are_both_accepted(client):
    dev_sign_in(client, "ada@example.com")
    token = page_csrf(client)
    assert (
        client.post(
            "/notes", data={"body": "by header"}, headers={"X-CSRF-Token": token}
        ).status_code
        == 200
    )
    assert client.post("/notes", data={"body": "by field", "csrf_token": token}).status_code == 200


def test_delete_needs_the_token_too(client):
    dev_sign_in(client, "ada@example.com")
    assert client.delete("/notes/anything").status_code == 403


def test_login_form_is_protected_against_login_csrf(client):
    assert client.post("/login/dev", data={"email": "mallory@example.com"}).status_code == 403
    page = client.get("/login")
    ok = client.post(
        "/login/dev",
        data={"email": "ada@example.com", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert ok.status_code == 303


def test_htmx_error_is_a_toast_not_a_page(client):
    dev_sign_in(client, "ada@example.com")
    response = client.post("/notes", data={"body": "x"}, headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert response.headers["hx-reswap"] == "none"
    assert "toast-error" in response.text and "<html" not in response.text


def test_a_file_where_text_is_expected_is_refused(client):
    dev_sign_in(client, "ada@example.com")
    token = page_csrf(client)
    response = client.post(
        "/notes",
        data={"csrf_token": token},
        files={"body": ("evil.txt", b"not text", "text/plain")},
    )
    assert response.status_code == 400
    assert "not accepted" in response.text
