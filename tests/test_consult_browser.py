"""In headless Chromium, with the console's own (emulated) browser audio: the agent puts a patient on hold,
consults the on-call clinician (who first does not answer, then does) and puts them through."""

from __future__ import annotations

import pytest
from playwright import sync_api as playwright_sync
from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import Call
from tests.support import MAPLE_NUMBER, ON_CALL_NUMBER, PATIENT, csp_refusals, log_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_agent_holds_consults_and_puts_the_clinician_through_from_the_console(
        phone_system, world, on_call, browser):
    expect = playwright_sync.expect
    phone_system.app.config["PUBLIC_BASE_URL"] = phone_system.app_url
    console = browser.new_context().new_page()
    refused = csp_refusals(console)
    log_in_browser(console, phone_system.app_url, "alice@example.test")
    expect(console.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
    console.locator("#available-toggle").click()
    expect(console.locator("#available-toggle")).to_have_text("Available")

    caller = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    caller.wait_for("press 1")
    caller.press("2")
    console.locator("#offer .accept").click(timeout=15_000)
    line = console.locator("#current-call .line-state")
    expect(line).to_have_text("Connected", timeout=15_000)
    with phone_system.app.app_context():
        call_id = db.session.scalar(select(Call.id))

    hold = console.locator("#hold")
    expect(hold).to_be_enabled()
    console.keyboard.press("Alt+o")
    caller.wait_for("[hold music]")
    expect(line).to_have_text("On hold. The caller hears hold music.")
    expect(hold).to_have_text("Resume")

    console.locator("#consult").click()
    expect(line).to_have_text("Calling Dr. Rivera… The caller is on hold.")
    expect(console.locator("#put-through")).to_be_hidden()  # nobody to put through until they answer
    phone_system.phone.incoming(ON_CALL_NUMBER).decline()
    notice = console.locator("#console-notice")
    expect(notice).to_contain_text("Dr. Rivera did not answer. The caller is still on hold.", timeout=10_000)
    expect(line).to_have_text("On hold. The caller hears hold music.")

    console.locator("#consult").click()
    clinician = phone_system.phone.incoming(ON_CALL_NUMBER)
    clinician.answer()
    clinician.wait_for("An agent has a patient on hold for you")
    expect(line).to_have_text("Talking to Dr. Rivera. The caller is on hold.", timeout=10_000)
    assert caller.status()["display"] == "waiting for conference"  # the patient does not hear the consult

    expect(console.locator("#put-through")).to_have_text("Put Dr. Rivera through")
    console.locator("#put-through").click()
    expect(notice).to_contain_text("Dr. Rivera is through to the caller")
    caller.wait_for_status("in conference (2 participants)")  # the patient and Dr. Rivera
    expect(line).to_have_text("The caller has hung up. Please finish the wrap-up.", timeout=10_000)
    wrapup = console.locator("#wrapup")
    expect(wrapup.locator("select[name=disposition]")).to_have_value("transferred")
    console.keyboard.press("Control+Enter")
    expect(wrapup).to_be_hidden(timeout=10_000)
    clinician.hang_up()
    caller.wait_for_status("ended")
    with phone_system.app.app_context():
        call = db.session.get(Call, call_id)
        assert (call.state, call.disposition, call.hold) == ("wrapped_up", "transferred", "joined")
    assert refused == []  # the console and its emulated audio passed the Content-Security-Policy
