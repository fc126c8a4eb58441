"""The console's one sender of broadcasts: changes are coalesced off the caller's path and numbered."""

from __future__ import annotations

import time

from agents_ui.broadcast import ConsoleBroadcaster
from callcenter.extensions import socketio
from tests.support import ask, console_for, eventually, received, waiting_call


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


def test_two_processes_changing_the_queue_together_send_one_push_then_one_after_the_rest(app, world, bob):
    """A webhook queues a caller in a web process and, a few milliseconds later, the worker's offer loop
    rings an agent for them: every console gets one push at once, not two, and the second change after
    the rest (a push to a thousand consoles costs the web process tens of milliseconds)."""
    web = ConsoleBroadcaster(app, socketio, interval=0.6)
    worker = ConsoleBroadcaster(app, socketio, interval=0.6)
    bob.get_received("/console")
    call_id = waiting_call(app)
    web.queue_changed()
    time.sleep(0.1)
    worker.queue_changed()
    time.sleep(0.2)

    first = received(bob, "queue")
    assert [[w["id"] for w in p["waiting"]] for p in first] == [[call_id]]
    pushes = []
    eventually(lambda: pushes.extend(received(bob, "queue")) or pushes)
    assert len(pushes) == 1 and pushes[0]["seq"] == first[0]["seq"] + 1


def test_a_change_another_process_has_already_pushed_costs_no_push_of_its_own(app, world, bob):
    """Another process pushed the queue, building it after this process's change (the offer loop rang the
    caller a webhook queued a moment before): the push every console got showed it; none follows."""
    worker = ConsoleBroadcaster(app, socketio, interval=0.3)
    bob.get_received("/console")
    waiting_call(app)
    window = ConsoleBroadcaster.window_key.format("queue")

    app.redis.set(window, repr(time.time() + 5), px=300)  # another process's push, built after what follows
    worker.queue_changed()
    time.sleep(1.0)
    assert received(bob, "queue") == []

    app.redis.set(window, repr(time.time() - 5), px=300)  # built before what follows: that change waits
    worker.queue_changed()
    time.sleep(0.1)
    assert received(bob, "queue") == []
    eventually(lambda: received(bob, "queue"))


def test_a_snapshot_says_which_push_of_each_kind_it_includes(app, world, bob):
    with app.app_context():
        app.console.queue_changed()
        app.console.queue_changed()
        app.console.pages_changed()

    snapshot = ask(bob, "snapshot")

    assert snapshot["seq"] == {"queue": 2, "callbacks": 0, "voicemails": 0, "pages": 1, "worklist": 0, "floor": 2}
    assert [p["seq"] for p in received(bob, "queue")] == [1, 2]


def test_the_floor_goes_to_supervisors_only_and_the_queue_names_only_whom_a_caller_rings(app, world, bob):
    """A floor of hundreds of agents must not ride on every queue change to every console: the agents'
    states go to supervisors (who send callers to agents from them), the queue to everyone."""
    sam = console_for(app, "sam@example.test")
    assert "floor" not in ask(bob, "snapshot")
    assert ask(sam, "snapshot")["floor"] == {"agents": []}  # nobody has a state yet
    received(bob, "floor"), received(sam, "floor")
    with app.app_context():
        assert ask(bob, "available", {"available": True})["ok"]
        call_id = waiting_call(app)
        app.console.queue_changed()

    floor = received(sam, "floor")
    assert floor and [(a["name"], a["state"]) for a in floor[-1]["agents"]] == [("Bob", "available")]
    bobs = bob.get_received("/console")  # reading takes them off the client: all of them at once
    assert [e for e in bobs if e["name"] == "floor"] == []
    queue = [e["args"][0] for e in bobs if e["name"] == "queue"][-1]
    assert "agents" not in queue and [w["id"] for w in queue["waiting"]] == [call_id]

