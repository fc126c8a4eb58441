"""Offers: the next caller rings the agent idle longest; declines, ring timeouts, missed offers, liveness, skills.

The offer loop's rounds are run here by the test itself (`offer_loop.run_round`, or `acd.run_round`
with a chosen clock), on the real Redis and database, with consoles as Socket.IO test clients.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter import acd
from callcenter.extensions import db
from callcenter.models import AgentStateChange, Call, CallEvent, User
from ops import offer_loop
from tests.support import (
    HARBOR_NUMBER,
    SID,
    ask,
    console_for,
    database_locked,
    log_in,
    log_out,
    received,
    waiting_call,
)

T = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def _round(app, now: datetime, settings: acd.Settings | None = None) -> acd.Round:
    with app.app_context():
        result = acd.run_round(db.session, app.call_queue, app.presence, app.offers, now, settings or app.acd)
        db.session.commit()
        offer_loop.tell_consoles(app, result)
        return result


def _available(app, agent_id: int, since: datetime, heartbeat: datetime = T) -> None:
    """Available since `since`, their console's last heartbeat at `heartbeat`."""
    app.presence.set_available(agent_id, since)
    app.presence.heartbeat(agent_id, heartbeat.timestamp())


def _events(app, call_id: int) -> list[tuple[str, dict]]:
    with app.app_context():
        return [(e.kind, e.data) for e in db.session.scalars(
            select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.id))]


def test_the_next_caller_rings_the_agent_idle_longest(app, world, alice, bob):
    _available(app, world["bob"], T - timedelta(minutes=1))
    _available(app, world["alice"], T - timedelta(minutes=5))
    call_id = waiting_call(app, digit="1")

    result = _round(app, T)

    [offer] = result.offered
    assert (offer.call_id, offer.agent_id) == (call_id, world["alice"])
    [rings] = received(alice, "offer")
    assert rings["call_id"] == call_id
    assert rings["practice"] == "Maple Street Family Medicine"
    assert (rings["reason"], rings["urgent"], rings["ring_seconds"]) == ("urgent", True, 15)
    assert received(bob, "offer") == []
    assert app.call_queue.position(call_id) == 1  # the caller keeps their place while it rings
    assert ("offered", {"agent": world["alice"], "offer": offer.id}) in _events(app, call_id)
    assert ask(alice, "snapshot")["me"]["state"] == "ringing"
    assert ask(alice, "snapshot")["offer"]["call_id"] == call_id


def test_the_console_rings_before_the_database_has_the_offer_written(app, world, alice, database_url):
    """The offer is Redis's to settle from the moment it is made: the agent's console rings at once, and
    a database slow to take writes (someone holds its write lock) delays the ledger's rows, not the ring."""
    import threading
    import time

    now = datetime.now(UTC)  # the offer loop's round runs on the clock
    _available(app, world["alice"], now - timedelta(minutes=5), heartbeat=now)
    call_id = waiting_call(app)
    received(alice, "offer")
    loop = threading.Thread(target=offer_loop.run_round, args=(app,), daemon=True)
    with database_locked(database_url, seconds=10, writes_only=True):  # reads go on; writes wait
        loop.start()
        deadline = time.monotonic() + 5
        rang = []
        while not rang and time.monotonic() < deadline:
            rang = received(alice, "offer")
            time.sleep(0.02)
        assert [r["call_id"] for r in rang] == [call_id]  # rung while the ledger's rows wait for the lock
        assert loop.is_alive()
    loop.join(10)
    assert ("offered", {"agent": world["alice"], "offer": app.offers.of_call(call_id).id}) in _events(app, call_id)


def test_an_agent_who_accepts_while_the_round_writes_its_rows_is_not_written_down_as_ringing(app, world):
    """The console rings before the round's rows are written: an agent who accepts in that moment (on another
    web process) is on the call, and neither the floor nor the ledger's last state may say "ringing"."""
    _available(app, world["alice"], T - timedelta(minutes=5))
    waiting_call(app)

    def accepted_at_once(offer):
        app.presence.note_state(offer.agent_id, "on_call", None, T)  # as acd.accept's enter_state does
    with app.app_context():
        acd.run_round(db.session, app.call_queue, app.presence, app.offers, T, app.acd, ring=accepted_at_once)
        db.session.commit()
        states = db.session.scalars(select(AgentStateChange.state).where(
            AgentStateChange.agent_id == world["alice"]).order_by(AgentStateChange.id)).all()
    assert app.presence.state_of(world["alice"])[0] == "on_call"
    assert "ringing" not in states


