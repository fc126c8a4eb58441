"""The Redis call queue: order, aging, exactly-once takes, rebuild from the ledger."""

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter import calls
from callcenter.calls import Refused
from callcenter.extensions import db
from callcenter.models import Call, User
from callcenter.queue import PRIORITY_ROUTINE, PRIORITY_URGENT, URGENT_HEAD_START, CallQueue
from tests.support import queued_call

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_it_answers_urgent_callers_first(app):
    q = app.call_queue
    q.enqueue(1, T0, PRIORITY_ROUTINE)
    q.enqueue(2, T0 + timedelta(seconds=30), PRIORITY_ROUTINE)
    q.enqueue(3, T0 + timedelta(seconds=60), PRIORITY_URGENT)
    assert [w.call_id for w in q.waiting()] == [3, 1, 2]
    assert q.position(1) == 2


def test_a_routine_caller_who_waited_long_enough_goes_before_a_new_urgent_one(app):
    q = app.call_queue
    q.enqueue(1, T0, PRIORITY_ROUTINE)
    q.enqueue(2, T0 + timedelta(seconds=URGENT_HEAD_START + 1), PRIORITY_URGENT)
    assert [w.call_id for w in q.waiting()] == [1, 2]


def test_enqueue_is_idempotent_and_keeps_the_original_place(app):
    q = app.call_queue
    q.enqueue(1, T0, PRIORITY_ROUTINE)
    q.enqueue(2, T0 + timedelta(seconds=5), PRIORITY_ROUTINE)
    assert q.enqueue(1, T0 + timedelta(seconds=99), PRIORITY_ROUTINE) == 1
    assert len(q) == 2


