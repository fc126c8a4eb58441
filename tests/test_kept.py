"""Twilio callbacks that could not be applied when they came are kept (in Redis, or in the web process's
spool when Redis is down too), replayed by the worker in the order they came, and set aside when they can
never be applied, without holding up the ones behind them. Counted before and after each fault."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from callcenter.extensions import db
from callcenter.kept import KeptWebhooks
from callcenter.models import Call, CallbackTask, CallEvent, Message
from ops.jobs import reconcile
from tests.support import (
    MAPLE_NUMBER,
    PATIENT,
    SID,
    TwilioSigner,
    console_for,
    incoming,
    received,
    waiting_call,
    with_parts_down,
)

HUNG_UP = {"CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "40"}
RECORDED = {"RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "1" * 32,
            "RecordingSid": "RE" + "1" * 32, "RecordingDuration": "21"}


def _abandoned(app) -> list[int]:
    with app.app_context():
        return db.session.scalars(select(CallEvent.call_id).where(CallEvent.kind == "abandoned")
                                  .order_by(CallEvent.id)).all()


def _counts(app) -> dict:
    """What a practice would miss if it were lost: calls, those ended, callbacks owed, messages."""
    with app.app_context():
        return {"calls": db.session.scalar(select(func.count(Call.id))),
                "ended": db.session.scalar(select(func.count(Call.id)).where(Call.ended_at.is_not(None))),
                "callbacks": db.session.scalar(select(func.count(CallbackTask.id))),
                "messages": db.session.scalar(select(func.count(Message.id)))}


def _handlers(app):
    from callcenter.call_status import apply

    return {"status": lambda fields: apply(db.session, app.call_queue, app.followups, fields)}


def test_kept_status_callbacks_are_replayed_in_the_order_they_came(app, world):
    first = waiting_call(app, call_sid="CA" + "1" * 32)
    second = waiting_call(app, call_sid="CA" + "2" * 32)
    app.kept.keep("status", incoming(sid="CA" + "2" * 32, **HUNG_UP))
    app.kept.keep("status", incoming(sid="CA" + "1" * 32, **HUNG_UP))

    with app.app_context():
        done = app.kept.replay(_handlers(app), on_failure=db.session.rollback)

    assert [(kind, a.abandoned, a.call_id) for kind, a in done.applied] == [("status", True, second),
                                                                          ("status", True, first)]
    assert _abandoned(app) == [second, first]
    assert len(app.kept) == 0


def test_while_the_database_is_down_a_kept_callback_stays_first_and_nothing_after_it_is_lost(app, world):
    sids = ["CA" + c * 32 for c in "123"]
    ids = [waiting_call(app, call_sid=sid) for sid in sids]
    for sid in sids:
        app.kept.keep("status", incoming(sid=sid, **HUNG_UP))
    handlers = _handlers(app)

    def database_locked_at_the_second(fields):
        if fields["CallSid"] == sids[1]:
            raise OperationalError("UPDATE calls", {}, Exception("database is locked"))
        return handlers["status"](fields)

    with app.app_context(), pytest.raises(OperationalError):
        app.kept.replay({"status": database_locked_at_the_second}, on_failure=db.session.rollback)

    assert _abandoned(app) == [ids[0]]
    kept = [json.loads(raw)["fields"]["CallSid"] for raw in app.redis.lrange(KeptWebhooks.key, 0, -1)]
    assert kept == sids[1:]
    assert app.kept.dead() == []  # the database was down, the item was fine: it is not set aside

    with app.app_context():  # the database is back: the next round applies the rest, in order
        assert len(app.kept.replay(handlers, on_failure=db.session.rollback).applied) == 2
    assert _abandoned(app) == ids
    assert len(app.kept) == 0


def test_a_callback_that_can_never_be_applied_is_set_aside_once_and_the_rest_are_replayed(app, world):
    before = waiting_call(app, call_sid="CA" + "1" * 32)
    after = waiting_call(app, call_sid="CA" + "2" * 32)
    app.kept.keep("status", incoming(sid="CA" + "1" * 32, **HUNG_UP))
    app.redis.rpush(KeptWebhooks.key, b"{not json")  # a torn write from an older version
    # As an older version kept it, with a NUL that PostgreSQL refuses (SQLite takes it): applied or set
    # aside, it must never sit at the head of the line.
    app.redis.rpush(KeptWebhooks.key, json.dumps({"kind": "status", "fields": {
        "CallSid": "CA\x00" + "9" * 31, "CallStatus": "completed", "From": "\x00", "To": MAPLE_NUMBER}}))
    app.redis.rpush(KeptWebhooks.key, json.dumps({"kind": "fax", "fields": {}}))  # a kind we do not know
    app.kept.keep("status", incoming(sid="CA" + "2" * 32, **HUNG_UP))
    sam = console_for(app, "sam@example.test")  # a supervisor's console
    received(sam, "snapshot")

    with app.app_context():
        first = reconcile()
        second = reconcile()

    abandoned = _abandoned(app)
    assert (abandoned[0], abandoned[-1]) == (before, after)  # the good ones on either side both applied
    assert len(app.kept) == 0
    dead = app.kept.dead()
    assert first["set_aside"] == len(dead) and len(dead) in (2, 3)  # 3 on PostgreSQL
    assert {d["error"] for d in dead} >= {"JSONDecodeError", "KeyError"}
    assert second["set_aside"] == 0  # raised once, not every round
    notices = [notice["text"] for notice in received(sam, "supervisor_notice")]
    assert notices == [f"{len(dead)} Twilio callback(s) could not be applied and were set aside. "
                       "Ask the service's administrator to look at them (flask kept show)."]

    from ops.cli import kept_retry
    assert "put back in line" in app.test_cli_runner().invoke(kept_retry).output
    assert app.kept.dead() == [] and len(app.kept) == len(dead)


def test_a_hang_up_while_redis_is_down_is_applied_to_the_ledger_and_the_queue_mended_after(app, world, twilio_http):
    call_id = waiting_call(app)
    before = _counts(app)
    down = with_parts_down(app, redis_down=True)

    response = TwilioSigner(down.test_client()).post("/ivr/status", incoming(**HUNG_UP))

    assert response.status_code == 204
    after = _counts(app)
    assert after == {**before, "ended": before["ended"] + 1, "callbacks": before["callbacks"] + 1}
    with app.app_context():
        call = db.session.get(Call, call_id)
        assert (call.state, call.telephony_status) == ("abandoned", "completed")
        task = db.session.scalar(select(CallbackTask).where(CallbackTask.call_id == call_id))
        assert task.number == PATIENT
        assert task.sms_sid is None  # the SMS job could not be queued
        task.created_at -= timedelta(minutes=5)
        task_id = task.id
        db.session.commit()
    assert app.call_queue.position(call_id) == 1  # Redis missed it; the ledger has it

    with app.app_context():  # Redis is back: the worker's round
        result = reconcile()
    assert result["removed"] == 1 and app.call_queue.position(call_id) is None
    assert result["sms_not_sent"] == [task_id]  # and its SMS job is queued again
    assert _counts(app) == after


def test_with_redis_and_the_database_down_callbacks_go_to_the_spool_and_are_replayed_after(app, world):
    call_id = waiting_call(app)
    voicemail_sid = "CA" + "7" * 32
    before = _counts(app)
    both_down = with_parts_down(app, redis_down=True, database_down=True)
    twilio = TwilioSigner(both_down.test_client())

    hung_up = twilio.post("/ivr/status", incoming(**HUNG_UP))
    recorded = twilio.post("/ivr/voicemail", incoming(sid=voicemail_sid, CallStatus="in-progress", **RECORDED))

    assert hung_up.status_code == 204
    assert recorded.status_code == 200 and b"recorded" in recorded.data  # true: Twilio holds it, we keep it
    assert app.kept.spooled() == 2 and len(app.kept) == 0
    assert _counts(app) == before  # nothing applied yet, and nothing lost: it is on this machine's disk

    with app.app_context():  # both are back: the worker forwards the spool and replays it
        result = reconcile()

    assert result["replayed"] == 2
    assert app.kept.spooled() == 0 and len(app.kept) == 0
    assert _counts(app) == {"calls": before["calls"] + 1, "ended": before["ended"] + 1,
                            "callbacks": before["callbacks"] + 1, "messages": before["messages"] + 1}
    with app.app_context():
        assert db.session.get(Call, call_id).state == "abandoned"
        message = db.session.scalar(select(Message))
        assert (message.kind, message.needs_review, message.recording_url) == ("voicemail", True,
                                                                               RECORDED["RecordingUrl"])


def test_a_web_process_forwards_its_spool_to_redis_once_redis_answers(app, world, monkeypatch):
    from callcenter import kept as kept_module

    with_parts_down(app, redis_down=True).kept.keep("status", incoming(**HUNG_UP))
    assert app.kept.spooled() == 1
    monkeypatch.setattr(kept_module, "FORWARD_EVERY", 0.0)

    TwilioSigner(app.test_client()).post("/ivr/status", incoming(sid="CA" + "8" * 32, **HUNG_UP))

    assert app.kept.spooled() == 0
    assert [json.loads(raw)["fields"]["CallSid"] for raw in app.redis.lrange(KeptWebhooks.key, 0, -1)] == [SID]


def test_a_voicemail_the_database_could_not_save_is_kept_and_becomes_a_message(app, world):
    down = with_parts_down(app, database_down=True)

    answer = TwilioSigner(down.test_client()).post("/ivr/voicemail", incoming(CallStatus="in-progress", **RECORDED))

    assert b"recorded" in answer.data
    assert len(app.kept) == 1
    with app.app_context():
        assert reconcile()["replayed"] == 1
        [message] = db.session.scalars(select(Message)).all()
        assert message.recording_url == RECORDED["RecordingUrl"] and message.needs_review


def test_faults_noted_while_the_database_was_down_stay_in_redis_until_the_database_has_them(app, world):
    from callcenter.kept import note_fault, noted_faults
    from callcenter.models import SecurityEvent
    from ops.jobs import _write_down_faults

    note_fault(app.redis, "webhook_fault", "/ivr/voice", "OperationalError")
    down = with_parts_down(app, database_down=True)
    with down.app_context(), pytest.raises(OperationalError):
        _write_down_faults(down)  # the worker's round, with the database still down
    assert len(noted_faults(app.redis)[0]) == 1  # not lost
    with app.app_context():
        _write_down_faults(app)
        assert db.session.scalar(select(func.count(SecurityEvent.id))) == 1
    assert noted_faults(app.redis)[0] == []