def test_one_call_rings_one_agent_and_one_agent_rings_for_one_call(app, world):
    _available(app, world["alice"], T - timedelta(minutes=5))
    _available(app, world["bob"], T - timedelta(minutes=1))
    first = waiting_call(app)
    second = waiting_call(app, call_sid="CA" + "b" * 32, dialled=HARBOR_NUMBER)
    third = waiting_call(app, call_sid="CA" + "c" * 32)

    offered = _round(app, T).offered
    again = _round(app, T + timedelta(seconds=1)).offered

    assert {(o.call_id, o.agent_id) for o in offered} == {(first, world["alice"]), (second, world["bob"])}
    assert again == []
    assert app.offers.of_call(third) is None


def test_a_declined_call_rings_the_next_agent_and_keeps_its_place(app, world, alice, bob):
    _available(app, world["alice"], T - timedelta(minutes=5))
    _available(app, world["bob"], T - timedelta(minutes=1))
    call_id = waiting_call(app)
    _round(app, T)

    assert ask(alice, "decline", {"call_id": call_id}) == {"ok": True}
    [offer] = _round(app, T + timedelta(seconds=1)).offered

    assert offer.agent_id == world["bob"]
    assert received(bob, "offer")[-1]["call_id"] == call_id
    assert app.call_queue.position(call_id) == 1
    assert ask(alice, "decline", {"call_id": call_id}) == {"ok": False,
                                                           "error": "This call is no longer ringing for you."}
    kinds = [k for k, _ in _events(app, call_id)]
    assert kinds.count("offered") == 2 and kinds.count("offer_declined") == 1


def test_an_unanswered_offer_moves_on_after_the_ring_timeout(app, world, alice, bob):
    _available(app, world["alice"], T - timedelta(minutes=5))
    _available(app, world["bob"], T - timedelta(minutes=1))
    call_id = waiting_call(app)
    _round(app, T)

    assert _round(app, T + timedelta(seconds=14)).ended == []
    later = _round(app, T + timedelta(seconds=15.1))

    [ended] = later.ended
    assert (ended.agent_id, ended.outcome, ended.missed_in_a_row) == (world["alice"], "timed_out", 1)
    [offer] = later.offered
    assert offer.agent_id == world["bob"]
    assert received(alice, "offer_ended")[-1] == {"call_id": call_id, "offer_id": ended.offer_id,
                                                  "outcome": "timed_out"}
    assert app.presence.is_available(world["alice"])  # one miss: still available


def test_three_missed_offers_in_a_row_set_the_agent_away_and_tell_the_supervisors(app, world, alice):
    sam = console_for(app, "sam@example.test")
    _available(app, world["alice"], T - timedelta(minutes=5))
    at = T
    for n in range(3):
        waiting_call(app, call_sid=f"CA{n:032d}")
        _round(app, at)
        at += timedelta(seconds=16)
        app.presence.heartbeat(world["alice"], at.timestamp())
        result = _round(app, at)

    assert result.set_away == [(world["alice"], "missed_offers")]
    assert not app.presence.is_available(world["alice"])
    me = ask(alice, "snapshot")["me"]
    assert (me["state"], me["reason"]) == ("away", "missed_offers")
    [notice] = received(sam, "supervisor_notice")
    assert notice["text"] == "Alice missed three offered calls in a row and has been set away."
    with app.app_context():
        states = [(s.state, s.reason) for s in db.session.scalars(
            select(AgentStateChange).where(AgentStateChange.agent_id == world["alice"]).order_by(AgentStateChange.id))]
    assert states[-1] == ("away", "missed_offers")
    assert ("ringing", None) in states