def test_fifty_concurrent_takers_of_one_call_succeed_exactly_once(app):
    q = app.call_queue
    q.enqueue(42, T0, PRIORITY_ROUTINE)
    barrier = threading.Barrier(50)
    wins = []

    def taker():
        barrier.wait()
        wins.append(q.take(42))

    threads = [threading.Thread(target=taker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
    assert len(wins) == 50
    assert len(q) == 0


def test_the_queue_is_rebuilt_from_the_ledger_in_the_same_order(app, world):
    with app.app_context():
        ids = [queued_call(db.session, app.call_queue, f"CA{n:032d}", digit=d).id
               for n, d in enumerate(["2", "1", "0", "2"])]
        before = [w.call_id for w in app.call_queue.waiting()]
        assert sorted(before) == sorted(ids)
        app.redis.delete(CallQueue.key)  # Redis lost its data
        assert len(app.call_queue) == 0
        assert calls.rebuild_queue(db.session, app.call_queue) == 4
        assert [w.call_id for w in app.call_queue.waiting()] == before


def test_only_one_agent_gets_the_call_and_the_other_is_told(app, world, twilio_http):
    with app.app_context():
        call = queued_call(db.session, app.call_queue, "CA" + "b" * 32)
        alice, bob = db.session.get(User, world["alice"]), db.session.get(User, world["bob"])
        taken = calls.take(db.session, app.call_queue, app.presence, app.gateway, call.id, alice, "https://x.test/ivr/connect/1")
        assert taken.agent_id == alice.id and taken.state == "connecting"
        try:
            calls.take(db.session, app.call_queue, app.presence, app.gateway, call.id, bob, "https://x.test/ivr/connect/1")
        except Refused as exc:
            assert "already taken" in str(exc)
        else:
            raise AssertionError("the second take must fail")
    assert len(twilio_http.requests) == 1
    sent = twilio_http.requests[0]
    assert sent["method"] == "POST"
    assert sent["url"].endswith(f"/2010-04-01/Accounts/{app.config['TWILIO_ACCOUNT_SID']}/Calls/{'CA' + 'b' * 32}.json")
    assert sent["data"] == {"Url": "https://x.test/ivr/connect/1", "Method": "POST"}


def test_a_failed_redirect_puts_the_caller_back_in_their_place(app, world, twilio_http):
    twilio_http.fail_with = 400
    with app.app_context():
        first = queued_call(db.session, app.call_queue, "CA" + "c" * 32)
        queued_call(db.session, app.call_queue, "CA" + "d" * 32)
        alice = db.session.get(User, world["alice"])
        try:
            calls.take(db.session, app.call_queue, app.presence, app.gateway, first.id, alice, "https://x.test/c")
        except Refused as exc:
            assert "back in the queue" in str(exc)
        else:
            raise AssertionError("the take must fail")
        assert app.call_queue.position(first.id) == 1
        refreshed = db.session.scalar(select(Call).where(Call.id == first.id))
        assert refreshed.state == "queued" and refreshed.agent_id is None
        assert [e.kind for e in refreshed.events][-2:] == ["taken", "requeued"]


def test_a_twilio_that_cannot_be_reached_puts_the_caller_back(app, world):
    """No answer at all from Twilio (connection refused) is handled like a refusal."""
    from app import create_app

    offline = create_app({**app.config, "TWILIO_HTTP_CLIENT": None, "TWILIO_API_BASE": "http://127.0.0.1:1"})
    with offline.app_context():
        call = queued_call(db.session, offline.call_queue, "CA" + "7" * 32)
        alice = db.session.get(User, world["alice"])
        try:
            calls.take(db.session, offline.call_queue, offline.presence, offline.gateway, call.id, alice, "https://x.test/c")
        except Refused as exc:
            assert "back in the queue" in str(exc)
        else:
            raise AssertionError("the take must fail")
        assert offline.call_queue.position(call.id) == 1
        assert db.session.get(Call, call.id).state == "queued"


def test_the_console_snapshot_lists_the_first_hundred_and_counts_them_all(app, world):
    from agents_ui.read_model import SNAPSHOT_LIMIT, queue_snapshot

    with app.app_context():
        for n in range(SNAPSHOT_LIMIT + 5):
            queued_call(db.session, app.call_queue, f"CA{n:032d}")
        snapshot = queue_snapshot(db.session, app.call_queue, app.presence)
    assert snapshot["total"] == SNAPSHOT_LIMIT + 5
    assert len(snapshot["waiting"]) == SNAPSHOT_LIMIT
    assert [row["position"] for row in snapshot["waiting"][:3]] == [1, 2, 3]


def test_a_practice_holds_no_more_callers_than_its_own_capacity_while_others_still_queue(app):
    q = app.call_queue
    assert q.enqueue(1, T0, PRIORITY_ROUTINE, practice_id=7, practice_capacity=2) == 1
    assert q.enqueue(2, T0 + timedelta(seconds=1), PRIORITY_ROUTINE, practice_id=7, practice_capacity=2) == 2
    assert q.enqueue(3, T0 + timedelta(seconds=2), PRIORITY_ROUTINE, practice_id=7, practice_capacity=2) == -1
    assert q.enqueue(4, T0 + timedelta(seconds=3), PRIORITY_ROUTINE, practice_id=8, practice_capacity=2) == 3
    assert (q.waiting_for(7), q.waiting_for(8), len(q)) == (2, 1, 3)

    assert q.take(1)  # one of practice 7's callers is answered: room for the next
    assert q.enqueue(3, T0 + timedelta(seconds=2), PRIORITY_ROUTINE, practice_id=7, practice_capacity=2) == 2
    assert q.take_next() == 2
    assert (q.waiting_for(7), q.waiting_for(8)) == (1, 1)


def test_the_service_capacity_holds_across_practices(app):
    q = CallQueue(app.redis, capacity=2)
    assert q.enqueue(1, T0, PRIORITY_ROUTINE, practice_id=7) == 1
    assert q.enqueue(2, T0, PRIORITY_ROUTINE, practice_id=8) == 2
    assert q.enqueue(3, T0, PRIORITY_ROUTINE, practice_id=9) == -1
    q.remove(2)
    assert (q.waiting_for(8), q.enqueue(3, T0, PRIORITY_ROUTINE, practice_id=9)) == (0, 2)


def test_a_rebuilt_queue_counts_each_practices_callers_again(app):
    q = app.call_queue
    q.rebuild([(1, T0, PRIORITY_ROUTINE, 7), (2, T0, PRIORITY_URGENT, 7), (3, T0, PRIORITY_ROUTINE, 8)])
    assert (q.waiting_for(7), q.waiting_for(8)) == (2, 1)
    assert q.enqueue(4, T0, PRIORITY_ROUTINE, practice_id=7, practice_capacity=2) == -1
