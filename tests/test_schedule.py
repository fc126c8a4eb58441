"""A practice's on-call schedule: weekly rotations in the practice's own time, overrides that come before
them, a backup for each slot who is paged when the clinician does not acknowledge, and the gaps when the
practice is closed and nobody is on call."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter import escalation, oncall, schedule
from callcenter.extensions import db
from callcenter.models import BusinessHours, CallEvent, OnCallPage, OnCallShift, Practice
from callcenter.practice_settings import SettingsError
from tests.support import MAPLE_NUMBER, ON_CALL_NUMBER, PATIENT

LA = ZoneInfo("America/Los_Angeles")  # Maple Street's timezone
BACKUP_NUMBER = "+14155550888"  # Dr. Chen's phone, backing up Dr. Rivera


def _la(*args) -> datetime:
    return datetime(*args, tzinfo=LA).astimezone(UTC)


def _maple(app, world) -> Practice:
    return db.session.get(Practice, world["maple"])


def test_a_rotation_becomes_shifts_in_the_practices_own_time_across_daylight_saving(app, world):
    with app.app_context():
        schedule.add_rotation(db.session, world["maple"], "Dr. Rivera", ON_CALL_NUMBER, "fri-mon", "17:00-08:00",
                              now=_la(2026, 3, 5, 12, 0))  # a Thursday; clocks go forward on Sunday 8 March
        shifts = db.session.scalars(select(OnCallShift).order_by(OnCallShift.starts_at)).all()
        local = [(s.starts_at.astimezone(LA), s.ends_at.astimezone(LA)) for s in shifts[:4]]
    assert [(a.strftime("%a %H:%M"), b.strftime("%a %H:%M")) for a, b in local] == [
        ("Fri 17:00", "Sat 08:00"), ("Sat 17:00", "Sun 08:00"), ("Sun 17:00", "Mon 08:00"),
        ("Mon 17:00", "Tue 08:00")]
    saturday_night = shifts[1].ends_at - shifts[1].starts_at  # instants, not the clock on the wall
    assert saturday_night == timedelta(hours=14)  # it lost an hour at 2 am
    assert len(shifts) == 8  # two weeks ahead: Fri to Mon, twice


def test_an_override_comes_before_the_rotation_and_who_is_next_is_known(app, world, cli):
    with app.app_context():
        schedule.add_rotation(db.session, world["maple"], "Dr. Rivera", ON_CALL_NUMBER, "mon-sun", "00:00-00:00",
                              backup_name="Dr. Chen", backup_number=BACKUP_NUMBER)
        db.session.commit()
    now = datetime.now(UTC)
    result = cli.invoke(args=["oncall", "add", "--practice", str(world["maple"]), "--name", "Dr. Okafor",
                              "--number", "+14155550777", "--start", (now - timedelta(hours=1)).isoformat(),
                              "--end", (now + timedelta(hours=2)).isoformat()])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert oncall.current_shift(db.session, world["maple"], now).clinician_name == "Dr. Okafor"  # the swap
        later = oncall.current_shift(db.session, world["maple"], now + timedelta(hours=3))
        assert (later.clinician_name, later.backup_name, later.backup_number) == ("Dr. Rivera", "Dr. Chen",
                                                                                BACKUP_NUMBER)
        assert oncall.next_shift(db.session, world["maple"], now) is not None


def test_a_rotation_is_checked_before_anything_changes(app, world):
    with app.app_context():
        for days, hours, backup, message in [("someday", "17:00-08:00", None, "could not read the days"),
                                             ("mon-fri", "5pm-8am", None, "could not read the hours"),
                                             ("mon-fri", "17:00-08:00", ON_CALL_NUMBER, "someone else")]:
            with pytest.raises(SettingsError, match=message):
                schedule.add_rotation(db.session, world["maple"], "Dr. Rivera", ON_CALL_NUMBER, days, hours,
                                      backup_name="Dr. X" if backup else None, backup_number=backup)
        db.session.rollback()
        assert db.session.scalar(select(OnCallShift)) is None


def test_gaps_are_when_the_practice_is_closed_and_nobody_is_on_call(app, world):
    with app.app_context():
        maple = _maple(app, world)
        maple.hours = [BusinessHours(weekday=d, opens=time(8, 0), closes=time(17, 0)) for d in range(5)]
        db.session.commit()
        schedule.add_rotation(db.session, world["maple"], "Dr. Rivera", ON_CALL_NUMBER, "mon-thu", "17:00-08:00",
                              now=_la(2026, 12, 7, 9, 0))  # Monday
        found = schedule.gaps(db.session, maple, _la(2026, 12, 7, 0, 0), _la(2026, 12, 12, 0, 0))
    assert [(g.starts_at.astimezone(LA).strftime("%a %H:%M"), g.ends_at.astimezone(LA).strftime("%a %H:%M"))
            for g in found] == [("Mon 00:00", "Mon 08:00"),  # nobody covers Sunday night into Monday
                                ("Fri 17:00", "Sat 00:00")]  # nor Friday night


def test_oncall_show_lists_the_week_and_its_gaps(app, world, cli):
    with app.app_context():
        _maple(app, world).hours = []  # the default hours: weekdays 8 to 5
        db.session.commit()
    assert cli.invoke(args=["oncall", "rotation", "--practice", str(world["maple"]), "--name", "Dr. Rivera",
                            "--number", ON_CALL_NUMBER, "--days", "mon-sun", "--hours", "00:00-00:00",
                            "--backup-name", "Dr. Chen", "--backup-number", BACKUP_NUMBER]).exit_code == 0
    shown = cli.invoke(args=["oncall", "show", "--practice", str(world["maple"]), "--days", "3"])
    assert shown.exit_code == 0, shown.output
    assert "Dr. Rivera +14155550999, backup Dr. Chen +14155550888 (rotation)" in shown.output
    assert "GAP" not in shown.output
    with app.app_context():
        rotation_id = db.session.scalar(select(OnCallShift.rotation_id))
    assert cli.invoke(args=["oncall", "rotation-remove", "--id", str(rotation_id)]).exit_code == 0
    shown = cli.invoke(args=["oncall", "show", "--practice", str(world["maple"]), "--days", "3"])
    assert shown.exit_code == 2 and "GAP" in shown.output  # the rotation's shift of today stays; then nobody


# --- The backup is paged when the clinician on call does not acknowledge ---------------------------------------

@pytest.fixture
def rivera_backed_by_chen(app, world):
    with app.app_context():
        schedule.add_rotation(db.session, world["maple"], "Dr. Rivera", ON_CALL_NUMBER, "mon-sun", "00:00-00:00",
                              backup_name="Dr. Chen", backup_number=BACKUP_NUMBER)
        db.session.commit()


def _escalate(app, first_page_id: int, minutes: float, base_url: str):
    with app.app_context():
        sent = db.session.get(OnCallPage, first_page_id).sent_at
        return escalation.escalate_due(db.session, app.gateway, escalation.Policy(), sent + timedelta(minutes=minutes),
                                       lambda page_id: f"{base_url}/ivr/page-call/{page_id}")


def test_the_whole_chain_sms_call_down_then_the_backup_who_acknowledges_by_reply(phone_system, world, maple_closed,
                                                                                 rivera_backed_by_chen):
    app, phones = phone_system.app, phone_system.phone
    app.config["PUBLIC_BASE_URL"] = phone_system.app_url
    caller = phones.dial(PATIENT, MAPLE_NUMBER)
    caller.wait_for("press 1")
    caller.press("1")  # urgent, after hours: Dr. Rivera is paged, then dialled
    phones.wait_for_sms(ON_CALL_NUMBER, "urgent patient call")
    phones.incoming(ON_CALL_NUMBER).decline()
    caller.wait_for("The on-call clinician has been paged.")
    caller.hang_up()
    with app.app_context():
        first = db.session.scalar(select(OnCallPage))
        first_id, call_id = first.id, first.call_id

    assert _escalate(app, first_id, 6, phone_system.app_url).called_down == [first_id]
    phones.incoming(ON_CALL_NUMBER).decline()  # Dr. Rivera does not answer the call-down either
    assert _escalate(app, first_id, 9, phone_system.app_url).to_backup == []  # the call-down has its 5 minutes
    done = _escalate(app, first_id, 11, phone_system.app_url)
    [backup_page] = done.to_backup
    assert done.raised == []

    sms = phones.wait_for_sms(BACKUP_NUMBER, "urgent patient call")
    assert sms["body"].startswith("Backup for Dr. Rivera, who has not answered.")
    assert "Reply 1 to acknowledge." in sms["body"] and PATIENT in sms["body"]
    phones.incoming(BACKUP_NUMBER).decline()  # the backup's phone rang too; they answer by text instead
    phones.text(BACKUP_NUMBER, MAPLE_NUMBER, "1")
    phones.wait_for_sms(BACKUP_NUMBER, "Acknowledged")

    with app.app_context():
        pages = db.session.scalars(select(OnCallPage).order_by(OnCallPage.id)).all()
        assert [(p.recipient, p.to_number) for p in pages] == [("on_call", ON_CALL_NUMBER), ("backup", BACKUP_NUMBER)]
        assert all(p.acknowledged_by == "replied 1 to the page" for p in pages)
        kinds = db.session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call_id)
                                   .order_by(CallEvent.id)).all()
    assert kinds.index("page_called_down") < kinds.index("page_sent_to_backup") < kinds.index("page_acknowledged")
    assert _escalate(app, first_id, 30, phone_system.app_url) == escalation.Escalated([], [])  # stopped
    assert backup_page == pages[1].id


def test_a_backup_who_does_not_acknowledge_either_reaches_the_supervisors(app, twilio, twilio_http, world,
                                                                        maple_closed, rivera_backed_by_chen):
    from tests.support import incoming

    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu", incoming(Digits="1"))
    with app.app_context():
        first_id = db.session.scalar(select(OnCallPage.id))
    assert _escalate(app, first_id, 6, "http://localhost").called_down == [first_id]
    [backup_page] = _escalate(app, first_id, 11, "http://localhost").to_backup
    texted = [r["data"]["To"] for r in twilio_http.requests if r["url"].endswith("/Messages.json")]
    called = [r["data"]["To"] for r in twilio_http.requests if r["url"].endswith("/Calls.json")]
    assert texted == [ON_CALL_NUMBER, BACKUP_NUMBER] and called == [ON_CALL_NUMBER, BACKUP_NUMBER]
    assert _escalate(app, first_id, 15, "http://localhost").raised == []  # the backup has their 5 minutes
    assert _escalate(app, first_id, 17, "http://localhost").raised == [backup_page]


def test_the_worker_fills_the_rotations_and_tells_the_supervisors_of_a_gap_once(app, world):
    from ops.jobs import SCHEDULE_SLOT, reconcile
    from tests.support import console_for, received

    with app.app_context():
        _maple(app, world).hours = []  # the default hours (weekdays 8 to 5), and nobody on call
        db.session.commit()
    sam = console_for(app, "sam@example.test")
    received(sam, "supervisor_notice")
    with app.app_context():
        told = reconcile()["gaps_told"]
    assert [practice for practice, _ in told] == [world["maple"]]
    [notice] = received(sam, "supervisor_notice")
    assert notice["text"].startswith("Maple Street Family Medicine has nobody on call from ")
    app.redis.delete(SCHEDULE_SLOT)  # an hour later
    with app.app_context():
        assert reconcile()["gaps_told"] == []  # told once


def test_the_practice_sees_its_week_on_call_and_its_gaps(app, world, client):
    from tests.support import log_in

    with app.app_context():
        _maple(app, world).hours = []
        db.session.commit()
        schedule.add_rotation(db.session, world["maple"], "Dr. Rivera", ON_CALL_NUMBER, "mon-sun", "18:00-06:00",
                              backup_name="Dr. Chen", backup_number=BACKUP_NUMBER)
        db.session.commit()
    assert log_in(client, "desk@maple.test").status_code == 302
    page = client.get("/portal/on-call").get_data(as_text=True)
    assert "Dr. Rivera" in page and "Dr. Chen" in page and "weekly" in page
    assert 'id="gaps"' in page and "6:00 AM to" in page  # nobody from 6 am to 6 pm
    assert ON_CALL_NUMBER not in page  # the clinicians' own numbers are not needed here


def test_two_rotations_covering_the_same_time_are_an_overlap_but_an_override_is_not(app, world, cli):
    with app.app_context():
        schedule.add_rotation(db.session, world["maple"], "Dr. Rivera", ON_CALL_NUMBER, "mon-sun", "18:00-06:00")
        schedule.add_rotation(db.session, world["maple"], "Dr. Chen", BACKUP_NUMBER, "mon-sun", "05:00-09:00")
        db.session.commit()
    shown = cli.invoke(args=["oncall", "show", "--practice", str(world["maple"]), "--days", "2"])
    assert "OVERLAP" in shown.output and "Dr. Rivera and Dr. Chen are both on call" in shown.output
    with app.app_context():
        now = datetime.now(UTC)
        pairs = schedule.overlaps(db.session, world["maple"], now, now + timedelta(days=2))
        assert pairs and all({a.clinician_name, b.clinician_name} == {"Dr. Rivera", "Dr. Chen"} for a, b in pairs)


def test_a_practice_sets_its_own_escalation_delays(app, twilio, twilio_http, world, cli, maple_closed,
                                                  rivera_backed_by_chen):
    from tests.support import incoming

    assert cli.invoke(args=["practice", "configure", "--practice", str(world["maple"]),
                            "--page-minutes", "61,1,1"]).exit_code != 0  # checked: 1 to 60 minutes each
    assert cli.invoke(args=["practice", "configure", "--practice", str(world["maple"]),
                            "--page-minutes", "2,3,4"]).exit_code == 0
    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu", incoming(Digits="1"))
    with app.app_context():
        first_id = db.session.scalar(select(OnCallPage.id))
    assert _escalate(app, first_id, 1.5, "http://localhost").called_down == []
    assert _escalate(app, first_id, 2.5, "http://localhost").called_down == [first_id]  # 2 minutes, not 5
    assert _escalate(app, first_id, 5.0, "http://localhost").to_backup == []
    [backup_page] = _escalate(app, first_id, 5.6, "http://localhost").to_backup  # 3 more
    assert _escalate(app, first_id, 9.0, "http://localhost").raised == []
    assert _escalate(app, first_id, 9.7, "http://localhost").raised == [backup_page]  # and 4 more


def test_a_clinician_off_duty_on_their_shift_is_shown_to_the_practice_and_the_supervisors(app, world, cli, client):
    from ops.jobs import reconcile
    from tests.support import console_for, log_in, received

    with app.app_context():
        _maple(app, world).hours = []
        db.session.commit()
    assert cli.invoke(args=["oncall", "rotation", "--practice", str(world["maple"]), "--name", "Dr. Rivera",
                            "--number", ON_CALL_NUMBER, "--days", "mon-sun", "--hours", "00:00-00:00"]).exit_code == 0
    now = datetime.now(UTC)
    assert cli.invoke(args=["oncall", "off-duty", "--practice", str(world["maple"]), "--name", "Dr. Rivera",
                            "--number", ON_CALL_NUMBER, "--start", (now + timedelta(hours=2)).isoformat(),
                            "--end", (now + timedelta(days=3)).isoformat()]).exit_code == 0
    shown = cli.invoke(args=["oncall", "show", "--practice", str(world["maple"]), "--days", "2"])
    assert shown.exit_code == 2 and "OFF DUTY" in shown.output and "Dr. Rivera is on this shift" in shown.output
    assert log_in(client, "desk@maple.test").status_code == 302
    assert 'id="conflicts"' in client.get("/portal/on-call").get_data(as_text=True)
    sam = console_for(app, "sam@example.test")
    with app.app_context():
        reconcile()
    assert any("marked off duty" in n["text"] for n in received(sam, "supervisor_notice"))


def test_when_the_call_down_cannot_be_placed_the_backup_is_paged_at_once(app, twilio, twilio_http, world,
                                                                          maple_closed, rivera_backed_by_chen):
    from tests.support import incoming

    twilio.post("/ivr/voice", incoming())
    twilio.post("/ivr/menu", incoming(Digits="1"))
    with app.app_context():
        page = db.session.scalar(select(OnCallPage))
        done = escalation.escalate_due(db.session, app.gateway, escalation.Policy(),
                                       page.sent_at + timedelta(minutes=6), lambda page_id: None)  # no public URL
    assert done.called_down == [] and len(done.to_backup) == 1 and done.raised == []
    texted = [r["data"]["To"] for r in twilio_http.requests if r["url"].endswith("/Messages.json")]
    assert texted == [ON_CALL_NUMBER, BACKUP_NUMBER]


def test_a_gap_that_has_begun_is_told_once_not_every_hour(app, world, maple_closed):
    from ops.jobs import SCHEDULE_SLOT, reconcile

    with app.app_context():  # closed all day today, nobody on call: the gap began at midnight
        assert len(reconcile()["gaps_told"]) == 1
    import time

    for _ in range(2):  # an hour later, and another (the clock has moved on: the gap's start has not)
        time.sleep(1.1)
        app.redis.delete(SCHEDULE_SLOT)
        with app.app_context():
            assert reconcile()["gaps_told"] == []
