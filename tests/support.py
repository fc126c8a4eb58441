"""Plain helpers the tests share: the personas' numbers, a browser's login, signed webhooks, the console's
Socket.IO client, and rows in the ledger. Fixtures live in conftest.py; this module holds no tests.

Helpers that take `app` open their own app context and commit; helpers that take a `session` work
inside the caller's context and commit nothing.
"""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pyotp
from sqlalchemy import create_engine, select, text
from twilio.request_validator import RequestValidator

from agents_ui.broadcast import NAMESPACE
from callcenter import callbacks, calls, ledger, voicemail
from callcenter.extensions import db, socketio
from callcenter.models import Call, CallbackTask, CallEvent, Message

# The personas' account, numbers and password (the people themselves are the `world` fixture).
ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PASSWORD = "correct-horse-battery"
SUPERVISOR_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # the world's supervisor's authenticator app
MAPLE_NUMBER = "+14155550101"
MAPLE_ADMIN = "dana@maple.test"  # Maple Street's own admin (the maple_admin fixture)
HARBOR_NUMBER = "+16175550102"
PATIENT = "+14155550123"
ASKED_NUMBER = "+16175550188"  # the number a patient asked to be called back at
ON_CALL_NUMBER = "+14155550999"  # Dr. Rivera's phone while on call for Maple Street
SID = "CA" + "a" * 32  # the patient's call to Maple Street
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE{}"
T0 = datetime(2026, 11, 27, 17, 5, tzinfo=UTC)  # 9:05 AM in Los Angeles, 12:05 PM in New York

_sids = itertools.count(1)


# --- A browser's login ---------------------------------------------------------------------------------------

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(response) -> str:
    """The CSRF token a browser would send back, read from the page's form."""
    match = CSRF_FIELD.search(response.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


def without_csrf_token(html: str) -> str:
    """The page without its CSRF token, which carries the time it was made."""
    return CSRF_FIELD.sub("", html)


def log_in(client, email: str, password: str = PASSWORD):
    """Log in as a browser does: fetch the form, then post it with its token. The answer, unchecked.
    An account with two-factor sign-in (the world's supervisor) types its app's code next."""
    form = client.get("/login")
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(form)})
    if answer.status_code == 302 and answer.headers["Location"] == "/login/code":
        return enter_code(client, pyotp.TOTP(SUPERVISOR_TOTP).now())
    return answer


def enter_code(client, code: str):
    """Type a two-factor code (or a recovery code) at the second step of signing in."""
    form = client.get("/login/code")
    return client.post("/login/code", data={"code": code, "csrf_token": csrf_token(form)})


def log_in_browser(page, base: str, email: str, password: str = PASSWORD) -> None:
    """Log in from a Playwright page, typing into the login form at `base`."""
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    if page.url.endswith("/login/code"):
        page.fill("input[name=code]", pyotp.TOTP(SUPERVISOR_TOTP).now())
        page.click("button[type=submit]")


def csp_refusals(page) -> list[str]:
    """What the browser refused to load or run under the Content-Security-Policy, from now on."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    return refused


def accessibility_problems(page) -> list[str]:
    """The serious and critical accessibility violations axe-core finds on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def log_out(client, page: str = "/console/"):
    """Log out with the token of a page the person has open."""
    return client.post("/logout", data={"csrf_token": csrf_token(client.get(page))})


class Page(HTMLParser):
    """What a page offers: element ids, named fields, each named select's options, its scripts."""

    def __init__(self, html: str):
        super().__init__()
        self.ids: set[str] = set()
        self.names: set[str] = set()
        self.options: dict[str, list[str]] = {}  # select name -> option values, in order
        self.labels: dict[str, dict[str, str]] = {}  # select name -> option value -> its text
        self.scripts: list[str] = []
        self._select: str | None = None
        self._value: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if "name" in attrs:
            self.names.add(f"{tag}[name={attrs['name']}]")
        if tag == "select":
            self._select = attrs.get("name")
            self.options[self._select] = []
            self.labels[self._select] = {}
        if tag == "option" and self._select:
            self._value = attrs.get("value")
            self.options[self._select].append(self._value)
            self.labels[self._select][self._value] = ""
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])

    def handle_data(self, data):
        if self._select and self._value is not None:
            self.labels[self._select][self._value] += data

    def handle_endtag(self, tag):
        if tag == "option":
            self._value = None
        if tag == "select":
            self._select = None


