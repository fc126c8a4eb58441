"""Twilio's call status callbacks in the domain: applied once however often they come, and kept in
Redis when they cannot be applied, to be replayed in the order they came."""

import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from callcenter import call_status
from callcenter.call_status import PendingStatuses, apply, replay_pending
from callcenter.extensions import db
from callcenter.models import CallbackTask, CallEvent
from tests.support import PATIENT, incoming, waiting_call

HUNG_UP = {"CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "40"}


def _abandoned(app) -> list[int]:
    """The calls recorded as abandoned, in the order it happened."""
    with app.app_context():
        return db.session.scalars(select(CallEvent.call_id).where(CallEvent.kind == "abandoned")
                                  .order_by(CallEvent.id)).all()


def test_a_hang_up_twilio_sends_twice_is_applied_once(app, world):
    call_id = waiting_call(app)

    with app.app_context():
        first = apply(db.session, app.call_queue, app.followups, incoming(**HUNG_UP))
        again = apply(db.session, app.call_queue, app.followups, incoming(**HUNG_UP))
        [task] = db.session.scalars(select(CallbackTask)).all()
        assert (task.call_id, task.number, task.reason) == (call_id, PATIENT, "abandoned")

    assert (first.abandoned, again.abandoned) == (True, False)
    assert _abandoned(app) == [call_id]
    assert app.task_queue.job_ids == [f"send_callback_sms-{task.id}"]  # one SMS saying when we call back
    assert len(app.call_queue) == 0


def test_kept_status_callbacks_are_replayed_in_the_order_they_came(app, world):
    first = waiting_call(app, call_sid="CA" + "1" * 32)
    second = waiting_call(app, call_sid="CA" + "2" * 32)
    pending = PendingStatuses(app.redis)
    pending.keep(incoming(sid="CA" + "2" * 32, **HUNG_UP))
    pending.keep(incoming(sid="CA" + "1" * 32, **HUNG_UP))

    with app.app_context():
        done = replay_pending(db.session, app.call_queue, app.followups, pending)

    assert [(a.abandoned, a.call_id) for a in done] == [(True, second), (True, first)]
    assert _abandoned(app) == [second, first]
    assert len(pending) == 0


def test_a_kept_status_that_fails_again_stays_first_and_nothing_after_it_is_lost(app, world, monkeypatch):
    sids = ["CA" + c * 32 for c in "123"]
    ids = [waiting_call(app, call_sid=sid) for sid in sids]
    pending = PendingStatuses(app.redis)
    for sid in sids:
        pending.keep(incoming(sid=sid, **HUNG_UP))

    def database_refuses_the_second(session, queue, followups, fields):
        if fields["CallSid"] == sids[1]:
            raise OperationalError("UPDATE calls", {}, Exception("database is locked"))
        return apply(session, queue, followups, fields)

    monkeypatch.setattr(call_status, "apply", database_refuses_the_second)
    with app.app_context(), pytest.raises(OperationalError):
        replay_pending(db.session, app.call_queue, app.followups, pending)

    assert _abandoned(app) == [ids[0]]
    kept = [json.loads(raw)["CallSid"] for raw in app.redis.lrange(PendingStatuses.key, 0, -1)]
    assert kept == sids[1:]

    monkeypatch.undo()  # the database is back: the next run applies the rest, in order
    with app.app_context():
        assert len(replay_pending(db.session, app.call_queue, app.followups, pending)) == 2
    assert _abandoned(app) == ids
    assert len(pending) == 0


def test_only_the_fields_it_applies_are_kept_and_each_is_cut_short(app):
    PendingStatuses(app.redis).keep(incoming(CallStatus="completed", To="x" * 500, TranscriptionText="chest pain"))

    [raw] = app.redis.lrange(PendingStatuses.key, 0, -1)
    kept = json.loads(raw)
    assert set(kept) == set(call_status.FIELDS)  # nothing else the patient said stays in Redis
    assert kept["To"] == "x" * 64
    assert kept["SequenceNumber"] == ""
