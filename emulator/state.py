"""The emulator's world: calls, queues and messages, guarded by one lock and one condition.

Every change notifies `EmulatorState.changed`, so call threads and long-polling softphones wait on a
single condition instead of sleeping.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

API_VERSION = "2010-04-01"
TERMINAL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
TRANSCRIPT_LIMIT = 500
APP_ERROR_SPEECH = "We're sorry, an application error has occurred. Goodbye."


def new_sid(prefix: str) -> str:
    """Return a Twilio-shaped sid: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None) -> str | None:
    """Format a time the way Twilio's REST API and callbacks do."""
    return format_datetime(moment, usegmt=True) if moment else None


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Call:
    """One call leg, as Twilio and the softphone see it."""

    sid: str
    account_sid: str
    from_: str
    to: str
    direction: str  # inbound, outbound-api, outbound-dial
    status: str = "queued"
    parent_sid: str | None = None
    date_created: datetime = field(default_factory=now)
    start_time: datetime | None = None
    end_time: datetime | None = None
    answered_at: float | None = None  # monotonic, for durations
    ended_at: float | None = None
    transcript: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    webhooks: list[dict] = field(default_factory=list)  # requests the emulator sent for this call
    # What the caller is doing right now, for the softphone.
    queue_name: str | None = None
    connected_to: str | None = None
    awaiting_input: str | None = None  # "dtmf", "speech", "dtmf speech", "record"
    # Input from the softphone, consumed by the call thread.
    digits: deque = field(default_factory=deque)
    speech: deque = field(default_factory=deque)
    # Requests from outside (REST, softphone) that interrupt whatever the call thread does.
    hangup_requested: bool = False
    redirect: dict | None = None  # {"url", "method"} or {"twiml"}
    answer_requested: bool = False
    decline_requested: bool = False
    muted: bool = False  # a browser device muted its microphone on this leg
    client_parameters: dict = field(default_factory=dict)  # <Client><Parameter>s, handed to the device
    # For REST-created calls.
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset = frozenset({"completed"})
    sequence: int = 0
    bridge_sid: str | None = None  # the other leg while bridged
    detached: bool = False  # a <Dial> leg redirected out of its bridge, now running TwiML of its own
    twiml_answered: bool = False
    conference_sid: str | None = None  # the conference this call is in (waiting or talking)

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    def duration_seconds(self, speed: float) -> int:
        """Seconds from answer to end, in the emulated world's time."""
        if self.answered_at is None:
            return 0
        end = self.ended_at if self.ended_at is not None else time.monotonic()
        return int(round((end - self.answered_at) * speed))

    def say(self, text: str, who: str = "ivr", **extra) -> None:
        """Append a line to the transcript (caller must hold the state lock)."""
        line = {"who": who, "text": text, "at": time.time(), **extra}
        self.transcript.append(line)
        if len(self.transcript) > TRANSCRIPT_LIMIT:
            del self.transcript[: len(self.transcript) - TRANSCRIPT_LIMIT]


@dataclass
class QueueMember:
    call_sid: str
    enqueued_at: float
    date_enqueued: datetime = field(default_factory=now)


@dataclass
class CallQueue:
    """A named Twilio queue holding callers in order."""

    sid: str
    friendly_name: str
    max_size: int = 1000
    members: list[QueueMember] = field(default_factory=list)
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)
    total_wait: float = 0.0
    served: int = 0

    def position(self, call_sid: str) -> int | None:
        for index, member in enumerate(self.members):
            if member.call_sid == call_sid:
                return index + 1
        return None

    def average_wait(self, speed: float) -> int:
        return int(round(self.total_wait * speed / self.served)) if self.served else 0


@dataclass
class Participant:
    """One call in a conference room, with the <Conference> attributes it joined with."""

    call_sid: str
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    muted: bool = False
    hold: bool = False
    label: str | None = None
    removed: bool = False  # kicked through the REST API
    joined_at: float = field(default_factory=time.monotonic)
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)


@dataclass
class Conference:
    """A named conference room: created by its first participant, ended when the last one leaves."""

    sid: str
    account_sid: str
    friendly_name: str
    status: str = "init"  # init, in-progress, completed
    participants: dict[str, Participant] = field(default_factory=dict)  # by call sid, in joining order
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)
    reason_ended: str | None = None
    call_sid_ending: str | None = None
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset = frozenset()
    sequence: int = 0

    @property
    def ended(self) -> bool:
        return self.status == "completed"


@dataclass
class Message:
    sid: str
    account_sid: str
    from_: str
    to: str
    body: str
    direction: str  # outbound-api (app to phone), inbound (phone to app)
    status: str = "queued"
    date_created: datetime = field(default_factory=now)
    date_sent: datetime | None = None
    status_callback: str | None = None
    error_code: int | None = None  # 30003 (unreachable handset) for a number a test made undeliverable


