"""The console page in headless Chromium: callbacks in the queue, calling a patient back, voicemails
to review and recent pages, as the agent sees them."""

from __future__ import annotations

import pytest
from playwright import sync_api as playwright_sync

from callcenter import ledger
from callcenter.extensions import db
from callcenter.models import OnCallPage
from tests.support import csp_refusals, kept_place, left_voicemail, log_in_browser, outbound_status, ring, task_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_agent_sees_a_callback_calls_the_patient_and_is_freed_when_nobody_answers(
        app, live_app, world, twilio, twilio_http, browser):
    expect = playwright_sync.expect
    call_id = kept_place(app)
    voicemail_id = left_voicemail(app, 7, urgent=True)
    with app.app_context():
        db.session.add(OnCallPage(practice_id=world["maple"], status="no_one_on_call", sent_at=ledger.now()))
        db.session.commit()

    page = browser.new_context().new_page()
    refused = csp_refusals(page)
    log_in_browser(page, live_app.url, "alice@example.test")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)

    row = page.locator(f"#queue tr[data-call-id='{call_id}']")
    expect(row).to_contain_text("Callback")
    expect(row.locator("td.caller")).to_have_text("Callback •••0188")

    voicemail = page.locator(f"#voicemails li[data-message-id='{voicemail_id}']")
    expect(voicemail).to_contain_text("Urgent")
    expect(voicemail).to_contain_text("Maple Street Family Medicine")
    expect(voicemail).to_contain_text("Transcription pending.")
    expect(voicemail.locator("audio")).to_have_attribute("src", f"/console/voicemails/{voicemail_id}/recording")
    expect(page.locator("#pages li[data-page-id]")).to_contain_text("No one on call")

    voicemail.locator("button.review").click()
    expect(voicemail).to_have_count(0)
    expect(page.locator("#voicemails")).to_contain_text("No voicemails to review.")

    ring(app, world["alice"], call_id)
    offer = page.locator("#offer")
    expect(offer).to_contain_text("Callback")
    offer.locator(".accept").click()
    expect(page.locator("#current-call .line-state")).to_have_text("Calling the patient back…")
    expect(page.locator("#current-call .callback-number")).to_have_text("(617) 555-0188")
    expect(page.locator("#wrapup-submit")).to_be_disabled()

    outbound_status(twilio, task_of(app, call_id).outbound_call_sid, "no-answer", 1)

    expect(page.locator("#console-notice")).to_contain_text("The patient did not answer", timeout=10_000)
    expect(page.locator("#current-call .idle")).to_be_visible()
    expect(page.locator("#wrapup")).to_be_hidden()
    expect(page.locator(f"#callbacks li[data-task-id='{task_of(app, call_id).id}']")).to_contain_text(
        "Asked to be called back")
    assert refused == []  # the console passed its Content-Security-Policy