# --- Twilio's side ---------------------------------------------------------------------------------------------

class TwilioSigner:
    """Sends webhook requests the way Twilio does: form-encoded and signed."""

    def __init__(self, client, token: str = AUTH_TOKEN, base: str = "http://localhost"):
        self.client = client
        self.validator = RequestValidator(token)
        self.base = base

    def post(self, path: str, data: dict, headers: dict | None = None, signature: str | None = None):
        sig = signature if signature is not None else self.validator.compute_signature(self.base + path, data)
        return self.client.post(path, data=data, headers={"X-Twilio-Signature": sig, **(headers or {})})


def incoming(to: str = MAPLE_NUMBER, sid: str = SID, **extra) -> dict:
    """The fields of a webhook about the patient's call, as Twilio sends them."""
    return {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": PATIENT, "To": to, "CallStatus": "ringing",
            "Direction": "inbound", "ApiVersion": "2010-04-01", **extra}


def outbound_status(twilio, sid: str, status: str, sequence: int):
    """Twilio's status callback for the call we placed to a patient who asked to be called back."""
    return twilio.post("/ivr/status", {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": MAPLE_NUMBER,
                                       "To": ASKED_NUMBER, "CallStatus": status, "Direction": "outbound-api",
                                       "SequenceNumber": str(sequence), "ApiVersion": "2010-04-01"})


def agent_answers(twilio, call_id: int, parent_sid: str, agent_id: int):
    """Twilio reports the agent's leg of the bridge answered (the <Client> noun's status callback)."""
    return twilio.post(f"/ivr/agent-leg/{call_id}", {"CallSid": "CA" + "d" * 32, "ParentCallSid": parent_sid,
                                                     "AccountSid": ACCOUNT_SID, "CallStatus": "in-progress",
                                                     "To": f"client:agent-{agent_id}", "Direction": "outbound-dial"})


def connect_url(call_id: int) -> str:
    return f"http://localhost/ivr/connect/{call_id}"


# --- The agents' console ---------------------------------------------------------------------------------------

def open_console(app, browser):
    """The console's Socket.IO connection, with the browser's cookies."""
    return socketio.test_client(app, namespace=NAMESPACE, flask_test_client=browser)


def console_for(app, email: str):
    """A logged-in browser (its own cookies) with the console open."""
    browser = app.test_client()
    assert log_in(browser, email).status_code == 302, "login failed"
    return open_console(app, browser)


def received(io, name: str) -> list:
    """What the server pushed to this console as `name`, oldest first."""
    return [event["args"][0] for event in io.get_received(NAMESPACE) if event["name"] == name]


def ask(io, event: str, payload: dict | None = None) -> dict:
    """Send a console event and return the server's answer."""
    return io.emit(event, payload or {}, namespace=NAMESPACE, callback=True)


# --- Rows in the ledger ----------------------------------------------------------------------------------------

def queued_call(session, queue, call_sid: str = SID, dialled: str = MAPLE_NUMBER, caller: str = PATIENT,
                digit: str = "2") -> Call:
    """A caller who went through the menu and now holds in the queue (nothing committed)."""
    call, _ = calls.enter_ivr(session, call_sid, dialled, caller)
    calls.choose(session, call, digit)
    calls.queue_call(session, queue, call)
    return call


def waiting_call(app, call_sid: str = SID, dialled: str = MAPLE_NUMBER, caller: str = PATIENT,
                 digit: str = "2") -> int:
    """A caller who went through the menu and now holds in the queue; returns the call's id."""
    with app.app_context():
        call = queued_call(db.session, app.call_queue, call_sid, dialled, caller, digit)
        db.session.commit()
        return call.id


