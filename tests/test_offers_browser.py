"""Offers in headless Chromium: two agents' consoles ring in turn, longest idle first; Decline and the ring
timeout move the call on; three misses set an agent away; a frozen tab goes offline and its offer moves on;
the tab that comes back shows nothing stale.

The app runs with a 3-second ring and consoles offline after 4 silent seconds, so that the test waits for
the real server-side timers (the worker's offer loop runs beside it, as under `make run`).
"""

from __future__ import annotations

import re

import pytest
from playwright import sync_api as playwright_sync

from app import create_app
from ops import offer_loop
from tests.conftest import LiveServer
from tests.support import HARBOR_NUMBER, log_in_browser, waiting_call

pytestmark = [pytest.mark.browser, pytest.mark.slow]
expect = playwright_sync.expect


@pytest.fixture
def quick(app, world, request):
    """The app over HTTP with short offer timers (a 3 s ring unless the test says), and its offer loop."""
    ring = getattr(request, "param", 3)
    quick = create_app({**app.config, "OFFER_RING_SECONDS": ring, "AGENT_OFFLINE_AFTER": 4})
    server = LiveServer(quick).start()
    thread, stop = offer_loop.start(quick, every=0.1)
    yield quick, server.url
    stop.set()
    thread.join(5)
    server.stop()


def _console(browser, url: str, email: str):
    page = browser.new_context().new_page()
    log_in_browser(page, url, email)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
    return page


def _available(page) -> None:
    toggle = page.locator("#available-toggle")
    expect(toggle).to_be_enabled()
    toggle.click()
    expect(toggle).to_have_text("Available")


def test_offers_ring_longest_idle_first_and_move_on_when_declined_or_unanswered(quick, world, browser):
    app, url = quick
    alice = _console(browser, url, "alice@example.test")
    _available(alice)  # Alice has been idle longer than Bob
    bob = _console(browser, url, "bob@example.test")
    _available(bob)

    call_id = waiting_call(app)
    expect(alice.locator("#offer")).to_be_visible(timeout=5_000)
    expect(alice.locator("#offer")).to_contain_text("Maple Street Family Medicine")
    expect(bob.locator("#offer")).to_be_hidden()
    expect(alice).to_have_title(re.compile("Incoming call|Ringing"))
    expect(bob.locator(f"#queue tr[data-call-id='{call_id}']")).to_contain_text("Ringing Alice")

    alice.locator("#offer .decline").click()  # Alice declines: Bob's console rings, the caller keeps their place
    expect(alice.locator("#offer")).to_be_hidden()
    expect(bob.locator("#offer")).to_be_visible(timeout=5_000)
    expect(bob.locator(f"#queue tr[data-call-id='{call_id}'] td.position")).to_have_text("1")

    # Bob lets it ring: after three seconds it rings Alice again, and Bob is told why it went.
    expect(bob.locator("#offer")).to_be_hidden(timeout=6_000)
    expect(bob.locator("#console-notice")).to_contain_text("rang for too long")
    expect(alice.locator("#offer")).to_be_visible(timeout=5_000)

    alice.locator("#offer .accept").click()
    expect(alice.locator("#current-call")).to_contain_text("Dr. Rivera is on call.", timeout=5_000)
    expect(alice.locator("#queue")).to_contain_text("No one is waiting.")
    expect(alice).not_to_have_title(re.compile("Incoming call|Ringing"))


def test_three_missed_offers_set_the_agent_away(quick, world, browser):
    app, url = quick
    sam = _console(browser, url, "sam@example.test")
    alice = _console(browser, url, "alice@example.test")
    _available(alice)

    calls = [waiting_call(app, call_sid=f"CA{n:032d}", dialled=HARBOR_NUMBER if n % 2 else "+14155550101")
             for n in range(3)]
    expect(alice.locator("#offer")).to_be_visible(timeout=5_000)

    # Each rings for three seconds and moves on unanswered; the third miss in a row sets her away.
    expect(alice.locator("#available-toggle")).to_have_text("Away", timeout=15_000)
    expect(alice.locator("#offer")).to_be_hidden()
    expect(alice.locator("#my-status")).to_contain_text("Missed offers")
    expect(sam.locator("#console-notice")).to_contain_text("Alice missed three offered calls in a row")
    assert not app.presence.is_available(world["alice"])
    assert [w.call_id for w in app.call_queue.waiting()] == calls  # every caller kept their place


@pytest.mark.parametrize("quick", [20], indirect=True)  # a long ring: only going offline moves the offer on
def test_a_frozen_tab_goes_offline_its_offer_moves_on_and_it_comes_back_with_nothing_stale(quick, world, browser):
    app, url = quick
    alice = _console(browser, url, "alice@example.test")
    _available(alice)
    bob = _console(browser, url, "bob@example.test")
    _available(bob)
    # Alice's laptop goes to sleep: her page stops (no script runs, no heartbeats), her socket stays open.
    cdp = alice.context.new_cdp_session(alice)
    cdp.send("Debugger.enable")
    cdp.send("Debugger.pause")

    waiting_call(app)

    expect(bob.locator("#offer")).to_be_visible(timeout=10_000)  # offline within 4 s: the call moved on
    assert not app.presence.is_available(world["alice"])
    cdp.send("Debugger.resume")  # she opens the laptop again
    expect(alice.locator("#offer")).to_be_hidden()
    expect(alice.locator("#available-toggle")).to_have_text("Away")
    expect(alice.locator("#my-status")).to_contain_text("Offline")
