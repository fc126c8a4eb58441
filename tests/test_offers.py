"""Offers in Redis: one live offer per call and per agent, and exactly one outcome per offer, whatever
arrives first (accept, decline, the ring timeout, the caller hanging up), on the real Redis."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from callcenter import acd, ledger
from callcenter.extensions import db
from callcenter.models import Call, CallEvent, User
from callcenter.offers import Offers
from tests.support import waiting_call

_sids = itertools.count(1)


def fresh_sid() -> str:
    return f"CA{next(_sids):030x}of"

RACE = settings(max_examples=30, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_a_call_has_one_live_offer_and_an_agent_rings_for_one_call(app, world):
    first, second = waiting_call(app), waiting_call(app, call_sid="CA" + "b" * 32)
    app.presence.set_available(world["alice"], ledger.now())
    app.presence.set_available(world["bob"], ledger.now())
    offers = app.offers
    expires = time.time() + 15

    assert offers.make(first, world["alice"], expires) is not None
    assert offers.make(first, world["bob"], expires) is None  # the call already rings Alice
    assert offers.make(second, world["alice"], expires) is None  # Alice already rings for a call
    assert offers.make(second, world["bob"], expires) is not None
    assert offers.ringing() == {first: world["alice"], second: world["bob"]}


def test_an_offer_needs_a_waiting_caller_and_an_available_agent(app, world):
    call_id = waiting_call(app)
    assert app.offers.make(call_id, world["alice"], time.time() + 15) is None  # Alice is away
    assert app.offers.make(call_id, world["alice"], time.time() + 15, directed=True) is not None  # assigned
    app.call_queue.remove(call_id)
    app.offers.settle(call_id, "withdrawn")
    assert app.offers.make(call_id, world["alice"], time.time() + 15, directed=True) is None  # not waiting


@pytest.mark.parametrize("contenders", [2, 8])
def test_concurrent_outcomes_settle_an_offer_exactly_once(app, world, contenders):
    call_id = waiting_call(app)
    app.presence.set_available(world["alice"], ledger.now())
    offer = app.offers.make(call_id, world["alice"], time.time() + 15)
    outcomes = ["accepted", "declined", "timed_out", "withdrawn"]
    start = threading.Barrier(contenders)
    results = []

    def contend(n: int) -> None:
        mine = Offers(app.redis)  # each its own scripts and connection use, as separate processes would
        start.wait()
        results.append(mine.settle(call_id, outcomes[n % len(outcomes)], offer_id=offer.id))

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    settled = [r for r in results if r is not None]
    assert len(settled) == 1
    assert app.offers.of_call(call_id) is None and app.offers.of_agent(world["alice"]) is None
    assert app.offers.due(time.time() + 60) == []
    assert app.call_queue.position(call_id) == 1  # settling an offer never takes the caller out of line


ACTIONS = ("accept", "decline", "timeout", "hang_up")


@pytest.mark.slow
@RACE
@given(order=st.permutations(ACTIONS), repeats=st.lists(st.sampled_from(ACTIONS), max_size=3))
def test_any_order_of_answers_ends_an_offer_once_and_never_loses_the_caller(app, world, twilio, twilio_http,
                                                                            order, repeats):
    app.redis.flushdb()  # the queue, presence and offers of earlier examples; their ledger rows stay
    sid = fresh_sid()
    call_id = waiting_call(app, call_sid=sid)
    now = ledger.now()
    app.presence.set_available(world["alice"], now)
    app.presence.heartbeat(world["alice"], now.timestamp())
    with app.app_context():
        [offer] = acd.run_round(db.session, app.call_queue, app.presence, app.offers, now, app.acd).offered
        db.session.commit()
    hung_up = False

    for action in [*order, *repeats]:
        with app.app_context():
            alice = db.session.get(User, world["alice"])
            try:
                if action == "accept":
                    acd.accept(db.session, app.call_queue, app.presence, app.offers, app.gateway, call_id, alice,
                               f"http://localhost/ivr/connect/{call_id}", now)
                elif action == "decline":
                    acd.decline(db.session, app.presence, app.offers, call_id, alice, now)
                elif action == "timeout":
                    acd.run_round(db.session, app.call_queue, app.presence, app.offers,
                                  now + timedelta(seconds=app.acd.ring_seconds + 1), app.acd)
                else:
                    hung_up = True
                    twilio.post("/ivr/status", {"CallSid": sid, "CallStatus": "completed", "SequenceNumber": "9",
                                                "To": "+14155550101", "From": "+14155550123",
                                                "Direction": "inbound"})
                    acd.run_round(db.session, app.call_queue, app.presence, app.offers, now, app.acd)
                db.session.commit()
            except acd.Refused:
                db.session.rollback()

    with app.app_context():
        events = [(e.kind, e.data) for e in db.session.scalars(
            select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.id))]
        call = db.session.get(Call, call_id)
        state, agent_id = call.state, call.agent_id
    made = [data["offer"] for kind, data in events if kind == "offered"]
    ended = [data["offer"] for kind, data in events if kind.startswith("offer_")]
    live = app.offers.of_call(call_id)
    assert made[0] == offer.id
    assert len(ended) == len(set(ended))  # never two outcomes for one offer
    assert sorted(ended + ([live.id] if live else [])) == sorted(made)  # every offer ended once, or still rings
    # The caller is never lost: taken by Alice, still waiting, or gone on their own (abandoned, with a callback).
    in_line = app.call_queue.position(call_id) is not None
    taken = state in ("connecting", "connected") and agent_id == world["alice"]
    assert taken or in_line or (hung_up and state == "abandoned"), (order, repeats, state, events)
    assert not (taken and in_line)
