"""The pages a person sees, and the first-run promise: `/` works, `/dashboard` asks to sign in."""

from tests.conftest import dev_sign_in, page_csrf


def test_landing_is_public_and_dashboard_needs_sign_in(client):
    assert client.get("/").status_code == 200
    response = client.get("/dashboard", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_htmx_request_gets_hx_redirect_to_login(client):
    response = client.get("/dashboard", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.headers.get("hx-redirect") == "/login"


def test_sign_in_lands_on_own_dashboard(client):
    dev_sign_in(client, "ada@example.com", "Ada")
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "Ada&#x27;s workspace" in page.text or "Ada's workspace" in page.text
    assert "ada@example.com" in page.text
    assert 'hx-get="/dashboard/activity"' in page.text  # the activity comes next, on its own
    assert "Set up the workspace" in client.get("/dashboard/activity").text  # audit, in words


def test_signed_in_login_page_redirects_to_dashboard(client):
    dev_sign_in(client, "ada@example.com")
    response = client.get("/login", follow_redirects=False)
    assert response.headers["location"] == "/dashboard"


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.text
    assert "Traceback" not in response.text


def test_notes_round_trip_and_inline_validation(client):
    dev_sign_in(client, "ada@example.com")
    headers = {"X-CSRF-Token": page_csrf(client), "HX-Request": "true"}
    added = client.post("/notes", data={"body": "first <b>note</b>"}, headers=headers)
    assert added.status_code == 200
    assert "first &lt;b&gt;note&lt;/b&gt;" in added.text
    empty = client.post("/notes", data={"body": "   "}, headers=headers)
    assert "Write something first." in empty.text
    assert client.get("/notes").text.count("first &lt;b&gt;note") == 1
