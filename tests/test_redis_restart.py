"""Redis restarts without its data, with agents at their consoles and callers waiting: the consoles carry on,
each agent's presence is rebuilt from the ledger at the next heartbeat, the queue by the reconciler, and the
next caller is queued for the agents who are there instead of being told nobody is."""

from agents_ui.broadcast import NAMESPACE
from ops.jobs import reconcile
from tests.support import ask, incoming, log_in, log_out, open_console, waiting_call
from tests.twiml_helpers import parse, spoken


def _console(app, email: str):
    browser = app.test_client()
    assert log_in(browser, email).status_code == 302
    return browser, open_console(app, browser)


def test_after_redis_loses_everything_consoles_carry_on_and_presence_is_rebuilt(app, world, twilio):
    _, alice = _console(app, "alice@example.test")
    _, bob = _console(app, "bob@example.test")
    assert ask(alice, "available", {"available": True})["ok"]
    assert ask(bob, "available", {"available": False, "reason": "lunch"})["ok"]
    holding = waiting_call(app, call_sid="CA" + "1" * 32)
    since = app.presence.available_since(world["alice"])

    app.redis.flushdb()  # Redis restarted without its data
    assert app.presence.available_agents() == []

    assert ask(alice, "heartbeat") == {"ok": True}  # not "your session has ended"
    assert ask(bob, "heartbeat") == {"ok": True}
    assert app.presence.available_agents() == [world["alice"]]
    assert app.presence.available_since(world["alice"]) == since  # she keeps her place in the idle order
    assert app.presence.state_of(world["bob"])[:2] == ("away", "lunch")
    me = ask(alice, "snapshot")["me"]
    assert (me["status"], me["available"]) == ("available", True)

    with app.app_context():
        assert reconcile()["restored"] == 1  # the caller who was holding is back in line, first
    assert app.call_queue.position(holding) == 1

    twilio.post("/ivr/voice", incoming(sid="CA" + "2" * 32))
    heard = spoken(parse(twilio.post("/ivr/menu?attempt=1", incoming(sid="CA" + "2" * 32, Digits="2"))))
    assert "in line" in heard and "leave your name" not in heard


def test_a_logout_still_ends_the_console_after_redis_lost_its_data(app, world):
    browser, alice = _console(app, "alice@example.test")
    app.redis.flushdb()
    assert ask(alice, "heartbeat") == {"ok": True}

    log_out(browser)

    assert not alice.is_connected(NAMESPACE)
