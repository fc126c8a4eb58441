"""The one sender of console broadcasts: a method per thing that changed.

(A console's own snapshot on connecting is the one answer sent straight back, by the socket handler.)

Webhooks, jobs and console handlers call these on `current_app.console` (hung on the app by the
factory). A call only marks what changed: a background task of this process builds the payload and
sends it at most every `CONSOLE_PUSH_INTERVAL` seconds (per kind, and across every web process and
worker: `window_key`), so a webhook never builds or sends a push itself, and a burst of changes
(twenty callers a second) costs each console a few pushes a second. Each push carries a sequence
number per kind (`seq`); a console that sees one missing asks for a snapshot. Pushes are hints: a
console asks for a full snapshot on every (re)connect and every few seconds, so a push that fails is
logged and dropped, never raised into the caller's answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask
from flask_socketio import SocketIO

from callcenter import desk, ledger
from callcenter.extensions import db
from callcenter.models import User
from callcenter.offers import Offer, Settled

from . import read_model

log = logging.getLogger(__name__)

NAMESPACE = "/console"
KINDS = ("queue", "callbacks", "voicemails", "pages", "worklist", "floor")
TO_SUPERVISORS = {"floor"}  # kinds only supervisors' consoles get (pushes and snapshots)
DEFAULT_INTERVAL = 0.25  # seconds between two pushes of one kind from one process
# A view every console shares (the queue, callbacks, voicemails, pages) is built once and reused by
# the snapshots of this process for this long, unless it changed here: a thousand consoles asking
# every few seconds cost the per-agent part only.
SHARED_FRESH = 1.0


SUPERVISORS_ROOM = "supervisors"  # every console of a supervisor or admin


def staff_room(user_id: int) -> str:
    """Every console one staff member has open."""
    return f"staff:{user_id}"


class ConsoleBroadcaster:
    """Tells consoles what changed: the queue, callbacks, voicemails, pages, or one agent's desk."""

    seq_key = "cc:console:seq:{}"  # per kind: how many pushes of it have been sent, by every process
    # per kind: held for one rest by the process that pushed it last, with when it began building it.
    # The rest is kept across processes too: a change made just before another process built its push
    # (the webhook's queued caller, and the offer loop ringing them) is in that push and costs no second
    # one to every console; a change made after it goes out at the end of the rest (see `_turn`).
    window_key = "cc:console:window:{}"

    def __init__(self, app: Flask, socketio: SocketIO, interval: float = DEFAULT_INTERVAL):
        self.app = app
        self.socketio = socketio
        self.interval = interval  # 0: push at once, from the caller (tests that read pushes in step)
        self._dirty: dict[str, float] = {}  # kind -> when it last changed, not yet pushed (time.time())
        self._dirty_desks: set[int] = set()  # agents whose call changed in a webhook or a job
        self._latest: dict[str, tuple[float, dict]] = {}  # kind -> (built at, view)
        self._lock = threading.Lock()
        self._wake = None
        self._builders: dict[str, Callable[[], dict]] = {
            "queue": lambda: read_model.queue_snapshot(db.session, self.app.call_queue, self.app.presence,
                                                          self.app.offers),
            "callbacks": lambda: {"callbacks": read_model.open_callbacks(db.session, ledger.now())},
            "voicemails": lambda: {"voicemails": read_model.voicemails_to_review(db.session)},
            "pages": lambda: {"pages": read_model.recent_pages(db.session)},
            "worklist": lambda: {"worklist": read_model.worklist(db.session)},
            "floor": lambda: {"agents": read_model.floor(db.session, self.app.presence)},
        }

    # What changed

    def queue_changed(self) -> None:
        """Someone joined or left the queue, or an agent's availability changed."""
        self._changed("queue")
        self._changed("floor")

    def callbacks_changed(self) -> None:
        self._changed("callbacks")

    def voicemails_changed(self) -> None:
        self._changed("voicemails")

    def pages_changed(self) -> None:
        self._changed("pages")

    def worklist_changed(self) -> None:
        """Something a supervisor must own was added to the worklist, or taken from it."""
        self._changed("worklist")

    def desk_changed(self, agent: User) -> None:
        """The agent's own state or call changed: every console they have open gets their snapshot, now."""
        self._emit("snapshot", lambda: self.desk_snapshot(agent), to=staff_room(agent.id))

    def desk_changed_for(self, agent_id: int) -> None:
        agent = db.session.get(User, agent_id)
        if agent is not None:
            self.desk_changed(agent)

    def call_changed_for(self, agent_id: int | None) -> None:
        """The call on this agent's desk changed outside their console (the caller hung up, the bridge
        ended): their consoles get their snapshot from the background task, not from the webhook."""
        if agent_id is None:
            return
        if self.interval <= 0:
            self.desk_changed_for(agent_id)
            return
        with self._lock:
            self._dirty_desks.add(agent_id)
        self._changed(None)

    # Offers: they ring one agent's consoles, at once (not coalesced: a ring is worth its push).

    def offer_rings(self, offer: Offer) -> None:
        """The agent's consoles ring with the offered call."""
        self._emit("offer", lambda: read_model.offer_view(db.session, offer, ledger.now()),
                   to=staff_room(offer.agent_id))

    def offer_ended(self, settled: Settled) -> None:
        """The offer stopped ringing (timed out, withdrawn, answered elsewhere): the banner goes."""
        self._emit("offer_ended", lambda: {"call_id": settled.call_id, "offer_id": settled.offer_id,
                                           "outcome": settled.outcome}, to=staff_room(settled.agent_id))

    def agent_set_away(self, agent_id: int, reason: str) -> None:
        """The service set an agent away (missed offers, console offline): they and the supervisors hear."""
        self.desk_changed_for(agent_id)
        agent = db.session.get(User, agent_id)
        name = agent.name if agent is not None else f"Agent {agent_id}"
        self.tell_supervisors(read_model.away_notice(name, reason))

    def wrap_up_overdue(self, call_id: int) -> None:
        """An agent has not wrapped up a call within the after-call work limit: the supervisors hear."""
        self.tell_supervisors(read_model.overdue_notice(db.session, call_id))
        self.worklist_changed()

    def tell_supervisors(self, text: str) -> None:
        self._emit("supervisor_notice", lambda: {"text": text, "at": ledger.now().isoformat()}, to=SUPERVISORS_ROOM)

    def desk_snapshot(self, agent: User) -> dict:
        """One agent's whole console, with their presence settled first (see `desk.settle_if_free`),
        and the sequence number of each kind of push it includes."""
        now = ledger.now()
        call = desk.settle_if_free(db.session, self.app.presence, agent, now)
        snapshot = read_model.desk_view(db.session, self.app.presence, self.app.offers, agent, call, now)
        snapshot.update(queue=self._view("queue"), at=now.isoformat(), seq=self._sequence_numbers(),
                        **{kind: self._view(kind)[kind] for kind in ("callbacks", "voicemails", "pages", "worklist")})
        if agent.role in ("supervisor", "admin"):
            snapshot["floor"] = self._view("floor")
        return snapshot

    def _view(self, kind: str) -> dict:
        if self.interval > 0:
            latest = self._latest.get(kind)
            if latest is not None and time.monotonic() - latest[0] < SHARED_FRESH:
                return latest[1]
        view = self._builders[kind]()
        self._latest[kind] = (time.monotonic(), view)
        return view

    # How it is sent

    def _changed(self, kind: str | None) -> None:
        if kind is not None:
            self._latest.pop(kind, None)
            if self.interval <= 0:
                self._push(kind)
                return
        with self._lock:
            if kind is not None:
                self._dirty[kind] = time.time()
            if self._wake is None:
                self._wake = self.socketio.server.eio.create_event() if self.socketio.server else threading.Event()
                self.socketio.start_background_task(self._send_changes)
        self._wake.set()

    def _send_changes(self) -> None:
        """The background task: wait for changes, send each kind once, rest, repeat."""
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                kinds, self._dirty = self._dirty, {}
                desks, self._dirty_desks = self._dirty_desks, set()
            later = {}
            try:
                with self.app.app_context():
                    for kind in KINDS:
                        if kind in kinds:
                            turn = self._turn(kind, kinds[kind])
                            if turn == "now":
                                self._push(kind)
                            elif turn == "later":
                                later[kind] = kinds[kind]
                    for agent_id in desks:
                        self.desk_changed_for(agent_id)
                    db.session.remove()
            except Exception as exc:  # this task is the process's only sender: it must outlive any fault
                log.warning("console pushes failed: %s", type(exc).__name__)
            if later:  # another process pushed these a moment ago: after this rest, then
                with self._lock:
                    for kind, since in later.items():
                        self._dirty[kind] = max(since, self._dirty.get(kind, since))
                self._wake.set()
            self.socketio.sleep(self.interval)

    def _turn(self, kind: str, changed_at: float) -> str:
        """"now": no process pushed `kind` in the last rest, and this one now holds the rest; "covered":
        another process did, with a push built after this change (views are built from the shared
        database and Redis, so that push showed it); "later": another did, before this change.

        The processes' clocks are compared: on one machine, or kept in step by NTP (a push missed for a
        skew is made good by the console's next snapshot, which it asks for every few seconds)."""
        key = self.window_key.format(kind)
        try:
            if self.app.redis.set(key, repr(time.time()), px=max(1, int(self.interval * 1000)), nx=True):
                return "now"
            built = self.app.redis.get(key)
        except Exception:  # Redis away: push anyway, a push is a hint
            return "now"
        if built is not None and float(built) >= changed_at:
            return "covered"
        return "later"

    def _push(self, kind: str) -> None:
        def payload() -> dict:
            data = dict(self._builders[kind]())
            self._latest[kind] = (time.monotonic(), data)
            data = {**data, "seq": int(self.app.redis.incr(self.seq_key.format(kind)))}
            return data

        self._emit(kind, payload, to=SUPERVISORS_ROOM if kind in TO_SUPERVISORS else None)

    def _emit(self, event: str, build: Callable[[], dict], to: str | None = None) -> None:
        try:
            self.socketio.emit(event, build(), to=to, namespace=NAMESPACE)
        except Exception as exc:
            log.warning("console push %r failed: %s", event, type(exc).__name__)

    def _sequence_numbers(self) -> dict[str, int]:
        values = self.app.redis.mget([self.seq_key.format(kind) for kind in KINDS])
        return {kind: int(value or 0) for kind, value in zip(KINDS, values, strict=True)}
