"""The design system's components (app/ui/kit.py) and the words and times they show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fasthtml.common import Input, Tr, to_xml

from app.billing.plans import PLANS, plan
from app.ui import kit
from app.ui.audit_labels import action_name, describe, details_of
from app.ui.time import exact, relative, zone

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_button_is_a_button_and_with_href_a_link():
    assert (
        to_xml(kit.Button("Save", type="submit"))
        == '<button type="submit" class="btn">Save</button>'
    )
    link = to_xml(kit.Button("Docs", href="/blog", variant="outline", size="sm"))
    assert link.startswith('<a href="/blog" class="btn btn-outline btn-sm">')
    assert 'type="button"' in to_xml(kit.Button("Close"))  # never submits a form by accident
    with pytest.raises(ValueError):
        kit.Button("x", variant="shiny")


def test_a_field_labels_its_control_and_shows_the_error_under_it_with_the_typed_value():
    html = to_xml(kit.Field("Email", Input(name="email", value="not an address"), error="Bad."))
    assert '<label for="field-email">Email</label>' in html
    assert 'value="not an address"' in html and 'aria-invalid="true"' in html
    assert 'aria-describedby="field-email-error"' in html
    assert '<p role="alert" id="field-email-error" class="field-error">Bad.</p>' in html
    clean = to_xml(kit.Field("Email", Input(name="email"), hint="Work address"))
    assert "aria-invalid" not in clean and 'aria-describedby="field-email-hint"' in clean


def test_states_read_as_people_say_them():
    assert "Queued" in to_xml(kit.StatusBadge("job", "pending"))
    assert "badge-success" in to_xml(kit.StatusBadge("sync", "succeeded"))
    assert "Past due" in to_xml(kit.StatusBadge("subscription", "past_due"))
    assert "Pending" in to_xml(kit.StatusBadge("invitation", "pending"))
    assert "Something new" in to_xml(kit.StatusBadge("job", "something_new"))  # never a KeyError


def test_a_confirmation_asks_in_the_page_dialog():
    attrs = kit.confirming("Remove ada?", action="Remove")
    assert attrs["hx_confirm"] == attrs["data_confirm"] == "Remove ada?"
    html = to_xml(kit.ConfirmDialog())
    assert 'id="confirm-dialog"' in html and 'method="dialog"' in html and "Cancel" in html


def test_a_toast_can_be_closed_and_swaps_in_out_of_band():
    html = to_xml(kit.Toasts("Saved."))
    assert 'id="toasts"' in html and 'hx-swap-oob="true"' in html
    assert 'aria-label="Dismiss"' in html and 'role="status"' in html
    assert 'class="toast toast-error"' in to_xml(kit.Toasts("No.", kind="error"))


def test_a_stacking_table_labels_its_cells():
    html = to_xml(kit.Table(("Name", ""), Tr(kit.Cell("Ada", label="Name")), stack=True))
    assert 'class="table-stack"' in html and 'data-label="Name"' in html
    assert '<span class="sr-only">Actions</span>' in html  # an empty header still has a name


def test_initials_and_avatars():
    assert kit.initials("Ada Lovelace") == "AL"
    assert kit.initials("", "bob@example.com") == "B"
    assert 'src="https://x/y.png"' in to_xml(kit.Avatar("Ada", url="https://x/y.png"))


def test_times_are_relative_with_the_exact_time_in_the_workspace_zone():
    assert relative(NOW - timedelta(seconds=10), NOW) == "just now"
    assert relative(NOW - timedelta(minutes=3), NOW) == "3 minutes ago"
    assert relative(NOW - timedelta(hours=1, minutes=5), NOW) == "1 hour ago"
    assert relative(NOW - timedelta(days=9), NOW) == "1 week ago"
    assert relative(NOW + timedelta(days=6, hours=23), NOW) == "in 6 days"
    assert exact(NOW, zone("Europe/Paris")) == "2 Dec 2026, 13:00 CET"
    assert zone("Not/AZone") is UTC and zone(None) is UTC
    html = to_xml(kit.When("2026-12-02T11:57:00.000000Z", zone("Asia/Tokyo")))
    assert 'datetime="2026-12-02T11:57:00.000000Z"' in html and "20:57 JST" in html
    assert "—" in to_xml(kit.When(None))


def test_audit_entries_read_as_sentences():
    assert describe("auth.sign_in", {}) == "Signed in"
    invited = describe("invitation.sent", {"email": "ada@example.com", "role": "admin"})
    assert invited == "Invited ada@example.com as admin"
    assert describe("billing.plan_changed", {}) == "Billing: plan changed"  # unknown: its name
    assert action_name("invitation.sent") == "Invited someone"
    assert details_of("not json") == {} and details_of('{"a": 1}') == {"a": 1}


def test_one_plan_definition():
    assert [p.tier for p in PLANS] == ["free", "pro", "enterprise"]
    assert plan("pro").price == "$29" and plan(None).tier == "free"
    assert sum(p.featured for p in PLANS) == 1
