"""The agent's desk in the domain: presence around a call, and callbacks two agents race for."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agents_ui import read_model
from callcenter import calls, desk, ledger
from callcenter.extensions import db
from callcenter.models import Call, CallbackTask, User
from tests.support import PATIENT, queued_call


def taken_call(app, agent: User, call_sid: str = "CA" + "d" * 32) -> Call:
    """A caller the agent took from the queue through the desk (nothing committed)."""
    call = queued_call(db.session, app.call_queue, call_sid)
    return desk.take_call(db.session, app.call_queue, app.presence, app.gateway, call.id, agent,
                          f"https://example.test/ivr/connect/{call.id}", ledger.now())


def test_it_makes_an_agent_available_again_when_their_caller_hangs_up_before_the_bridge(app, world):
    with app.app_context():
        alice = db.session.get(User, world["alice"])
        desk.set_available(db.session, app.presence, alice, True, ledger.now())
        call = taken_call(app, alice)
        calls.line_ended(db.session, app.call_queue, call, "completed", 4, 30)  # abandoned while connecting
        db.session.commit()

        snapshot = app.console.desk_snapshot(alice)

        assert snapshot["call"] is None
        assert snapshot["me"]["status"] == "available"
        assert app.presence.is_available(alice.id)


def test_it_leaves_an_agent_away_after_they_missed_the_call(app, world):
    with app.app_context():
        alice = db.session.get(User, world["alice"])
        desk.set_available(db.session, app.presence, alice, True, ledger.now())
        call = taken_call(app, alice)
        calls.dial_finished(db.session, app.call_queue, call, "no-answer", None)  # back in the queue
        db.session.commit()

        snapshot = app.console.desk_snapshot(alice)

        assert snapshot["me"]["status"] == "away"
        assert [w["id"] for w in snapshot["queue"]["waiting"]] == [call.id]


def test_it_lets_only_one_agent_complete_a_callback(app, world):
    with app.app_context():
        task = CallbackTask(practice_id=world["maple"], number=PATIENT, reason="voicemail",
                            due_at=ledger.now() - timedelta(minutes=1))
        db.session.add(task)
        db.session.commit()
        alice, bob = db.session.get(User, world["alice"]), db.session.get(User, world["bob"])

        desk.complete_callback(db.session, task.id, alice, ledger.now())
        db.session.commit()
        with pytest.raises(calls.Refused, match="This callback has already been done."):
            desk.complete_callback(db.session, task.id, bob, ledger.now())
        db.session.rollback()

        assert db.session.get(CallbackTask, task.id).completed_by_id == alice.id
        assert read_model.open_callbacks(db.session, ledger.now()) == []