def test_accepting_resets_the_missed_count(app, world, alice, twilio_http):
    _available(app, world["alice"], T - timedelta(minutes=5))
    waiting_call(app, call_sid="CA" + "0" * 32)
    _round(app, T)
    _round(app, T + timedelta(seconds=16))
    assert app.offers.missed_in_a_row(world["alice"]) == 1
    call_id = waiting_call(app)
    app.presence.heartbeat(world["alice"], (T + timedelta(seconds=16)).timestamp())
    _round(app, T + timedelta(seconds=17))

    offered = received(alice, "offer")[-1]["call_id"]
    answer = ask(alice, "accept", {"call_id": offered})

    assert answer["ok"] is True
    assert app.offers.missed_in_a_row(world["alice"]) == 0
    with app.app_context():
        assert db.session.get(Call, offered).agent_id == world["alice"]
    assert call_id in (offered, app.call_queue.waiting()[0].call_id)


def test_a_caller_who_hangs_up_while_ringing_is_withdrawn_from_the_agent(app, world, alice, twilio):
    _available(app, world["alice"], T - timedelta(minutes=5))
    call_id = waiting_call(app)
    _round(app, T)

    twilio.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "SequenceNumber": "3",
                                "To": "+14155550101", "From": "+14155550123", "Direction": "inbound"})
    result = _round(app, T + timedelta(seconds=1))

    [ended] = result.ended
    assert (ended.call_id, ended.outcome) == (call_id, "withdrawn")
    assert received(alice, "offer_ended")[-1]["outcome"] == "withdrawn"
    assert app.offers.missed_in_a_row(world["alice"]) == 0  # not the agent's miss
    assert ask(alice, "accept", {"call_id": call_id})["ok"] is False


def test_a_silent_console_goes_offline_and_its_offer_moves_on(app, world, alice, bob):
    _available(app, world["alice"], T - timedelta(minutes=5))
    _available(app, world["bob"], T - timedelta(minutes=1))
    call_id = waiting_call(app)
    long_ring = acd.Settings(ring_seconds=60)
    _round(app, T, long_ring)
    app.presence.heartbeat(world["bob"], (T + timedelta(seconds=25)).timestamp())  # Bob's tab is alive

    result = _round(app, T + timedelta(seconds=31), long_ring)

    assert (world["alice"], "offline") in result.set_away
    assert not app.presence.is_available(world["alice"])
    assert app.offers.of_call(call_id).agent_id == world["bob"]
    me = ask(alice, "snapshot")["me"]  # the console came back: it says what happened
    assert (me["state"], me["reason"]) == ("away", "offline")


def test_an_offline_agent_is_not_counted_as_someone_who_can_answer(app, world, twilio):
    _available(app, world["alice"], T - timedelta(minutes=5))
    _round(app, T + timedelta(minutes=5))  # no heartbeat since T - 5 min: offline

    answer = twilio.post("/ivr/voice", {"CallSid": SID, "To": "+14155550101", "From": "+14155550123",
                                        "CallStatus": "ringing", "Direction": "inbound"})
    assert app.presence.count_available() == 0
    assert answer.status_code == 200


def test_a_spanish_caller_rings_a_spanish_speaking_agent_first_then_anyone(app, world):
    with app.app_context():
        db.session.get(User, world["bob"]).languages = ["en", "es"]
        db.session.commit()
    _available(app, world["alice"], T - timedelta(minutes=5))
    _available(app, world["bob"], T - timedelta(minutes=1))
    call_id = waiting_call(app)
    with app.app_context():
        call = db.session.get(Call, call_id)
        call.language = "es"
        call.queued_at = T
        db.session.commit()

    [offer] = _round(app, T).offered
    assert offer.agent_id == world["bob"]
    with app.app_context():
        assert acd.decline(db.session, app.presence, app.offers, call_id, db.session.get(User, world["bob"]), T)
        db.session.commit()

    assert _round(app, T + timedelta(seconds=5)).offered == []  # Alice speaks no Spanish; Bob passed just now
    for agent in ("alice", "bob"):
        app.presence.heartbeat(world[agent], (T + timedelta(seconds=acd.SKILL_WAIT)).timestamp())
    [later] = _round(app, T + timedelta(seconds=acd.SKILL_WAIT + 1)).offered
    assert later.agent_id == world["alice"]


def test_a_supervisor_assigns_a_caller_to_a_chosen_agent(app, world, alice, bob):
    sam = console_for(app, "sam@example.test")
    _available(app, world["alice"], T - timedelta(minutes=5))
    _available(app, world["bob"], T - timedelta(minutes=1))
    call_id = waiting_call(app)

    answer = ask(sam, "assign", {"call_id": call_id, "agent_id": world["bob"]})

    assert answer["ok"] is True
    assert received(bob, "offer")[-1]["assigned"] is True
    assert app.offers.of_call(call_id).agent_id == world["bob"]
    assert ask(alice, "assign", {"call_id": call_id, "agent_id": world["alice"]}) == {
        "ok": False, "error": "Only a supervisor can assign a caller to an agent."}