def kept_place(app, call_sid: str = "CA" + "k" * 32, number: str = ASKED_NUMBER) -> int:
    """A caller who held, chose to keep their place and hung up: still in line, as a callback."""
    call_id = waiting_call(app, call_sid=call_sid)
    with app.app_context():
        callbacks.keep_place(db.session, db.session.get(Call, call_id), number)
        db.session.commit()
    return call_id


def task_of(app, call_id: int) -> CallbackTask:
    """The callback task of a call, as it is now."""
    with app.app_context():
        return db.session.scalar(select(CallbackTask).where(CallbackTask.call_id == call_id))


def left_voicemail(app, n: int, *, urgent: bool = False, minutes_ago: int = 0, dialled: str = MAPLE_NUMBER,
                   transcription: str | None = None) -> int:
    """A caller who left a voicemail `minutes_ago` (transcribed, if `transcription` is given)."""
    with app.app_context():
        call, _ = calls.enter_ivr(db.session, f"CA{n:032d}", dialled, PATIENT)
        message = voicemail.save(db.session, call, RECORDING.format(n), f"RE{n}", 42, urgent)
        message.created_at = ledger.now() - timedelta(minutes=minutes_ago)
        if transcription:
            voicemail.transcription_arrived(db.session, RECORDING.format(n), transcription, "completed")
        db.session.commit()
        return message.id


def make_call(app, practice_id: int, *, at: datetime = T0, state: str = "wrapped_up", reason: str = "message",
              priority: int = 0, agent_id: int | None = None, from_number: str = PATIENT,
              events: tuple[str, ...] = ("entered_ivr", "queued", "connected", "wrapped_up"), **fields) -> int:
    """A past call in the ledger, with events a minute apart; returns its id."""
    with app.app_context():
        call = Call(call_sid=f"CA{next(_sids):032d}", practice_id=practice_id, from_number=from_number,
                    to_number=MAPLE_NUMBER, state=state, reason=reason, priority=priority,
                    agent_id=agent_id, created_at=at, **fields)
        db.session.add(call)
        db.session.flush()
        for i, kind in enumerate(events):
            db.session.add(CallEvent(call_id=call.id, kind=kind, at=at + timedelta(minutes=i), data={"step": i}))
        db.session.commit()
        return call.id


_ledger_sids = itertools.count(10_000)


def ledger_call(app, practice_id: int, at: datetime, *events: tuple[str, int]) -> int:
    """An inbound call that began at `at` (it entered the IVR), with each (event, seconds after `at`) in the
    ledger: the calls the dashboard's and the wallboard's figures are made of. Returns its id."""
    with app.app_context():
        call = Call(call_sid=f"CA{next(_ledger_sids):032d}", practice_id=practice_id, from_number="+16175550100",
                    to_number="+14155550101", state="ended", created_at=at)
        db.session.add(call)
        db.session.flush()
        for kind, seconds in (("entered_ivr", 0), *events):
            db.session.add(CallEvent(call_id=call.id, kind=kind, at=at + timedelta(seconds=seconds)))
        db.session.commit()
        return call.id


def make_message(app, practice_id: int, *, at: datetime = T0, call_id: int | None = None,
                 urgency: str = "routine", body: str = "Please call back about lab results.",
                 caller_name: str = "Pat Doe", callback_number: str = PATIENT,
                 taken_by_id: int | None = None) -> int:
    """A message for a practice; returns its id."""
    with app.app_context():
        message = Message(practice_id=practice_id, call_id=call_id, urgency=urgency, caller_name=caller_name,
                          callback_number=callback_number, body=body, taken_by_id=taken_by_id,
                          created_at=at, delivered_at=at + timedelta(seconds=5))
        db.session.add(message)
        db.session.commit()
        return message.id


# --- Waiting for things that happen on other threads ----------------------------------------------------------

