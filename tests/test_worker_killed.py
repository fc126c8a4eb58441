"""The worker SIGKILLed in the middle of a job: here, while it sends the on-call clinician's page and
Twilio has not answered yet. Nothing is lost: the page was written down before its SMS went out, so
the escalation calls the clinician down (the chain still finishes), and the urgent message, the call
and the page are all still there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.escalation import SENDING_GRACE
from callcenter.extensions import db
from callcenter.models import Call, Message, OnCallPage
from ops.jobs import escalate_pages
from tests.support import ACCOUNT_SID, AUTH_TOKEN, ON_CALL_NUMBER, answer_call, ask, console_for, waiting_call

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


class HangingTwilio:
    """A Twilio that takes requests and never answers them: the worker stays inside its job."""

    def __init__(self):
        self.asked: list[str] = []
        self.asked_event = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                outer.asked.append(self.path)
                outer.asked_event.set()
                outer.release.wait(60)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.server.shutdown()


def _counts(app) -> dict:
    with app.app_context():
        return {"calls": db.session.scalar(select(func.count(Call.id))),
                "messages": db.session.scalar(select(func.count(Message.id))),
                "pages": db.session.scalar(select(func.count(OnCallPage.id)))}


def test_a_worker_killed_while_it_sends_a_page_leaves_the_page_to_be_called_down(app, world, on_call, twilio_http,
                                                                                 database_url, redis_url):
    alice = console_for(app, "alice@example.test")
    call_id = waiting_call(app)
    assert answer_call(app, alice, call_id)["ok"] is True
    wrapped = ask(alice, "wrap_up", {"call_id": call_id, "disposition": "message_taken", "urgency": "urgent",
                                     "message": "Short of breath since this morning.", "caller_name": "Pat Doe",
                                     "callback_number": "+14155550123", "callback_confirmed": True})
    assert wrapped["ok"] is True
    before = _counts(app)
    twilio = HangingTwilio()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
               TWILIO_AUTH_TOKEN=AUTH_TOKEN, TWILIO_API_BASE=twilio.url, SECRET_KEY="test-secret")
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert twilio.asked_event.wait(60), "the worker never reached Twilio"
        assert twilio.asked[0].endswith("/Messages.json")  # mid-job: the page's SMS is on its way out
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        twilio.stop()

    assert _counts(app) == {**before, "pages": before["pages"] + 1}  # nothing lost; the page is written down
    with app.app_context():
        page = db.session.scalar(select(OnCallPage))
        assert page.status == "sending"  # nobody knows whether Twilio took it
        page.sent_at -= SENDING_GRACE + timedelta(seconds=1)  # a minute later
        db.session.commit()
        app.config["PUBLIC_BASE_URL"] = "https://answering.example.test"  # where the call-down's TwiML is
        done = escalate_pages()
        assert done.called_down == [page.id]
    placed = [r for r in twilio_http.requests if r["url"].endswith("/Calls.json") and r["method"] == "POST"]
    assert [r["data"]["To"] for r in placed] == [ON_CALL_NUMBER]  # the clinician is called down