@dataclass
class CallbackChaos:
    """How status callbacks misbehave, as real Twilio's sometimes do (tests turn these on)."""

    duplicate: bool = False
    delay: float = 0.0  # seconds (real) before each callback is sent
    reorder: bool = False  # hold a call's callbacks and send them newest first

    @classmethod
    def parse(cls, text: str | None) -> CallbackChaos:
        """Read `duplicate,reorder,delay=0.5` (any of them, comma-separated) as the command line gives it."""
        chaos = cls()
        for word in (text or "").replace(" ", "").split(","):
            name, _, value = word.partition("=")
            if not name:
                continue
            if name in {"duplicate", "reorder"} and not value:
                setattr(chaos, name, True)
            elif name == "delay":
                try:
                    chaos.delay = float(value or "1")
                except ValueError:
                    raise ValueError(f"delay needs seconds, not {value!r}") from None
                if chaos.delay < 0:
                    raise ValueError("delay cannot be negative")
            else:
                raise ValueError(f"unknown chaos {word!r}: use duplicate, reorder, delay=SECONDS")
        return chaos


class EmulatorState:
    """Everything the emulator knows; shared by the REST API, the softphone and call threads."""

    def __init__(self, account_sid: str, auth_token: str, voice_url: str | None = None,
                 status_url: str | None = None, sms_url: str | None = None,
                 numbers: list[str] | None = None, speed: float = 1.0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.voice_url = voice_url
        # The number's Fallback URL: asked when the voice URL (or a document it led to) fails.
        self.voice_fallback_url: str | None = None
        # TwiML Bins: documents Twilio hosts itself (served at /twiml/<sid>, see emulator/bins.py).
        self.twiml_bins: dict[str, str] = {}
        self.status_url = status_url
        self.sms_url = sms_url
        self.numbers = list(numbers or [])
        self.speed = float(speed) if speed and speed > 0 else 1.0
        # Real seconds (not scaled): Twilio's limits for a webhook answer.
        self.connect_timeout = 5.0
        self.read_timeout = 15.0
        # Client legs (<Dial><Client>) ring the identity's registered browser device until it accepts
        # (emulator/devices.py). Load generators that stand in for a thousand browsers may have the
        # emulator answer them by itself after client_ring_seconds instead.
        self.auto_answer_clients = False
        self.undeliverable: set[str] = set()  # numbers whose texts end undelivered (30003), never in their inbox
        self.client_ring_seconds = 2.0
        self.unreachable_clients: set[str] = set()  # identities never auto-answered
        self.devices: dict[str, float] = {}  # identity -> until when its registration holds (epoch)
        self.callback_chaos = CallbackChaos()
        self.base_url = "http://127.0.0.1"  # learned from the first request; used for RecordingUrl
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.calls: dict[str, Call] = {}
        self.queues: dict[str, CallQueue] = {}  # by friendly name
        self.conferences: dict[str, Conference] = {}  # by sid, ended ones included (as Twilio lists them)
        self.messages: dict[str, Message] = {}
        self.recordings: dict[str, dict] = {}
        self.status_callbacks = None  # StatusCallbacks (emulator/status_callbacks.py), attached by create_emulator
        self.closing = False
        self.threads: list[threading.Thread] = []

    def answers_by_itself(self, to: str) -> bool:
        """Whether a leg to `to` is answered by the emulator itself (a client with no device, when
        auto_answer_clients is on), rather than by a person or a registered device."""
        if not to.startswith("client:") or not self.auto_answer_clients:
            return False
        identity = to[7:]
        return identity not in self.unreachable_clients and self.devices.get(identity, 0.0) < time.time()

    # Time -------------------------------------------------------------------------------------

    def scaled(self, seconds: float) -> float:
        """Real seconds to wait for `seconds` of emulated time."""
        return max(0.0, float(seconds)) / self.speed

    # Lookup -----------------------------------------------------------------------------------

    def queue_by_name(self, name: str, create: bool = True) -> CallQueue | None:
        """Return the queue called `name`, creating it as Twilio does on first use (lock held)."""
        queue = self.queues.get(name)
        if queue is None and create:
            queue = CallQueue(sid=new_sid("QU"), friendly_name=name)
            self.queues[name] = queue
        return queue

    def queue_by_sid(self, sid: str) -> CallQueue | None:
        return next((q for q in self.queues.values() if q.sid == sid), None)

    def live_conference(self, name: str) -> Conference | None:
        """The conference room called `name` that has not ended yet (lock held)."""
        return next((c for c in self.conferences.values() if c.friendly_name == name and not c.ended), None)

    def queue_of(self, call_sid: str) -> CallQueue | None:
        return next((q for q in self.queues.values() if q.position(call_sid)), None)

    # Lifecycle --------------------------------------------------------------------------------

    def start_thread(self, target, *args, name: str = "emulator") -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self.lock:
            self.threads = [t for t in self.threads if t.is_alive()]
            self.threads.append(thread)
        thread.start()
        return thread

    def shutdown(self, timeout: float = 5.0) -> None:
        """Hang up every call and wait for call threads to finish."""
        with self.changed:
            self.closing = True
            for call in self.calls.values():
                call.hangup_requested = True
            self.changed.notify_all()
            threads = list(self.threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
