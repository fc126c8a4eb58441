"""Simulated patients and on-call clinicians, driving the emulator's softphone endpoints over HTTP.

A `Caller` dials a practice, waits for the menu, presses its option, holds with limited patience
and hangs up when it runs out; if it is sent to voicemail it leaves a message. A `Clinician`
answers the on-call phone when it rings (most of the time), talks, and hangs up.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

from .behaviour import VOICEMAIL_WORDS, Behaviour, lognormal
from .clock import SimClock

_local = threading.local()
TIMEOUT = 15

# How often to look at a call in each phase: (simulated seconds, lowest real, highest real).
# Callers are looked at sparsely (the transcript tells afterwards what happened in between), except
# just before a voicemail beep: the caller has 5 simulated seconds to start speaking.
POLL = {
    "menu": (8.0, 0.05, 1.0),
    "routing": (3.0, 0.03, 0.5),
    "beep": (0.5, 0.004, 0.1),
    "hold": (120.0, 1.0, 10.0),
    "talk": (60.0, 0.5, 5.0),
    "load": (300.0, 2.0, 5.0),  # --hold: callers who only sit in the queue
}
FIRST_LOOK = {"menu": 6.0, "routing": 4.0}  # simulated seconds of speech before anything can happen
SECONDS_PER_WORD = 0.4  # how fast the emulator speaks (emulator.engine.SECONDS_PER_WORD)
VOICEMAIL_CUES = ("after the tone", "after the beep")
MENU_GIVE_UP = 180.0  # simulated seconds without hearing a menu: hang up
ROUTING_GIVE_UP = 600.0


def http() -> requests.Session:
    """One keep-alive session per worker thread (a Session is not meant to be shared across threads)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


class Tally:
    """Thread-safe counters the progress bar and the report read."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counts: Counter = Counter()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self.counts)


@dataclass
class Softphone:
    """The emulator's softphone JSON endpoints (the same ones emulator.client.PhoneClient uses)."""

    base_url: str

    def dial(self, from_: str, to: str) -> str:
        r = http().post(f"{self.base_url}/phone/api/calls", json={"from": from_, "to": to}, timeout=TIMEOUT)
        r.raise_for_status()
        return r.json()["sid"]

    def status(self, sid: str) -> dict | None:
        r = http().get(f"{self.base_url}/phone/api/calls/{sid}", timeout=TIMEOUT)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    def act(self, sid: str, action: str, payload: dict | None = None) -> bool:
        """press (digits), speech, hangup, answer, decline; False when the call has already ended."""
        r = http().post(f"{self.base_url}/phone/api/calls/{sid}/{action}", json=payload or {}, timeout=TIMEOUT)
        if r.status_code in (404, 409):
            return False
        r.raise_for_status()
        return True

    def ringing(self, number: str) -> list[dict]:
        r = http().get(f"{self.base_url}/phone/api/incoming", params={"number": number}, timeout=TIMEOUT)
        r.raise_for_status()
        return r.json()["calls"]

    def inbox(self, number: str) -> list[dict]:
        """Text messages `number` received: sid, from, to, body."""
        r = http().get(f"{self.base_url}/phone/api/inbox", params={"number": number}, timeout=TIMEOUT)
        r.raise_for_status()
        return r.json()["messages"]

    def text(self, from_: str, to: str, body: str) -> None:
        r = http().post(f"{self.base_url}/phone/api/messages", json={"from": from_, "to": to, "body": body},
                        timeout=TIMEOUT)
        r.raise_for_status()


