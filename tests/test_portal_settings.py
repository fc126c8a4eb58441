"""A practice's admin runs its account in the portal: settings, hours and holidays, on-call rotations. The
same rules as the command line; refused input keeps what was typed; every change is kept with who made it
and each field before and after; callers hear a change from the next call."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright import sync_api as playwright_sync
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.hours import practice_is_open
from callcenter.models import OnCallRotation, OnCallShift, Practice, PracticeChange, User
from tests.support import (
    MAPLE_ADMIN,
    accessibility_problems,
    csp_refusals,
    csrf_token,
    incoming,
    log_in,
    log_in_browser,
)
from tests.twiml_helpers import parse, spoken

ADMIN = MAPLE_ADMIN


def _form(admin, **changes) -> dict:
    """The settings form as the page shows it now, with `changes` typed over it."""
    page = admin.get("/portal/settings")
    assert page.status_code == 200
    practice = {"greeting": "", "instructions": "", "option_message": "1", "option_appointment": "1",
                "option_refill": "1", "option_billing": "1", "spanish": "1", "max_wait_minutes": "10",
                "digest_at": "07:00", "recording_retention_days": "90"}
    return {**practice, "csrf_token": csrf_token(page), **changes}


def _text(answer) -> str:
    """The page as a person reads it (its entities unescaped)."""
    return html.unescape(answer.get_data(as_text=True))


def _changes(app, practice_id: int) -> list[PracticeChange]:
    with app.app_context():
        return db.session.scalars(select(PracticeChange).where(PracticeChange.practice_id == practice_id)
                                  .order_by(PracticeChange.id)).all()


def test_practice_staff_read_but_only_the_practices_admin_changes_settings(app, world, client, maple_admin):
    log_in(client, "desk@maple.test")
    assert "Settings" not in client.get("/portal/").get_data(as_text=True)
    assert client.get("/portal/settings").status_code == 403
    token = csrf_token(client.get("/portal/on-call"))
    assert client.post("/portal/settings", data={"csrf_token": token, "greeting": "Hi"}).status_code == 403
    assert client.post("/portal/on-call/rotations", data={"csrf_token": token}).status_code == 403
    assert 'href="/portal/settings"' in maple_admin.get("/portal/").get_data(as_text=True)


def test_a_new_greeting_and_menu_are_what_the_next_caller_hears_and_the_change_is_kept(
        app, world, twilio, maple_admin):
    answer = maple_admin.post("/portal/settings", data=_form(
        maple_admin, greeting="Thank you for calling Maple Street. We are here for you.", spanish="",
        option_refill="", option_billing="", max_wait_minutes="5", instructions="Dr. Chen covers Fridays."),
        follow_redirects=True)

    assert "Saved: greeting, instructions, languages, max wait seconds, menu options." in _text(answer)
    said = spoken(parse(twilio.post("/ivr/voice", incoming())))
    assert "Thank you for calling Maple Street. We are here for you." in said
    assert "refill" not in said.lower() and "billing" not in said.lower()
    assert "español" not in said.lower() and "press 9" not in said.lower()
    [change] = _changes(app, world["maple"])
    assert (change.by, change.what) == ("Dana Lee (dana@maple.test), portal", "settings")
    assert change.changes["max_wait_seconds"] == [600, 300]
    assert change.changes["languages"][1] == ["en"]
    assert change.changes["menu_options"] == [["urgent", "message", "appointment", "refill", "billing", "operator"],
                                              ["urgent", "message", "appointment", "operator"]]
    page = maple_admin.get("/portal/settings").get_data(as_text=True)
    assert "Dana Lee (dana@maple.test), portal" in page and "600 → 300" in page


def test_settings_a_practice_cannot_have_are_refused_clearly_and_keep_what_was_typed(app, world, maple_admin):
    answer = maple_admin.post("/portal/settings", data=_form(
        maple_admin, greeting="Welcome to Maple Street", max_wait_minutes="0", digest_emails="nobody"))

    body = _text(answer)
    assert answer.status_code == 400
    assert "Nothing was saved: the maximum wait must be between 60 and 3600 seconds." in body
    assert "Welcome to Maple Street" in body  # what was typed is still in the form
    with app.app_context():
        assert db.session.get(Practice, world["maple"]).greeting is None
    assert _changes(app, world["maple"]) == []
    answer = maple_admin.post("/portal/settings", data=_form(maple_admin, max_wait_minutes="ten"))
    assert "Nothing was saved: The longest wait in minutes is a whole number (not 'ten')." in _text(answer)


def test_hours_open_until_midnight_are_kept_as_they_are_when_the_form_is_saved_unchanged(app, world, maple_admin):
    page = maple_admin.get("/portal/settings")
    assert 'value="00:00-24:00"' in _text(page)
    week = {f"hours_{day}": "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    maple_admin.post("/portal/settings/hours", data={"csrf_token": csrf_token(page), **week})
    assert _changes(app, world["maple"]) == []
    with app.app_context():
        maple = db.session.get(Practice, world["maple"])
        assert practice_is_open(maple, datetime(2026, 12, 1, 7, 59, 30, tzinfo=UTC))  # 11:59:30 pm there


def test_business_hours_and_closed_dates(app, world, maple_admin):
    week = {"hours_mon": "08:00-12:00, 13:00-17:00", "hours_tue": "08:00-17:00", "hours_wed": "08:00-17:00",
            "hours_thu": "08:00-17:00", "hours_fri": "08:00-17:00", "hours_sat": "09:00-12:00", "hours_sun": ""}
    token = csrf_token(maple_admin.get("/portal/settings"))
    answer = maple_admin.post("/portal/settings/hours", data={"csrf_token": token, **week,
                                                              "add_holiday": "2026-12-25"})
    assert answer.status_code == 302

    with app.app_context():
        maple = db.session.get(Practice, world["maple"])
        la = "America/Los_Angeles"
        monday = datetime(2026, 11, 30, tzinfo=ZoneInfo(la))
        assert practice_is_open(maple, monday.replace(hour=9).astimezone(UTC))
        assert not practice_is_open(maple, monday.replace(hour=12, minute=30).astimezone(UTC))  # lunch
        assert not practice_is_open(maple, (monday + timedelta(days=6)).replace(hour=10).astimezone(UTC))  # Sunday
        assert not practice_is_open(maple, datetime(2026, 12, 25, 10, tzinfo=ZoneInfo(la)).astimezone(UTC))
    [change] = _changes(app, world["maple"])
    assert change.what == "hours"
    assert change.changes["mon"] == ["00:00-24:00", "08:00-12:00, 13:00-17:00"]  # it was open around the clock
    assert change.changes["holidays"] == [[], ["2026-12-25"]]

    refused = maple_admin.post("/portal/settings/hours", data={"csrf_token": token, **week,
                                                               "hours_mon": "17:00-08:00"})
    assert refused.status_code == 400
    assert ("Nothing was saved: Monday: '17:00-08:00' is not HH:MM-HH:MM, closing after opening (for example "
            "08:00-17:00).") in _text(refused)
    assert 'value="17:00-08:00"' in _text(refused)

    maple_admin.post("/portal/settings/hours", data={"csrf_token": token, **week, "remove_holiday": "2026-12-25"})
    with app.app_context():
        assert db.session.get(Practice, world["maple"]).holidays == []


def test_on_call_rotations_are_added_and_removed_in_the_portal(app, world, maple_admin):
    token = csrf_token(maple_admin.get("/portal/on-call"))
    added = maple_admin.post("/portal/on-call/rotations", data={
        "csrf_token": token, "name": "Dr. Rivera", "number": "+16175550199", "days": "mon-sun",
        "hours": "17:00-08:00", "backup_name": "Dr. Chen", "backup_number": "+16175550177"}, follow_redirects=True)
    assert "The rotation is added." in _text(added)
    with app.app_context():
        rotation = db.session.scalar(select(OnCallRotation))
        assert db.session.scalars(select(OnCallShift).where(OnCallShift.rotation_id == rotation.id)).all()
        rotation_id = rotation.id
    page = maple_admin.get("/portal/on-call").get_data(as_text=True)
    assert "Dr. Rivera (+16175550199), Mon, Tue, Wed, Thu, Fri, Sat, Sun 17:00-08:00, backup Dr. Chen" in page

    refused = maple_admin.post("/portal/on-call/rotations", data={
        "csrf_token": token, "name": "Dr. Park", "number": "not a number", "days": "mon", "hours": "17:00-08:00"})
    assert refused.status_code == 400
    assert "The rotation was not added:" in _text(refused)
    assert 'value="Dr. Park"' in _text(refused)

    abroad = maple_admin.post("/portal/on-call/rotations", data={
        "csrf_token": token, "name": "Dr. Abroad", "number": "+44 20 7946 0000", "days": "mon", "hours": "17:00-08:00"})
    assert "only US and Canadian numbers (+1 and ten digits) can be dialled" in _text(abroad)  # no toll fraud
    emergency = maple_admin.post("/portal/settings", data=_form(maple_admin, emergency_number="+882 1234 5678"))
    assert emergency.status_code == 400 and "the emergency line:" in _text(emergency)

    maple_admin.post(f"/portal/on-call/rotations/{rotation_id}/remove", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(OnCallRotation, rotation_id) is None
    kept = [(c.what, list(c.changes.values())[0]) for c in _changes(app, world["maple"])]
    assert [what for what, _ in kept] == ["on_call", "on_call"]
    assert kept[0][1][0] is None and kept[1][1][1] is None  # added, then removed


def test_the_command_line_keeps_its_changes_too(app, world, cli):
    result = cli.invoke(args=["practice", "configure", "--practice", str(world["maple"]), "--max-wait", "300"])
    assert result.exit_code == 0, result.output
    [change] = _changes(app, world["maple"])
    assert (change.by, change.changes) == ("command line", {"max_wait_seconds": [600, 300]})


@pytest.mark.browser
@pytest.mark.slow
def test_a_practice_admin_changes_the_greeting_in_chromium(app, live_app, world, maple_admin_account, browser):
    expect = playwright_sync.expect
    page = browser.new_context().new_page()
    refused = csp_refusals(page)
    log_in_browser(page, live_app.url, ADMIN)
    page.goto(f"{live_app.url}/portal/settings")
    assert accessibility_problems(page) == []
    page.fill("#greeting", "Maple Street, good day.")
    page.fill("#max_wait_minutes", "0")
    page.evaluate("document.getElementById('max_wait_minutes').removeAttribute('min')")  # the server checks too
    page.click("#settings-form button[type=submit]")
    expect(page.locator(".flash.error")).to_contain_text("the maximum wait must be between 60 and 3600 seconds")
    expect(page.locator("#greeting")).to_have_value("Maple Street, good day.")
    page.fill("#max_wait_minutes", "8")
    page.click("#settings-form button[type=submit]")
    expect(page.locator(".flash.ok")).to_contain_text("Saved: greeting, max wait seconds.")
    expect(page.locator("#changes")).to_contain_text("480")
    page.goto(f"{live_app.url}/portal/on-call")
    assert accessibility_problems(page) == []
    assert refused == []
    with app.app_context():
        assert db.session.get(Practice, world["maple"]).greeting == "Maple Street, good day."


def test_a_practice_admin_adds_and_disables_the_practices_own_people(app, world, maple_admin, client):
    token = csrf_token(maple_admin.get("/portal/users"))
    added = maple_admin.post("/portal/users", data={"csrf_token": token, "email": "nurse@maple.test",
                                                    "name": "Nia Nurse", "role": "practice", "password": "a-long-pass"},
                             follow_redirects=True)
    assert "nurse@maple.test can sign in now" in _text(added)
    assert log_in(client, "nurse@maple.test", "a-long-pass").status_code == 302
    assert client.get("/portal/messages").status_code == 200 and client.get("/portal/settings").status_code == 403

    refused = maple_admin.post("/portal/users", data={"csrf_token": token, "email": "boss@maple.test",
                                                      "name": "B", "role": "admin", "password": "a-long-pass"})
    assert refused.status_code == 400 and "Nobody was added: choose staff or admin." in _text(refused)
    assert 'value="boss@maple.test"' in _text(refused)  # what was typed is kept
    short = maple_admin.post("/portal/users", data={"csrf_token": token, "email": "x@maple.test",
                                                    "role": "practice", "password": "short"})
    assert "the password must be at least 8 characters" in _text(short)

    with app.app_context():
        nurse = db.session.scalar(select(User).where(User.email == "nurse@maple.test"))
    maple_admin.post(f"/portal/users/{nurse.id}/disable", data={"csrf_token": token})
    assert client.get("/portal/messages").status_code in (302, 401)  # her session ended at once
    with app.app_context():
        dana = db.session.scalar(select(User).where(User.email == ADMIN))
    own = maple_admin.post(f"/portal/users/{dana.id}/disable", data={"csrf_token": token}, follow_redirects=True)
    assert "You cannot disable your own sign-in" in _text(own)
    kept = [c.changes for c in _changes(app, world["maple"]) if c.what == "people"]
    assert kept == [{"nurse@maple.test": [None, "Staff"]}, {"nurse@maple.test": ["can sign in", "disabled"]}]


def test_saving_the_form_leaves_a_wait_set_in_seconds_as_it_was(app, world, cli, maple_admin):
    """The portal shows the longest wait in whole minutes: 90 s set on the command line reads "1", and saving
    the greeting must not round it to 60 s."""
    configured = cli.invoke(args=["practice", "configure", "--practice", str(world["maple"]), "--max-wait", "90"])
    assert configured.exit_code == 0
    page = _text(maple_admin.get("/portal/settings"))
    assert 'name="max_wait_minutes" type="number" min="1" max="60" value="1"' in page
    maple_admin.post("/portal/settings", data=_form(maple_admin, greeting="Hello", max_wait_minutes="1",
                                                    max_wait_shown="1"))
    with app.app_context():
        maple = db.session.get(Practice, world["maple"])
        assert (maple.greeting, maple.max_wait_seconds) == ("Hello", 90)
