"""The console's one sender of broadcasts: changes are coalesced off the caller's path and numbered."""

from __future__ import annotations

import time

from agents_ui.broadcast import ConsoleBroadcaster
from callcenter.extensions import socketio
from tests.support import ask, eventually, received, waiting_call


def test_it_sends_a_burst_of_queue_changes_as_a_few_pushes_with_the_final_queue(app, world, bob):
    console = ConsoleBroadcaster(app, socketio, interval=0.3)
    bob.get_received("/console")  # the snapshot on connecting
    call_ids = []
    for n in range(20):  # twenty callers queued as fast as the webhooks can go
        call_ids.append(waiting_call(app, call_sid=f"CA{n:032d}"))
        console.queue_changed()

    pushes = []

    def the_last_caller_is_shown():
        pushes.extend(received(bob, "queue"))  # reading takes them off the test client
        return pushes and len(pushes[-1]["waiting"]) == 20

    eventually(the_last_caller_is_shown)
    time.sleep(0.5)  # nothing more is coming
    pushes.extend(received(bob, "queue"))
    assert 1 <= len(pushes) <= 3  # not twenty
    assert [w["id"] for w in pushes[-1]["waiting"]] == call_ids
    assert [p["seq"] for p in pushes] == list(range(1, len(pushes) + 1))


def test_a_change_costs_the_caller_no_push_of_its_own(app, world, bob):
    console = ConsoleBroadcaster(app, socketio, interval=0.3)
    bob.get_received("/console")
    waiting_call(app)
    console.queue_changed()

    assert received(bob, "queue") == []  # the caller returned before anything was built or sent
    eventually(lambda: received(bob, "queue"))


def test_a_snapshot_says_which_push_of_each_kind_it_includes(app, world, bob):
    with app.app_context():
        app.console.queue_changed()
        app.console.queue_changed()
        app.console.pages_changed()

    snapshot = ask(bob, "snapshot")

    assert snapshot["seq"] == {"queue": 2, "callbacks": 0, "voicemails": 0, "pages": 1, "worklist": 0}
    assert [p["seq"] for p in received(bob, "queue")] == [1, 2]
