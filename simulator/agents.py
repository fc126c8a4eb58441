"""Simulated agents: each logs in like a browser and works the live console over Socket.IO.

An agent goes available and waits for the service to offer a call (the `offer` push, or the offer
in a snapshot), accepts it, talks for a lognormal handling time, hangs up, wraps up, and is
available again. When nothing rings it calls back patients who hung up and reviews voicemails.
Pushes are hints: the agent also asks for a snapshot every few seconds, and sends the console's
heartbeat so that the service counts it as on duty. A paused agent (`--hold`) lets offers ring out.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time

import requests
import socketio

from emulator.client import DeviceClient

from .behaviour import Behaviour, wrap_up_for
from .callers import Tally
from .clock import SimClock

log = logging.getLogger(__name__)

NAMESPACE = "/console"
USER_AGENT = "answering-service-simulator/1.0"
ACK_TIMEOUT = 15
SNAPSHOT_EVERY = 2.0  # real seconds
KEEPALIVE_EVERY = 300.0  # real seconds; sessions expire after 30 idle minutes
HEARTBEAT_EVERY = 10.0  # real seconds, as the console page sends them


class LoginFailed(RuntimeError):
    pass


def login(app_url: str, email: str, password: str) -> requests.Session:
    """Log in through the form, as a browser does: fetch it, send its CSRF token back."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    page = session.get(f"{app_url}/login", timeout=15)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    if not match:
        raise LoginFailed("no CSRF token on the login page")
    answer = session.post(f"{app_url}/login", data={"email": email, "password": password,
                                                    "csrf_token": match.group(1)},
                          allow_redirects=False, timeout=30)
    if answer.status_code != 302:
        raise LoginFailed(f"login as {email} answered {answer.status_code}")
    if answer.headers.get("Location", "").startswith(("/login/code", "/account/two-factor")):
        raise LoginFailed(f"{email} signs in with a two-factor code: simulate agents without it")
    return session


