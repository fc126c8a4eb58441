import re
from datetime import timedelta

import pytest

from callcenter import ledger
from callcenter.extensions import db
from callcenter.models import AuditEntry, Call
from tests.support import T0, log_in, log_out, make_call, make_message, without_csrf_token

HARBOR_CALLER = "+16175550999"


def _ids(response, attribute: str) -> list[int]:
    return [int(i) for i in re.findall(rf'{attribute}="(\d+)"', response.get_data(as_text=True))]


@pytest.fixture
def maple_desk(client, world):
    log_in(client, "desk@maple.test")
    return client


def test_it_lists_the_practices_own_calls_newest_first(app, maple_desk, world):
    older = make_call(app, world["maple"], at=T0 - timedelta(hours=2))
    newer = make_call(app, world["maple"], at=T0, agent_id=world["alice"], disposition="message_taken")
    make_call(app, world["harbor"], at=T0, from_number=HARBOR_CALLER)
    response = maple_desk.get("/portal/")
    assert response.status_code == 200
    assert _ids(response, "data-call-id") == [newer, older]
    html = response.get_data(as_text=True)
    assert 'id="calls"' in html
    assert HARBOR_CALLER not in html
    assert "Alice" in html and "Message taken" in html


def test_it_shows_times_in_the_practices_own_timezone(app, client, world):
    make_call(app, world["maple"], at=T0)
    make_call(app, world["harbor"], at=T0)
    log_in(client, "desk@maple.test")
    assert "Nov 27, 2026 9:05 AM" in client.get("/portal/").get_data(as_text=True)
    log_out(client, "/portal/")
    log_in(client, "desk@harbor.test")
    assert "Nov 27, 2026 12:05 PM" in client.get("/portal/").get_data(as_text=True)


def test_it_filters_calls_by_local_date_and_status(app, maple_desk, world):
    # 11:30 PM on Nov 26 in Los Angeles is already Nov 27 in UTC: the filter follows the practice's day.
    late_evening = make_call(app, world["maple"], at=T0.replace(day=28, hour=7, minute=30))
    morning = make_call(app, world["maple"], at=T0)
    abandoned = make_call(app, world["maple"], at=T0 + timedelta(hours=1), state="abandoned")
    make_call(app, world["maple"], at=T0 + timedelta(days=3))
    assert _ids(maple_desk.get("/portal/?from=2026-11-27&to=2026-11-27"), "data-call-id") == [
        late_evening, abandoned, morning]
    assert _ids(maple_desk.get("/portal/?from=2026-11-27&to=2026-11-27&status=abandoned"),
                "data-call-id") == [abandoned]


def test_it_explains_a_filter_it_cannot_use(app, maple_desk, world):
    make_call(app, world["maple"])
    response = maple_desk.get("/portal/?from=someday&status=lost")
    html = response.get_data(as_text=True)
    assert "From: not a date" in html
    assert "status: unknown status" in html
    assert len(_ids(response, "data-call-id")) == 1  # the bad filters are ignored, not fatal


def test_it_pages_through_calls(app, maple_desk, world):
    ids = [make_call(app, world["maple"], at=T0 + timedelta(minutes=i), events=()) for i in range(52)]
    first = maple_desk.get("/portal/")
    assert _ids(first, "data-call-id") == ids[::-1][:50]
    assert 'rel="next"' in first.get_data(as_text=True)
    second = maple_desk.get("/portal/?page=2")
    assert _ids(second, "data-call-id") == ids[::-1][50:]
    assert 'rel="next"' not in second.get_data(as_text=True)


