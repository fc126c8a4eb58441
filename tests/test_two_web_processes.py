"""Two real web processes (gunicorn, gevent, as the Procfile runs them) sharing one database and one Redis.

A console is connected to process A; the caller's webhooks and the agent's logout go to process B.
Pushes reach A's console through Socket.IO's message queue on Redis, and the logout on B closes the
socket A holds. Runs on SQLite and PostgreSQL alike: the processes use the test's own database (built
and emptied by the `app` fixture) and the test's own Redis database.
"""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path

import pytest
import requests
import socketio
from sqlalchemy import select

from agents_ui.broadcast import NAMESPACE
from bench.servers import WebProcess
from callcenter.extensions import db
from callcenter.models import Call
from tests.support import ACCOUNT_SID, AUTH_TOKEN, CSRF_FIELD, PASSWORD, TwilioSigner, incoming

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
STARTUP = 30.0  # seconds for a web process to answer /healthz
PROMPTLY = 5.0  # seconds: "within a few seconds"
# The caller's number, as the queue shows it: Socket.IO's channel on Redis ignores the database number,
# so another run of the app on the same Redis server may push its own queue (with its own call ids).
CALLER = "+16505550147"


def _environment(database_url: str, redis_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("TWILIO_", "EMULATOR_", "PUBLIC_BASE_URL", "WEB_"))}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,  # the queue, presence and Socket.IO's message queue
        SECRET_KEY="two-processes-secret",  # the same on both: a session cookie from A is good on B
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE="http://127.0.0.1:9",  # no REST call is expected; one would fail fast
        TRUSTED_PROXIES="1",
        PYTHONPATH=str(ROOT),
    )
    return env


def _csrf(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _log_in(browser: requests.Session, base: str, email: str) -> None:
    form = browser.get(f"{base}/login", timeout=10)
    answer = browser.post(f"{base}/login", data={"email": email, "password": PASSWORD, "csrf_token": _csrf(form.text)},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:500]


def _lists(push, call_id: int) -> bool:
    """Whether a `queue` push lists this test's caller as waiting."""
    rows = push.get("waiting", []) if isinstance(push, dict) else []
    return any(row.get("id") == call_id and row.get("caller") == "•••0147"
               and row.get("practice") == "Maple Street Family Medicine" for row in rows)


def _next_matching(events: queue.Queue, kind: str, match, seconds: float):
    """The first (kind, payload) from the console within `seconds` for which `match(payload)` holds; else None."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            got_kind, payload = events.get(timeout=left)
        except queue.Empty:
            return None
        if got_kind == kind and match(payload):
            return payload
    return None


def test_a_console_on_one_process_sees_callers_and_logouts_handled_by_another(app, world, database_url,
                                                                              redis_url, tmp_path):
    env = _environment(database_url, redis_url)
    a = b = None
    console = socketio.Client(reconnection=False)
    try:
        a, b = WebProcess("A", env, log_dir=tmp_path), WebProcess("B", env, log_dir=tmp_path)
        a.wait_ready(STARTUP)
        b.wait_ready(STARTUP)

        # Alice logs in (through A) and opens her console on A, by websocket as the page does.
        browser = requests.Session()
        _log_in(browser, a.url, "alice@example.test")
        events: queue.Queue = queue.Queue()
        console.on("queue", lambda data: events.put(("queue", data)), namespace=NAMESPACE)
        console.on("disconnect", lambda reason=None: events.put(("disconnect", reason)), namespace=NAMESPACE)
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
        console.connect(a.url, headers={"Cookie": cookie}, namespaces=[NAMESPACE], transports=["websocket"],
                        wait_timeout=10)
        assert console.call("available", {"available": True}, namespace=NAMESPACE, timeout=10)["ok"] is True

        # A patient calls; Twilio's webhooks reach B, and the caller is queued there (an agent is available).
        twilio = TwilioSigner(_TwilioToProcess(b.url), base=b.url)  # signed for B's URL, as Twilio would
        assert twilio.post("/ivr/voice", incoming(From=CALLER)).status_code == 200
        menu = twilio.post("/ivr/menu?attempt=1", incoming(From=CALLER, Digits="2"))
        assert menu.status_code == 200 and "<Enqueue" in menu.text, menu.text[:500]
        with app.app_context():
            call_id = db.session.scalar(select(Call.id).where(Call.call_sid == incoming()["CallSid"]))
            db.session.remove()
        assert call_id is not None

        # (a) A's console gets the queue push that lists the caller, through Redis.
        push = _next_matching(events, "queue", lambda data: _lists(data, call_id), PROMPTLY)
        assert push is not None, f"no queue push listing call {call_id} on A within {PROMPTLY:.0f} s:\n{a.tail()}"

        # (b) Alice logs out through B: the socket A holds is closed by the server, promptly.
        page = browser.get(f"{b.url}/console/", timeout=10)
        logout = browser.post(f"{b.url}/logout", data={"csrf_token": _csrf(page.text)}, allow_redirects=False,
                              timeout=10)
        assert logout.status_code == 302
        closed = _next_matching(events, "disconnect", lambda reason: True, PROMPTLY)
        assert closed is not None, f"the socket on A was still open {PROMPTLY:.0f} s after the logout on B"
        assert closed == socketio.Client.reason.SERVER_DISCONNECT  # closed by A, not dropped by the client
        assert not console.connected
    finally:
        if console.connected:
            console.disconnect()
        for process in (a, b):
            if process is not None:
                process.stop()


class _TwilioToProcess:
    """What TwilioSigner needs of a test client (`post(path, data=, headers=)`), over real HTTP to one process."""

    def __init__(self, base: str):
        self.session = requests.Session()  # Twilio's own connection: no staff cookie
        self.base = base

    def post(self, path: str, data: dict, headers: dict):
        return self.session.post(self.base + path, data=data, headers=headers, allow_redirects=False, timeout=10)
