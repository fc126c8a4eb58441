"""The ledger's transactions: all of a webhook's writes land together, or none do."""

from sqlalchemy import func, select

from callcenter import ledger
from callcenter.extensions import db
from callcenter.models import Call, CallEvent


def test_a_rolled_back_webhook_leaves_no_half_written_call(app):
    with app.app_context():
        call = ledger.open_call(db.session, "CA" + "3" * 32, practice_id=None, from_number=None, to_number=None,
                                first_event="entered_ivr")
        ledger.record(db.session, call, "status", {"status": "completed"}, dedupe_key="status:completed")
        db.session.rollback()  # e.g. the commit failed: database locked
        assert db.session.scalar(select(func.count(Call.id))) == 0
        assert db.session.scalar(select(func.count(CallEvent.id))) == 0


def test_a_duplicate_event_is_recorded_once(app):
    with app.app_context():
        call = ledger.open_call(db.session, "CA" + "4" * 32, practice_id=None, from_number=None, to_number=None)
        first = ledger.record(db.session, call, "status", {}, dedupe_key="status:completed")
        again = ledger.record(db.session, call, "status", {}, dedupe_key="status:completed")
        db.session.commit()
        assert first is not None and again is None
        assert db.session.scalar(select(func.count(CallEvent.id))) == 1
