"""The day-after satisfaction survey: for a practice that turns it on, a patient whose call ended with a
message is asked 1 to 5 by SMS the next day, in daytime, once; their answer is recorded and thanked, and the
practice sees the average on its dashboard. Nobody else is asked, and a clinician's "1" stays an
acknowledgement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from callcenter import surveys
from callcenter.extensions import db
from callcenter.models import Practice, Survey
from tests.support import MAPLE_NUMBER, PATIENT, incoming, log_in, make_call
from tests.twiml_helpers import parse

LA = ZoneInfo("America/Los_Angeles")


def _reply(twilio, body: str, sender: str = PATIENT) -> str:
    return parse(twilio.post("/sms/inbound", incoming(From=sender, To=MAPLE_NUMBER, Body=body))).find("Message").text


def _yesterday_at_noon(app, world, *, outcome="message_taken", survey=True, from_number=PATIENT) -> int:
    with app.app_context():
        db.session.get(Practice, world["maple"]).survey_enabled = survey
        db.session.commit()
    ended = datetime.now(LA).replace(hour=11, minute=0, second=0, microsecond=0) - timedelta(days=1)
    return make_call(app, world["maple"], at=ended.astimezone(UTC) - timedelta(minutes=5),
                     ended_at=ended.astimezone(UTC), outcome=outcome, from_number=from_number)


def _at_local(hour: int) -> datetime:
    return datetime.now(LA).replace(hour=hour, minute=30, second=0, microsecond=0).astimezone(UTC)


def test_a_patient_is_asked_the_next_day_in_daytime_once_and_their_answer_is_recorded(app, world, twilio,
                                                                                      twilio_http, client):
    call_id = _yesterday_at_noon(app, world)
    with app.app_context():
        assert surveys.send_due(db.session, app.gateway, _at_local(7)) == []  # not at 7:30 in the morning
        assert len(surveys.send_due(db.session, app.gateway, _at_local(10))) == 1
        assert surveys.send_due(db.session, app.gateway, _at_local(11)) == []  # once
    [sms] = [r for r in twilio_http.requests if r["url"].endswith("/Messages.json")]
    assert sms["data"]["To"] == PATIENT
    assert sms["data"]["Body"] == ("How did we do when you called yesterday? Reply with a number from 1 (poor) "
                                   "to 5 (excellent).")
    assert _reply(twilio, "4") == "Thank you for telling us."
    with app.app_context():
        survey = db.session.scalar(select(Survey))
        assert (survey.call_id, survey.score) == (call_id, 4)
    assert _reply(twilio, "2").startswith("This number does not receive text messages")  # answered already
    assert log_in(client, "desk@maple.test").status_code == 302
    page = client.get("/portal/dashboard").get_data(as_text=True)
    assert 'data-figure="satisfaction">4.0<' in page and "from 1 answer" in page


def test_nobody_is_asked_about_a_call_without_a_message_nor_twice(app, world, twilio_http):
    _yesterday_at_noon(app, world, outcome="handled")  # no message taken
    first = _yesterday_at_noon(app, world, from_number="+14155550166")
    _yesterday_at_noon(app, world, from_number="+14155550166")  # called twice yesterday
    with app.app_context():
        sent = surveys.send_due(db.session, app.gateway, _at_local(12))
        assert [db.session.get(Survey, s).call_id for s in sent] == [first]
        assert surveys.send_due(db.session, app.gateway, _at_local(13)) == []  # once a week per number


def test_a_practice_that_does_not_ask_asks_nobody(app, world, twilio_http):
    _yesterday_at_noon(app, world, survey=False)
    with app.app_context():
        assert surveys.send_due(db.session, app.gateway, _at_local(12)) == []
    assert [r for r in twilio_http.requests if r["url"].endswith("/Messages.json")] == []


def test_a_clinicians_1_still_acknowledges_their_page(app, world, twilio, on_call, maple_closed):
    from callcenter.models import OnCallPage
    from tests.support import ON_CALL_NUMBER

    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu", incoming(Digits="1"))  # urgent, after hours: Dr. Rivera is paged
    assert _reply(twilio, "1", sender=ON_CALL_NUMBER).startswith("Acknowledged ref #")
    with app.app_context():
        assert db.session.scalar(select(OnCallPage.acknowledged_by)) == "replied 1 to the page"


def test_calls_that_cannot_be_asked_do_not_hold_up_those_that_can(app, world, twilio_http):
    reachable = _yesterday_at_noon(app, world, from_number="+14155550177")
    earlier = datetime.now(LA).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=1)
    for _ in range(surveys.PER_ROUND + 1):  # a round's worth of withheld callers, first in line
        make_call(app, world["maple"], at=earlier.astimezone(UTC), ended_at=earlier.astimezone(UTC),
                  outcome="message_taken", from_number="anonymous")
    with app.app_context():
        for hour in (12, 13):
            surveys.send_due(db.session, app.gateway, _at_local(hour))
        asked = db.session.scalars(select(Survey.call_id).where(Survey.status == "sent")).all()
    assert asked == [reachable]


def test_the_text_says_yesterday_only_of_a_call_made_yesterday(app, world, twilio_http):
    with app.app_context():
        db.session.get(Practice, world["maple"]).survey_enabled = True
        db.session.commit()
    late = datetime.now(LA).replace(hour=23, minute=30, second=0, microsecond=0) - timedelta(days=2)
    today = datetime.now(LA).replace(hour=9, minute=0, second=0, microsecond=0)
    for ended in (late, today):  # the day before yesterday, late; and this morning
        make_call(app, world["maple"], at=ended.astimezone(UTC), ended_at=ended.astimezone(UTC),
                  outcome="message_taken", from_number=f"+1415555{ended.day:02d}{ended.hour:02d}")
    with app.app_context():
        assert surveys.send_due(db.session, app.gateway, _at_local(10)) == []
    assert [r for r in twilio_http.requests if r["url"].endswith("/Messages.json")] == []