@dataclass
class Caller:
    """One patient's call, as a state machine stepped by the Scheduler."""

    index: int
    number: str
    dialled: str
    reason: str
    key: str
    patience: float  # simulated seconds on hold before hanging up (inf in load mode)
    arrival: float  # simulated seconds after the start of the day
    clock: SimClock
    phone: Softphone
    tally: Tally
    max_wait: float  # the practice's maximum wait in real seconds, to watch for the voicemail that follows
    load_mode: bool = False
    phase: str = "pending"
    sid: str | None = None
    seen: str | None = None  # what the caller experienced: answered, abandoned, voicemail, on_call, other
    times: dict = field(default_factory=dict)  # phase -> simulated second it was first seen
    released: threading.Event | None = None  # load mode: hang up when set
    error: str | None = None
    _phase_since: float = 0.0
    _deadline: float | None = None
    _recorded: bool = False
    _prompt_seen: float | None = None

    def __repr__(self) -> str:
        return f"Caller({self.index}, {self.phase})"

    def _mark(self, name: str) -> None:
        self.times.setdefault(name, self.clock.now())

    def _poll(self, kind: str, now: float) -> float:
        sim, low, high = POLL["load" if self.load_mode and kind == "hold" else kind]
        return now + self.clock.poll(sim, low, high)

    def _enter(self, phase: str, now: float) -> None:
        if phase != self.phase:
            self.phase, self._phase_since = phase, now
            self._mark(phase)

    def failed(self, error: Exception) -> None:
        self.error = f"{type(error).__name__}: {error}"[:200]
        self.seen = self.seen or "error"
        self.phase = "done"
        self.tally.add("caller_errors")
        if self.sid:
            try:
                self.phone.act(self.sid, "hangup")
            except requests.RequestException:
                pass

    def step(self, now: float) -> float | None:
        if self.phase == "pending":
            self.sid = self.phone.dial(self.number, self.dialled)
            self.tally.add("dialled")
            self._enter("menu", now)
            self.times["dialled_real"] = time.monotonic()
            return now + self.clock.real(FIRST_LOOK["menu"])
        state = self.phone.status(self.sid)
        if state is None or state["ended"]:
            return self._finish(state)
        if self.load_mode and self.released is not None and self.released.is_set() and self.phase != "gone":
            self.seen = "answered" if (state.get("connected_to") or "").startswith("client:") else "abandoned"
            self._hang_up("released")
            return self._poll("talk", now)
        if self.phase == "menu":
            return self._menu(state, now)
        return self._after_menu(state, now)

    def _menu(self, state: dict, now: float) -> float:
        if state.get("awaiting_input") == "record":  # the service's safe fallback: leave a message
            return self._after_menu(state, now)
        if "dtmf" in (state.get("awaiting_input") or ""):
            self.phone.act(self.sid, "digits", {"digits": self.key})
            self.times["pressed_real"] = time.monotonic()
            self._enter("routing", now)
            return now + self.clock.real(FIRST_LOOK["routing"])
        if now - self._phase_since > self._give_up(MENU_GIVE_UP):
            self.seen = "abandoned"  # hung up before any outcome, as the ledger will say
            self._hang_up("stuck_in_menu")
            return self._poll("talk", now)
        return self._poll("menu", now)

    def _after_menu(self, state: dict, now: float) -> float:
        awaiting = state.get("awaiting_input") or ""
        connected = state.get("connected_to") or ""
        if awaiting == "record" and not self._recorded:
            self._recorded = True
            if self.phone.act(self.sid, "speech", {"text": VOICEMAIL_WORDS}):
                self.phone.act(self.sid, "digits", {"digits": "#"})
                self.seen = "voicemail" if self.seen not in ("answered", "on_call") else self.seen
                self._enter("recording", now)
            return self._poll("talk", now)
        if connected.startswith("client:"):
            self.seen = "answered"
            self._enter("talking", now)
            return self._poll("talk", now)
        if connected:
            self.seen = "on_call"
            self._enter("on_call", now)
            return self._poll("talk", now)
        if state.get("in_queue"):
            return self._holding(now)
        if self.phase in ("talking", "on_call", "recording", "gone"):
            return self._poll("talk", now)  # goodbye lines before the line drops
        if self.phase == "holding":
            self._enter("routing", now)  # left the queue: to an agent, on-call or voicemail
        elif now - self._phase_since > self._give_up(ROUTING_GIVE_UP):
            self.seen = self.seen or "abandoned"
            self._hang_up("stuck_routing")
            return self._poll("talk", now)
        return self._until_beep(state, now) or self._poll("routing", now)

    def _until_beep(self, state: dict, now: float) -> float | None:
        """When the caller is hearing a voicemail prompt, wake up just before its beep."""
        heard = [line["text"] for line in state.get("transcript", []) if line["who"] not in ("caller", "system")]
        if not heard or not any(cue in heard[-1] for cue in VOICEMAIL_CUES):
            return None
        if self._prompt_seen is None:
            self._prompt_seen = now
            words = len(heard[-1].split())
            return max(now, now + self.clock.real(words * SECONDS_PER_WORD - 2.0))
        return self._poll("beep", now)

    def _holding(self, now: float) -> float:
        if self.phase != "holding":
            if "queued" not in self.times:
                self.times["queued_real"] = time.monotonic()
                self.tally.add("enqueued")
            self._enter("holding", now)
            self._mark("queued")
            if self._deadline is None and not self.load_mode:
                self._deadline = now + self.clock.real(self.patience)
        if self.load_mode:
            return self._poll("hold", now)
        if now >= self._deadline:
            self.seen = "abandoned"
            self._hang_up("patience")
            return self._poll("talk", now)
        next_due = min(self._poll("hold", now), self._deadline)
        # The practice's maximum wait ends in a voicemail whose beep must not be missed: look closely then.
        leave_at = self.times["queued_real"] + self.max_wait - 0.1
        if now >= leave_at:
            return min(next_due, self._poll("routing", now))
        return min(next_due, max(now, leave_at))

    def _give_up(self, sim_seconds: float) -> float:
        """Real seconds of silence after which the caller hangs up; a load test waits out a slow service."""
        return max(self.clock.real(sim_seconds), 60.0 if self.load_mode else 0.0)

    def _hang_up(self, why: str) -> None:
        self._enter("gone", time.monotonic())
        self.tally.add(f"hung_up_{why}")
        self.phone.act(self.sid, "hangup")

    def _finish(self, state: dict | None) -> None:
        # What happened between two looks is in the transcript: "[connected to client:agent-7]".
        connected = [line["text"] for line in (state or {}).get("transcript", [])
                     if line["who"] == "system" and line["text"].startswith("[connected to ")]
        if any("client:" in text for text in connected):
            self.seen = "answered"
        elif connected and self.seen != "voicemail":
            self.seen = "on_call"
        if self.seen is None:
            self.seen = "other"
        self.phase = "done"
        self._mark("ended")
        self.tally.add(f"seen_{self.seen}")
        return None