def test_an_agent_stepping_away_gives_up_the_ringing_call(app, world, alice):
    _available(app, world["alice"], T - timedelta(minutes=5))
    call_id = waiting_call(app)
    _round(app, T)

    me = ask(alice, "available", {"available": False, "reason": "lunch"})["me"]

    assert (me["state"], me["reason"]) == ("away", "lunch")
    assert app.offers.of_call(call_id) is None
    assert app.call_queue.position(call_id) == 1
    assert ask(alice, "available", {"available": False, "reason": "nap"})["ok"] is False


def test_the_offer_loop_rings_a_console_within_its_round(app, world, alice):
    ask(alice, "available", {"available": True})
    thread, stop = offer_loop.start(app, every=0.05)
    try:
        call_id = waiting_call(app)
        from tests.support import eventually
        offer = eventually(lambda: [o for o in received(alice, "offer") if o["call_id"] == call_id], timeout=5)
    finally:
        stop.set()
        thread.join(2)
    assert offer[0]["practice"] == "Maple Street Family Medicine"


def test_a_web_process_rings_agents_itself_while_no_worker_runs_the_offer_loop(app, world, alice):
    ask(alice, "available", {"available": True})
    call_id = waiting_call(app)

    assert offer_loop.standby_round(app) is True  # no round has run: every worker is down
    assert received(alice, "offer")[-1]["call_id"] == call_id
    assert offer_loop.standby_round(app) is True  # still no worker: the standby goes on
    offer_loop.run_round(app)  # a worker is back
    assert offer_loop.standby_round(app) is False  # and the standby stays quiet


def test_the_agents_states_through_a_call_agree_in_redis_the_ledger_and_the_console(app, world, alice, twilio):
    from tests.support import MAPLE_NUMBER, PATIENT, agent_answers

    ask(alice, "available", {"available": True})
    call_id = waiting_call(app)
    offer_loop.run_round(app)
    assert ask(alice, "snapshot")["me"]["state"] == "ringing"
    ask(alice, "accept", {"call_id": call_id})
    twilio.post(f"/ivr/connect/{call_id}", {"CallSid": SID, "To": MAPLE_NUMBER, "From": PATIENT})
    agent_answers(twilio, call_id, SID, world["alice"])
    assert ask(alice, "snapshot")["me"]["state"] == "on_call"
    twilio.post("/ivr/status", {"CallSid": SID, "CallStatus": "completed", "SequenceNumber": "4", "CallDuration": "60",
                                "To": MAPLE_NUMBER, "From": PATIENT, "Direction": "inbound"})
    me = ask(alice, "snapshot")["me"]
    with app.app_context():
        ended = db.session.get(Call, call_id).ended_at
    assert (me["state"], me["since"]) == ("wrap_up", ended.isoformat())  # after-call work since the caller left
    ask(alice, "wrap_up", {"call_id": call_id, "disposition": "answered_question"})

    assert ask(alice, "snapshot")["me"]["state"] == "available"
    with app.app_context():
        states = [s.state for s in db.session.scalars(
            select(AgentStateChange).where(AgentStateChange.agent_id == world["alice"]).order_by(AgentStateChange.id))]
    assert states == ["available", "ringing", "on_call", "wrap_up", "available"]
    assert app.presence.state_of(world["alice"])[0] == "available"


def test_logging_out_moves_the_ringing_call_on_at_once(app, world, alice, bob):
    _available(app, world["alice"], T - timedelta(minutes=5))
    _available(app, world["bob"], T - timedelta(minutes=1))
    call_id = waiting_call(app)
    [offer] = _round(app, T).offered
    assert offer.agent_id == world["alice"]
    browser = app.test_client()
    log_in(browser, "alice@example.test")

    log_out(browser)

    assert app.offers.of_call(call_id) is None  # not left ringing for 15 s
    assert app.presence.state_of(world["alice"])[:2] == ("away", "offline")
    [again] = _round(app, T + timedelta(seconds=1)).offered
    assert again.agent_id == world["bob"]