class SimAgent:
    def __init__(self, index: int, email: str, password: str, app_url: str, clock: SimClock,
                 behaviour: Behaviour, rng: random.Random, tally: Tally):
        self.index = index
        self.colleagues = 1  # agents on the floor, set by the run
        self.email = email
        self.password = password
        self.app_url = app_url.rstrip("/")
        self.clock = clock
        self.behaviour = behaviour
        self.rng = rng
        self.tally = tally
        self.stop = threading.Event()
        self.paused = threading.Event()  # --hold: logged in and available, but not taking calls
        self.closing = threading.Event()  # the day is over: clear the backlog without dawdling
        self.ready = threading.Event()
        self.wake = threading.Event()
        self.busy = False
        self.waiting: list[dict] = []
        self.callbacks: list[dict] = []
        self.voicemails: list[dict] = []
        self.me: dict = {}
        self.offer: dict | None = None  # the call ringing on this console
        self.error: str | None = None
        self._lock = threading.Lock()
        self._skip: dict[str, float] = {}  # "call:ID"/"cb:ID"/"vm:ID" -> until when not to try it again
        self._last_snapshot = 0.0
        self._last_keepalive = time.monotonic()
        self._last_heartbeat = 0.0
        self.session: requests.Session | None = None
        self.device: DeviceClient | None = None  # the agent's browser audio, on the emulator
        self.sio: socketio.Client | None = None
        self.thread = threading.Thread(target=self._run, name=f"sim-agent-{index}", daemon=True)

    # Connection --------------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def connect(self) -> None:
        self.session = login(self.app_url, self.email, self.password)
        sio = socketio.Client(http_session=self.session, reconnection=True, reconnection_delay=0.5)
        sio.on("queue", self._on_queue, namespace=NAMESPACE)
        sio.on("snapshot", self._on_snapshot, namespace=NAMESPACE)
        sio.on("offer", self._on_offer, namespace=NAMESPACE)
        sio.on("offer_ended", self._on_offer_ended, namespace=NAMESPACE)
        sio.on("callbacks", lambda data: self._set("callbacks", data.get("callbacks")), namespace=NAMESPACE)
        sio.on("voicemails", lambda data: self._set("voicemails", data.get("voicemails")), namespace=NAMESPACE)
        sio.connect(self.app_url, namespaces=[NAMESPACE], headers={"User-Agent": USER_AGENT}, wait_timeout=15)
        self.sio = sio
        # The console's audio device, as the page registers it: with the emulator, its device API.
        voice = self.session.get(f"{self.app_url}/console/voice-token", timeout=15).json()
        if voice.get("kind") == "emulator":
            self.device = DeviceClient(voice["device_api"], voice["token"])
            self.device.register()

    def emit(self, event: str, data: dict | None = None) -> dict:
        """Send a console event and return its ack ({"ok": False, "error": ...} when none came)."""
        started = time.monotonic()
        try:
            answer = self.sio.call(event, data or {}, namespace=NAMESPACE, timeout=ACK_TIMEOUT)
            self.tally.add(f"ack_ms_{event}", int((time.monotonic() - started) * 1000))
            self.tally.add(f"acks_{event}")
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError) as exc:
            self.tally.add("agent_ack_timeouts")
            return {"ok": False, "error": f"no answer to {event}: {type(exc).__name__}"}
        if not isinstance(answer, dict):
            return {"ok": False, "error": f"no answer to {event}"}
        return answer

    def _set(self, name: str, value) -> None:
        if isinstance(value, list):
            with self._lock:
                setattr(self, name, value)
            self.wake.set()

    def _on_queue(self, data) -> None:
        if isinstance(data, dict):
            self._set("waiting", data.get("waiting"))

    def _on_offer(self, data) -> None:
        if isinstance(data, dict) and data.get("call_id"):
            with self._lock:
                self.offer = data
            self.tally.add("agent_offers")
            self.wake.set()

    def _on_offer_ended(self, data) -> None:
        with self._lock:
            if isinstance(data, dict) and self.offer and self.offer.get("call_id") == data.get("call_id"):
                self.offer = None

    def _on_snapshot(self, data) -> None:
        if not isinstance(data, dict):
            return
        with self._lock:
            self.me = data.get("me") or self.me
            if "offer" in data:
                self.offer = data.get("offer")
            for name in ("callbacks", "voicemails"):
                if isinstance(data.get(name), list):
                    setattr(self, name, data[name])
            queue = data.get("queue") or {}
            if isinstance(queue.get("waiting"), list):
                self.waiting = queue["waiting"]
        self.wake.set()

    def snapshot(self) -> dict:
        answer = self.emit("snapshot")
        if answer.get("ok"):
            self._on_snapshot(answer)
        self._last_snapshot = time.monotonic()
        return answer

    def set_available(self, available: bool) -> bool:
        return bool(self.emit("available", {"available": available}).get("ok"))

    def shutdown(self) -> None:
        """Go away, close the socket and log out."""
        self.stop.set()
        self.wake.set()
        self.thread.join(30)
        if self.sio is not None and self.sio.connected:
            try:
                self.set_available(False)
            finally:
                self.sio.disconnect()
        if self.device is not None:
            try:
                self.device.unregister()
            except requests.RequestException:
                pass
            self.device.close()
        if self.session is not None:
            try:
                page = self.session.get(f"{self.app_url}/login", timeout=10)
                token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
                if token:
                    self.session.post(f"{self.app_url}/logout", data={"csrf_token": token.group(1)},
                                      allow_redirects=False, timeout=10)
            except requests.RequestException:
                pass
            self.session.close()

    # Work --------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.connect()
            if not self.set_available(True):
                raise RuntimeError("the console refused to make the agent available")
            self.snapshot()
            self.ready.set()
            while not self.stop.is_set():
                self.wake.wait(timeout=0.5)
                self.wake.clear()
                self._work()
        except Exception as exc:  # reported, and the run goes on with the other agents
            self.error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("agent %s stopped: %s", self.index, self.error)
            self.tally.add("agent_failures")
            self.ready.set()

    def _pause(self, sim_seconds: float) -> None:
        if not self.closing.is_set():
            self.stop.wait(self.clock.real(sim_seconds))

    def _fresh(self, key: str) -> bool:
        until = self._skip.get(key)
        return until is None or until < time.monotonic()

    def _work(self) -> None:
        now = time.monotonic()
        if now - self._last_snapshot > SNAPSHOT_EVERY:
            self.snapshot()
            if self.me.get("status") == "away" and not self.stop.is_set():
                self.set_available(True)  # e.g. after a caller hung up while being connected
        if now - self._last_keepalive > KEEPALIVE_EVERY:
            self.session.post(f"{self.app_url}/console/keepalive", timeout=10)
            self._last_keepalive = now
        if now - self._last_heartbeat > HEARTBEAT_EVERY:
            self.emit("heartbeat")
            self._last_heartbeat = now
        if self._answer_offer():
            return
        if self.paused.is_set():
            return
        with self._lock:
            ringing = self.offer is not None
        if not ringing:
            self._back_office()

    def _answer_offer(self) -> bool:
        """Accept the call ringing on this console (a paused agent declines it); True if one was handled."""
        with self._lock:
            offer, self.offer = self.offer, None
        if not offer:
            return False
        if self.paused.is_set():
            # Holding callers for a load test: the offer rings out (declining would have the next one
            # ring at once, a storm of offers); after three the service sets the agent away, and the
            # snapshot check above makes them available again.
            self.tally.add("agent_offers_left_ringing")
            return False
        answer = self.emit("accept", {"call_id": offer["call_id"]})
        if not answer.get("ok"):
            self.tally.add("agent_take_lost")  # the offer moved on, or the caller hung up as it rang
            return False
        self.tally.add("agent_takes")
        if self.device is not None:
            # The app bridges the caller (or, for a callback, the patient once they pick up) to this
            # agent's device: answer that leg, as the console page does.
            leg = self.device.answer(offer["call_id"], timeout=self.clock.real(90.0) + 5, stop=self.stop)
            self.tally.add("agent_audio_answered" if leg else "agent_audio_never_rang")
        self._handle(answer.get("call") or {"id": offer["call_id"]})
        return True

    def _handle(self, call: dict) -> None:
        """Talk, hang up, wrap up."""
        self.busy = True
        try:
            call_id = call["id"]
            self._pause(self.behaviour.talk(self.rng))
            connected = False
            for _ in range(40):
                answer = self.emit("hangup", {"call_id": call_id})
                if answer.get("ok"):
                    connected = True
                    break
                if "not connected yet" in (answer.get("error") or ""):
                    self.stop.wait(self.clock.poll(1.0, 0.05, 0.5))
                    continue
                break
            if not connected:
                # The caller hung up first: wrap up a conversation that happened, not a caller who
                # left while being put through (their abandoned call gets a callback instead).
                snap = self.snapshot()
                on_desk = (snap.get("call") or {}).get("id") == call_id
                if not on_desk:
                    self.tally.add("agent_caller_gone")
                    return
            self._pause(self.behaviour.wrap(self.rng))
            disposition, message = wrap_up_for(self.rng, call.get("reason"))
            answer = self.emit("wrap_up", {
                "call_id": call_id, "disposition": disposition, "notes": "Simulated call.",
                "message": message, "caller_name": f"Sim Patient {call_id}" if message else "",
                # The simulated agent reads the caller's number back, and the caller confirms it.
                "callback_number": call.get("caller") or "", "callback_confirmed": True,
                "urgency": "urgent" if call.get("urgent") else "routine",
            })
            self.tally.add("agent_wrap_ups" if answer.get("ok") else "agent_wrap_up_refused")
        finally:
            self.busy = False

    def _back_office(self) -> None:
        """Between calls: call back one patient, or review one voicemail."""
        with self._lock:
            callbacks = [c for c in self.callbacks if self._fresh(f"cb:{c.get('id')}")]
            voicemails = [v for v in self.voicemails if self._fresh(f"vm:{v.get('id')}")]
        if not callbacks and not voicemails:
            return
        # Urgent voicemails first; otherwise a random item, so agents do not all reach for the same one.
        urgent = [v for v in voicemails if v.get("urgency") == "urgent"]
        if urgent:
            kind, item = "vm", urgent[0]
        else:
            pool = [("cb", c) for c in callbacks[:20]] + [("vm", v) for v in voicemails[:20]]
            kind, item = self.rng.choice(pool)
        self.busy = True
        try:
            self._skip[f"{kind}:{item['id']}"] = time.monotonic() + 10.0
            if kind == "cb":
                self._pause(self.behaviour.callback_seconds)
                answer = self.emit("complete_callback", {"task_id": item["id"]})
                self.tally.add("agent_callbacks" if answer.get("ok") else "agent_callback_lost")
            else:
                self._pause(self.behaviour.review_seconds)
                answer = self.emit("review_voicemail", {"message_id": item["id"]})
                self.tally.add("agent_voicemails" if answer.get("ok") else "agent_voicemail_lost")
        finally:
            self.busy = False
        self.wake.set()
        with self._lock:
            if kind == "cb":
                self.callbacks = [c for c in self.callbacks if c.get("id") != item["id"]]
            else:
                self.voicemails = [v for v in self.voicemails if v.get("id") != item["id"]]

    def idle(self) -> bool:
        """Nothing on this agent's desk or in its view of the queue and backlog."""
        with self._lock:
            return not (self.busy or self.waiting or self.callbacks or self.voicemails)