@dataclass
class Clinician:
    """The on-call clinician's mobile: answered most of the time, then a conversation, then hang up."""

    number: str
    clock: SimClock
    phone: Softphone
    behaviour: Behaviour
    rng: random.Random
    tally: Tally
    stop: threading.Event
    talking: dict = field(default_factory=dict)  # leg sid -> monotonic time to hang up
    handled: set = field(default_factory=set)
    replies: dict = field(default_factory=dict)  # page SMS sid -> (monotonic time to reply, the practice's number)

    def failed(self, error: Exception) -> None:
        self.tally.add("clinician_errors")

    def step(self, now: float) -> float | None:
        for sid, until in list(self.talking.items()):
            if now >= until:
                self.phone.act(sid, "hangup")
                del self.talking[sid]
        pending = any(when != float("inf") for when, _ in self.replies.values())
        if self.stop.is_set() and not self.talking and not pending:
            return None
        for sid, (when, practice_number) in list(self.replies.items()):
            if now >= when:  # "Reply 1 to acknowledge": they do, a little later
                self.phone.text(self.number, practice_number, "1")
                self.tally.add("clinician_replied_1")
                self.replies[sid] = (float("inf"), practice_number)
        for sms in self.phone.inbox(self.number):
            if sms["sid"] not in self.replies and "Reply 1 to acknowledge" in sms["body"]:
                if self.rng.random() < self.behaviour.clinician_replies:
                    delay = self.clock.real(lognormal(self.rng, self.behaviour.clinician_reply_seconds, 0.5))
                    self.replies[sms["sid"]] = (now + delay, sms["from"])
                else:
                    self.replies[sms["sid"]] = (float("inf"), sms["from"])  # left for the call-down
        for ringing in self.phone.ringing(self.number):
            sid = ringing["sid"]
            if sid in self.handled:
                continue
            self.handled.add(sid)
            if self.rng.random() < self.behaviour.clinician_answers:
                # The whisper asks them to press 1 before the patient is put through (keys typed ahead
                # are heard by its Gather, as on a real phone).
                if self.phone.act(sid, "answer") and self.phone.act(sid, "press", {"digits": "1"}):
                    self.tally.add("clinician_answered")
                    talk = self.clock.real(lognormal(self.rng, self.behaviour.clinician_talk_seconds, 0.5))
                    self.talking[sid] = now + talk
            else:
                self.phone.act(sid, "decline")
                self.tally.add("clinician_declined")
        return now + self.clock.poll(8.0, 0.1, 1.0)
