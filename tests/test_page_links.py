"""The one-time link in an on-call page's SMS: nothing of the patient in the URL; the clinician confirms the
last four digits of their phone, reads the message once (audited), and may acknowledge the page there."""

from __future__ import annotations

import re

from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import AuditEntry, OnCallPage
from ops.jobs import page_on_call
from tests.support import ON_CALL_NUMBER, PATIENT, answer_call, ask, console_for, csrf_token, waiting_call

MESSAGE = "Short of breath since this morning, worse lying down."


def _paged_with_a_link(app, world, twilio_http) -> str:
    app.config["PUBLIC_BASE_URL"] = "https://answering.example.test"
    alice = console_for(app, "alice@example.test")
    call_id = waiting_call(app)
    assert answer_call(app, alice, call_id)["ok"] is True
    wrapped = ask(alice, "wrap_up", {"call_id": call_id, "disposition": "message_taken", "message": MESSAGE,
                                     "caller_name": "Pat Doe", "callback_number": PATIENT,
                                     "callback_confirmed": True, "urgency": "urgent"})
    with app.app_context():
        assert page_on_call(wrapped["message_id"]) == "sent"
    [sms] = [r for r in twilio_http.requests if r["url"].endswith("/Messages.json")]
    link = re.search(r"Message: (\S+)$", sms["data"]["Body"]).group(1)
    assert re.fullmatch(r"https://answering\.example\.test/p/[A-Za-z0-9_-]{32}", link)  # a token, nothing else
    assert MESSAGE not in sms["data"]["Body"]
    return link.removeprefix("https://answering.example.test")


def test_the_clinician_confirms_who_they_are_reads_the_message_once_and_acknowledges(app, world, on_call,
                                                                                     twilio_http):
    path = _paged_with_a_link(app, world, twilio_http)
    browser = app.test_client()
    form = browser.get(path)
    assert form.status_code == 200 and MESSAGE not in form.get_data(as_text=True)
    wrong = browser.post(path, data={"last_four": "0000", "csrf_token": csrf_token(form)})
    assert wrong.status_code == 403 and "4 tries left" in wrong.get_data(as_text=True)

    shown = browser.post(path, data={"last_four": ON_CALL_NUMBER[-4:], "csrf_token": csrf_token(form)})
    page = shown.get_data(as_text=True)
    assert shown.status_code == 200 and MESSAGE in page and "Pat Doe" in page and PATIENT in page
    assert shown.headers["Cache-Control"] == "no-store"
    assert shown.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"  # other sites: the origin only
    again = browser.get(path)
    assert again.status_code == 410 and "opened already" in again.get_data(as_text=True)
    with app.app_context():
        looks = db.session.execute(select(AuditEntry.object_type, AuditEntry.user_id)
                                   .where(AuditEntry.action == "view")).all()
    assert ("message", None) in looks  # the clinician's look, audited (no staff account)

    ack = re.search(r'name="ack" value="([^"]+)"', page).group(1)
    done = browser.post("/p/acknowledge", data={"ack": ack, "csrf_token": csrf_token(shown)})
    assert "Acknowledged. Thank you." in done.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(OnCallPage.acknowledged_by)) == "opened the link"
    twice = browser.post("/p/acknowledge", data={"ack": ack, "csrf_token": csrf_token(shown)})
    assert "Already acknowledged" in twice.get_data(as_text=True)
    forged = browser.post("/p/acknowledge", data={"ack": "1", "csrf_token": csrf_token(shown)})
    assert forged.status_code == 403


def test_five_wrong_answers_lock_the_link(app, world, on_call, twilio_http):
    path = _paged_with_a_link(app, world, twilio_http)
    browser = app.test_client()
    form = browser.get(path)
    for _ in range(5):
        browser.post(path, data={"last_four": "1234", "csrf_token": csrf_token(form)})
    locked = browser.post(path, data={"last_four": ON_CALL_NUMBER[-4:], "csrf_token": csrf_token(form)})
    assert locked.status_code == 403 and "locked" in locked.get_data(as_text=True)
    assert MESSAGE not in locked.get_data(as_text=True)


def test_answers_sent_at_once_open_the_link_once(app, world, on_call, twilio_http):
    import threading

    path = _paged_with_a_link(app, world, twilio_http)
    browsers = [app.test_client() for _ in range(4)]
    tokens = [csrf_token(browser.get(path)) for browser in browsers]
    start, shown = threading.Barrier(len(browsers)), []

    def send(browser, token):
        start.wait()
        answer = browser.post(path, data={"last_four": ON_CALL_NUMBER[-4:], "csrf_token": token})
        shown.append(MESSAGE in answer.get_data(as_text=True))

    threads = [threading.Thread(target=send, args=pair) for pair in zip(browsers, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(shown) == [False, False, False, True]