def test_it_shows_a_calls_timeline_notes_and_messages(app, maple_desk, world):
    call_id = make_call(app, world["maple"], agent_id=world["alice"], disposition="message_taken",
                        notes="Asked for a refill of lisinopril.")
    make_message(app, world["maple"], call_id=call_id, body="Refill request for lisinopril 10mg.")
    response = maple_desk.get(f"/portal/calls/{call_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Asked for a refill of lisinopril." in html
    assert "Refill request for lisinopril 10mg." in html
    kinds = re.findall(r'data-event-kind="([^"]+)"', html)
    assert kinds == ["entered_ivr", "queued", "connected", "wrapped_up"]
    assert "9:05:00 AM" in html and "9:08:00 AM" in html


def test_it_lists_messages_urgent_first_and_marked(app, maple_desk, world):
    routine = make_message(app, world["maple"], at=T0 + timedelta(hours=1), taken_by_id=world["bob"],
                           caller_name="Robin Roe", body="Wants to reschedule Tuesday.")
    urgent = make_message(app, world["maple"], at=T0, urgency="urgent", caller_name="Pat Doe",
                          body="Chest pain since this morning.")
    make_message(app, world["harbor"], body="Harbor patient message.")
    response = maple_desk.get("/portal/messages")
    assert _ids(response, "data-message-id") == [urgent, routine]
    html = response.get_data(as_text=True)
    assert 'id="messages"' in html
    assert re.search(rf'data-message-id="{urgent}" class="urgent">\s*<td>[^<]*(<input[^>]*>)?</td>\s*'
                     r'<td><span class="badge urgent">Urgent', html)
    assert "Robin Roe" in html and "+14155550123" in html and "Bob" in html
    assert "Harbor patient message." not in html


def test_it_shows_a_message(app, maple_desk, world):
    message_id = make_message(app, world["maple"], caller_name="Pat Doe", body="Rash spreading.",
                              taken_by_id=world["alice"])
    html = maple_desk.get(f"/portal/messages/{message_id}").get_data(as_text=True)
    assert "Rash spreading." in html and "Pat Doe" in html and "Alice" in html
    assert "Nov 27, 2026 9:05:00 AM" in html


@pytest.mark.parametrize("kind", ["calls", "messages"])
def test_it_answers_another_practices_id_exactly_like_a_missing_one(app, maple_desk, world, kind):
    if kind == "calls":
        theirs = make_call(app, world["harbor"])
    else:
        theirs = make_message(app, world["harbor"])
    other = maple_desk.get(f"/portal/{kind}/{theirs}")
    missing = maple_desk.get(f"/portal/{kind}/{theirs + 1000}")
    assert other.status_code == missing.status_code == 404
    # Alike but for the logout form's CSRF token, which carries the second the page was made.
    assert without_csrf_token(other.get_data(as_text=True)) == without_csrf_token(missing.get_data(as_text=True))
    assert b"Harbor" not in other.get_data()


@pytest.mark.parametrize("email", ["alice@example.test", "sam@example.test"])
def test_it_keeps_answering_service_staff_out_of_the_portal(app, client, world, email):
    call_id = make_call(app, world["maple"])
    log_in(client, email)
    assert client.get("/portal/").status_code == 403
    assert client.get(f"/portal/calls/{call_id}").status_code == 403
    assert client.get("/portal/messages").status_code == 403


def test_it_sends_visitors_to_the_login_page(client, world):
    response = client.get("/portal/messages")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_it_serves_the_stylesheet_to_the_login_page(client):
    assert client.get("/login").status_code == 200
    assert client.get("/portal/static/site.css").status_code == 200


def test_it_audits_who_viewed_which_call_and_message(app, maple_desk, world):
    call_id = make_call(app, world["maple"])
    message_id = make_message(app, world["maple"], call_id=call_id)
    maple_desk.get("/portal/")
    maple_desk.get(f"/portal/calls/{call_id}")
    maple_desk.get(f"/portal/messages/{message_id}")
    with app.app_context():
        entries = {(e.user_id, e.action, e.object_type, e.object_id) for e in db.session.query(AuditEntry)}
    desk = world["maple_staff"]
    assert entries == {(desk, "list", "call", call_id), (desk, "view", "call", call_id),
                       (desk, "view", "message", message_id)}


def test_it_keeps_patient_pages_out_of_caches(app, maple_desk, world):
    assert maple_desk.get("/portal/").headers["Cache-Control"] == "no-store"


def test_it_names_the_agent_in_the_timeline_rather_than_an_id(app, maple_desk, world):
    call_id = make_call(app, world["maple"], events=())
    with app.app_context():
        call = db.session.get(Call, call_id)
        ledger.record(db.session, call, "taken", {"agent": world["bob"]}, actor_id=world["bob"])
        db.session.commit()
    html = maple_desk.get(f"/portal/calls/{call_id}").get_data(as_text=True)
    assert re.search(r"Taken</span>\s*<span class=\"muted\">by Bob</span>", html)
    assert "Agent: Bob" in html
