"""In headless Chromium: a call placed on the softphone rings the console, is accepted, wrapped up,
and then found by the practice in its portal."""

import re

import pytest
from playwright import sync_api as playwright_sync
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import Call
from tests.support import MAPLE_NUMBER, accessibility_problems, log_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_softphone_call_is_taken_wrapped_up_and_seen_by_the_practice(phone_system, world, browser):
    from emulator import configure

    configure(phone_system.emulator, speed=4.0)  # slow enough for a browser to press keys in time
    expect = playwright_sync.expect
    softphone = browser.new_context().new_page()
    console = browser.new_context().new_page()
    portal = browser.new_context().new_page()

    log_in_browser(console, phone_system.app_url, "alice@example.test")
    expect(console.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
    toggle = console.locator("#available-toggle")
    expect(toggle).to_be_enabled()
    toggle.click()
    expect(toggle).to_have_text("Available")

    softphone.goto(phone_system.emulator_url)
    softphone.fill("#dial-to", MAPLE_NUMBER)
    softphone.click("#dial")
    expect(softphone.locator("#transcript")).to_contain_text("Thank you for calling Maple Street Family Medicine",
                                                             timeout=15_000)
    expect(softphone.locator("#transcript")).to_contain_text("press 1", timeout=15_000)
    softphone.click("[data-key='2']")
    expect(softphone.locator("#call-status")).to_contain_text("queue", timeout=15_000)

    row = console.locator("#queue tr[data-call-id]")
    expect(row).to_have_count(1, timeout=10_000)
    expect(row).to_contain_text("Maple Street Family Medicine")
    offer = console.locator("#offer")  # the offer loop rings Alice's console: she is the one available
    expect(offer).to_be_visible(timeout=10_000)
    expect(offer).to_contain_text("Maple Street Family Medicine")
    expect(row).to_contain_text("Ringing Alice")
    assert accessibility_problems(console) == []  # the console ringing, with a caller in the queue
    offer.locator(".accept").click()
    expect(console.locator("#current-call")).to_contain_text("Dr. Rivera is on call.", timeout=10_000)
    expect(softphone.locator("#call-status")).to_contain_text("connected", timeout=15_000)

    console.click("#hangup")
    expect(softphone.locator("#transcript")).to_contain_text("Goodbye", timeout=15_000)
    wrapup = console.locator("#wrapup")
    expect(wrapup).to_be_visible(timeout=10_000)
    wrapup.locator("select[name=disposition]").select_option("message_taken")
    wrapup.locator("textarea[name=notes]").fill("Asked about lab results.")
    wrapup.locator("input[name=caller_name]").fill("Pat Example")
    wrapup.locator("input[name=callback_number]").fill("+14155550123")
    wrapup.locator("textarea[name=message]").fill("Please call Pat about the lab results from Tuesday.")
    # Pat asked to be called at another number than the one she rang from: the agent reads it back.
    expect(wrapup.locator(".readback")).to_contain_text("415 · 555 · 0123 — not the number they called from")
    console.click("#wrapup-submit")
    expect(console.locator("#console-error")).to_contain_text("Read the callback number back to the caller")
    wrapup.locator("input[name=callback_confirmed]").check()
    console.keyboard.press("Control+Enter")
    expect(wrapup).to_be_hidden(timeout=10_000)

    with phone_system.app.app_context():
        call = db.session.scalar(select(Call))
        assert (call.state, call.outcome, call.disposition) == ("wrapped_up", "message_taken", "message_taken")
        call_id = call.id

    log_in_browser(portal, phone_system.app_url, "desk@maple.test")
    expect(portal.locator(f"#calls tr[data-call-id='{call_id}']")).to_be_visible()
    assert accessibility_problems(portal) == []
    portal.goto(f"{phone_system.app_url}/portal/messages")
    message_row = portal.locator("#messages tr[data-message-id]")
    expect(message_row).to_have_count(1)
    expect(message_row).to_contain_text("lab results")
    assert accessibility_problems(portal) == []
    expect(portal.locator("body")).not_to_contain_text(re.compile("Harbor Pediatrics"))
