"""A reviewed voicemail's recording is deleted at Twilio once its practice's retention period is over; an
unreviewed one never is, and a practice may keep recordings (0 days) or choose its own period."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import AuditEntry, CallEvent, Message, Practice
from ops.jobs import RETENTION_SLOT, reconcile
from tests.support import left_voicemail, log_in


def _voicemail(app, n: int, *, days_ago: int, reviewed: bool, practice_id: int | None = None) -> int:
    message_id = left_voicemail(app, n)
    with app.app_context():
        message = db.session.get(Message, message_id)
        message.created_at = datetime.now(UTC) - timedelta(days=days_ago)
        message.needs_review = not reviewed
        if practice_id is not None:
            message.practice_id = practice_id
        db.session.commit()
    return message_id


def test_recordings_past_the_retention_period_are_deleted_at_twilio(app, world, twilio_http, cli):
    old = _voicemail(app, 1, days_ago=91, reviewed=True)
    unheard = _voicemail(app, 2, days_ago=200, reviewed=False)
    recent = _voicemail(app, 3, days_ago=30, reviewed=True)
    assert cli.invoke(args=["practice", "configure", "--practice", str(world["harbor"]),
                            "--recording-retention-days", "0"]).exit_code == 0
    kept_by_choice = _voicemail(app, 4, days_ago=400, reviewed=True, practice_id=world["harbor"])

    with app.app_context():
        assert reconcile()["recordings_removed"] == [old]
        removed = db.session.get(Message, old)
        assert removed.recording_url is None and removed.recording_removed_at is not None
        assert removed.body  # the message and what was said stay
        for kept in (unheard, recent, kept_by_choice):
            assert db.session.get(Message, kept).recording_url is not None
        assert db.session.scalar(select(CallEvent.kind).where(CallEvent.kind == "recording_removed"))
        assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.object_id == old,
                                                                 AuditEntry.object_type == "recording")) == "removed"
        assert db.session.get(Practice, world["harbor"]).recording_retention_days is None
    deletes = [r for r in twilio_http.requests if r["method"] == "DELETE"]
    assert len(deletes) == 1 and deletes[0]["url"].endswith("/Recordings/RE1.json")


def test_the_portal_says_a_removed_recording_was_removed(app, world, client):
    old = _voicemail(app, 6, days_ago=91, reviewed=True)
    with app.app_context():
        assert reconcile()["recordings_removed"] == [old]
    assert log_in(client, "desk@maple.test").status_code == 302
    page = client.get(f"/portal/messages/{old}").get_data(as_text=True)
    assert "retention period was over" in page and f"/portal/messages/{old}/recording" not in page
    assert client.get(f"/portal/messages/{old}/recording").status_code == 404


def test_practices_that_existed_before_retention_keep_their_recordings(app):
    """Upgrading must not delete, at Twilio and for good, recordings nobody chose to let go: the migration that
    brought retention gives practices that already exist no period; practices created after it get 90 days."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    with app.app_context():
        db.session.remove()
        downgrade(revision="c4a9e7b2d1f8")  # before retention (the tables are empty: SQLite rebuilds some)
        db.session.execute(text("INSERT INTO practices (name, timezone, max_wait_seconds, created_at) "
                                "VALUES ('Old Town Clinic', 'UTC', 600, CURRENT_TIMESTAMP)"))
        # A row pointing at the practice: SQLite copies the table to change it, which must not trip on that.
        db.session.execute(text("INSERT INTO practice_numbers (practice_id, number) "
                                "SELECT id, '+14155550177' FROM practices"))
        db.session.commit()
        db.session.remove()
        upgrade()
        old_town = db.session.scalar(select(Practice).where(Practice.name == "Old Town Clinic"))
        assert old_town.recording_retention_days is None  # kept until someone sets a period
        db.session.execute(text("INSERT INTO practices (name, timezone, max_wait_seconds, created_at) "
                                "VALUES ('New Clinic', 'UTC', 600, CURRENT_TIMESTAMP)"))
        db.session.commit()
        new_clinic = db.session.scalar(select(Practice).where(Practice.name == "New Clinic"))
        assert new_clinic.recording_retention_days == 90


def test_a_recording_already_gone_at_twilio_counts_as_deleted_and_the_next_look_is_an_hour_away(app, world,
                                                                                               twilio_http):
    old = _voicemail(app, 5, days_ago=120, reviewed=True)
    twilio_http.deleted_before.add("RE5")
    with app.app_context():
        assert reconcile()["recordings_removed"] == [old]
        assert reconcile()["recordings_removed"] == []
        assert app.redis.ttl(RETENTION_SLOT) > 3500


def test_the_retention_is_checked_before_anything_changes(cli, world):
    result = cli.invoke(args=["practice", "configure", "--practice", str(world["maple"]), "--greeting", "Hi",
                              "--recording-retention-days", "5000"])
    assert result.exit_code != 0