def eventually(check, timeout: float = 10.0):
    """Poll `check` until it returns something true, and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


# --- Offers ----------------------------------------------------------------------------------------------------

def ring(app, io, call_id: int, ring_seconds: float = 15) -> int:
    """The waiting call rings this console's agent (`io`, or an agent's id), as a supervisor's assignment
    makes it ring: the offer, and its push to the agent's consoles. Returns the agent's id."""
    agent_id = ask(io, "snapshot")["me"]["id"] if not isinstance(io, int) else io
    offer = app.offers.make(call_id, agent_id, time.time() + ring_seconds, directed=True, ring_seconds=ring_seconds)
    if offer is None:  # the offer loop of a running phone system may have rung this agent already
        offer = app.offers.of_call(call_id)
        assert offer is not None and offer.agent_id == agent_id, "the call could not be offered"
    with app.app_context():
        app.console.offer_rings(offer)
    return agent_id


def answer_call(app, io, call_id: int) -> dict:
    """The call rings this console and the agent accepts it; the server's answer to the accept."""
    ring(app, io, call_id)
    return ask(io, "accept", {"call_id": call_id})


def caller_in_line(phone_system):
    """A patient who rang Maple Street on the emulator's softphone and now waits in line, over the whole
    call path (the emulator reaches the app's webhooks at PUBLIC_BASE_URL); (their phone, the call's id)."""
    app = phone_system.app
    app.config["PUBLIC_BASE_URL"] = phone_system.app_url
    caller = phone_system.phone.dial(PATIENT, MAPLE_NUMBER)
    caller.wait_for("press 1")
    caller.press("2")
    caller.wait_for("in line")
    with app.app_context():
        call_id = db.session.scalar(select(Call.id).where(Call.call_sid == caller.sid))
    return caller, call_id


def caller_talking_to_alice(phone_system, world):
    """A patient in line whose call Alice accepted and answered in her browser audio (the emulator's device);
    (their phone, Alice's console, her device, the call's id)."""
    app = phone_system.app
    caller, call_id = caller_in_line(phone_system)
    alice = console_for(app, "alice@example.test")
    device = agent_device(phone_system, world["alice"])
    assert answer_call(app, alice, call_id)["ok"] is True
    assert device.answer(call_id) is not None
    caller.wait_until(lambda s: s["connected_to"] == f"client:agent-{world['alice']}")
    return caller, alice, device, call_id


def agent_device(phone_system, agent_id: int):
    """The agent's browser audio device, registered with the phone system's emulator (see emulator.client)."""
    from callcenter import voice_tokens
    from emulator.client import DeviceClient

    setup = voice_tokens.setup_from_config(phone_system.app.config)
    device = DeviceClient(phone_system.emulator_url, voice_tokens.access_token(setup, agent_id))
    device.register()
    return device


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_parts_down(app, *, redis_down=False, database_down=False, twilio_down=False):
    """The same service (same spool) with Redis, the database and/or Twilio refusing connections."""
    from app import create_app

    config = dict(app.config)
    if redis_down:
        config["REDIS_URL"] = f"redis://127.0.0.1:{closed_port()}/0"
    if database_down:
        config["SQLALCHEMY_DATABASE_URI"] = f"postgresql://nobody@127.0.0.1:{closed_port()}/gone"
    if twilio_down:
        config["TWILIO_API_BASE"] = f"http://127.0.0.1:{closed_port()}"
        config["TWILIO_HTTP_CLIENT"] = None
    return create_app(config)


@contextmanager
def database_locked(database_url: str, seconds: float, *, writes_only: bool = False):
    """Another client takes the write lock (SQLite) or an exclusive lock on the calls (PostgreSQL), and
    keeps it for `seconds` or until the block ends. `writes_only`: reads go on, only writes to the ledger's
    events and agents' states wait (SQLite's write lock is that already)."""
    engine = create_engine(database_url)
    taken, release = threading.Event(), threading.Event()

    def hold():
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(text("BEGIN"))
                connection.execute(text("LOCK TABLE call_events, agent_state_changes IN EXCLUSIVE MODE" if writes_only
                                        else "LOCK TABLE calls, call_events IN ACCESS EXCLUSIVE MODE"))
            taken.set()
            release.wait(seconds)
            connection.rollback()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join(seconds + 5)
        engine.dispose()
