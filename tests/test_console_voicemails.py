"""Voicemails waiting for review in the console: listed urgent first, reviewed once, by someone we know."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agents_ui.broadcast import NAMESPACE
from callcenter.extensions import db
from callcenter.models import AuditEntry, Call, Message
from tests.support import HARBOR_NUMBER, PATIENT, Page, ask, left_voicemail, log_in, received


def test_it_lists_voicemails_to_review_urgent_first_then_oldest_first(app, world, alice):
    recent = left_voicemail(app, 1, minutes_ago=5, transcription="Please call me about my labs")
    oldest = left_voicemail(app, 2, minutes_ago=30, dialled=HARBOR_NUMBER)
    urgent = left_voicemail(app, 3, urgent=True, minutes_ago=1)
    reviewed = left_voicemail(app, 4, minutes_ago=60)
    with app.app_context():
        db.session.get(Message, reviewed).needs_review = False
        db.session.add(Message(practice_id=world["maple"], body="Taken by an agent"))  # not a voicemail
        db.session.commit()
        call_id = db.session.get(Message, recent).call_id

    listed = ask(alice, "snapshot")["voicemails"]

    assert [v["id"] for v in listed] == [urgent, oldest, recent]
    assert [v["urgency"] for v in listed] == ["urgent", "routine", "routine"]
    assert listed[1]["practice"] == "Harbor Pediatrics"
    assert listed[1]["transcription"] is None  # the page says "transcription pending"
    assert listed[2] == {"id": recent, "practice": "Maple Street Family Medicine", "urgency": "routine",
                         "created_at": listed[2]["created_at"], "transcription": "Please call me about my labs",
                         "recording_url": f"/console/voicemails/{recent}/recording", "call_id": call_id,
                         "callback_number": PATIENT}
    assert listed[1]["created_at"] < listed[2]["created_at"]


def test_it_marks_a_voicemail_reviewed_and_tells_every_console(app, world, alice, bob):
    message_id = left_voicemail(app, 1)
    other = left_voicemail(app, 2, minutes_ago=3)
    bob.get_received(NAMESPACE)

    answer = ask(alice, "review_voicemail", {"message_id": message_id})

    assert answer == {"ok": True, "message_id": message_id}
    assert [v["id"] for v in received(bob, "voicemails")[-1]["voicemails"]] == [other]
    assert [v["id"] for v in ask(bob, "snapshot")["voicemails"]] == [other]
    with app.app_context():
        message = db.session.get(Message, message_id)
        assert message.needs_review is False and message.acknowledged_at is not None
        assert db.session.get(Call, message.call_id).outcome == "voicemail_reviewed"
        audit = db.session.scalar(select(AuditEntry).where(AuditEntry.object_type == "message"))
        assert (audit.user_id, audit.action, audit.object_id) == (world["alice"], "review", message_id)


def test_it_reviews_a_voicemail_only_once(app, world, alice, bob):
    message_id = left_voicemail(app, 1)
    ask(alice, "review_voicemail", {"message_id": message_id})

    answer = ask(bob, "review_voicemail", {"message_id": message_id})

    assert answer == {"ok": False, "error": "This voicemail has already been reviewed."}
    with app.app_context():
        outcomes = [e for e in db.session.scalars(select(Call)).one().events if e.kind == "outcome"]
        assert [e.actor_id for e in outcomes] == [world["alice"]]


@pytest.mark.parametrize(("payload", "error"), [
    ({}, "Choose a voicemail first."),
    ({"message_id": "one"}, "Choose a voicemail first."),
    ({"message_id": 999}, "This voicemail no longer exists."),
])
def test_it_explains_a_review_that_cannot_happen(alice, payload, error):
    assert ask(alice, "review_voicemail", payload) == {"ok": False, "error": error}


def test_it_shows_the_voicemail_and_pages_cards_on_the_console(client, world):
    log_in(client, "alice@example.test")

    page = Page(client.get("/console/").get_data(as_text=True))

    assert {"voicemails", "pages"} <= page.ids
