"""The one sender of console broadcasts: a method per thing that changed.

(A console's own snapshot on connecting is the one answer sent straight back, by the socket handler.)

Webhooks, jobs and console handlers call these on `current_app.console` (hung on the app by the
factory). Pushes are hints: a console asks for a full snapshot on every (re)connect and every few
seconds, so a push that fails is logged and dropped, never raised into the caller's answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask
from flask_socketio import SocketIO

from callcenter import desk, ledger
from callcenter.extensions import db
from callcenter.models import User

from . import read_model

log = logging.getLogger(__name__)

NAMESPACE = "/console"


def staff_room(user_id: int) -> str:
    """Every console one staff member has open."""
    return f"staff:{user_id}"


class ConsoleBroadcaster:
    """Tells consoles what changed: the queue, callbacks, voicemails, pages, or one agent's desk."""

    def __init__(self, app: Flask, socketio: SocketIO):
        self.app = app
        self.socketio = socketio

    def _push(self, event: str, build: Callable[[], dict], to: str | None = None) -> None:
        try:
            self.socketio.emit(event, build(), to=to, namespace=NAMESPACE)
        except Exception as exc:
            log.warning("console push %r failed: %s", event, type(exc).__name__)

    def queue_changed(self) -> None:
        """Someone joined or left the queue, or an agent's availability changed."""
        self._push("queue", lambda: read_model.queue_snapshot(db.session, self.app.call_queue, self.app.presence))

    def callbacks_changed(self) -> None:
        self._push("callbacks", lambda: {"callbacks": read_model.open_callbacks(db.session, ledger.now())})

    def voicemails_changed(self) -> None:
        self._push("voicemails", lambda: {"voicemails": read_model.voicemails_to_review(db.session)})

    def pages_changed(self) -> None:
        self._push("pages", lambda: {"pages": read_model.recent_pages(db.session)})

    def desk_changed(self, agent: User) -> None:
        """The agent's own state or call changed: every console they have open gets their snapshot."""
        self._push("snapshot", lambda: self.desk_snapshot(agent), to=staff_room(agent.id))

    def desk_snapshot(self, agent: User) -> dict:
        """One agent's whole console, with their presence settled first (see `desk.settle_if_free`)."""
        now = ledger.now()
        desk.settle_if_free(db.session, self.app.presence, agent, now)
        return read_model.desk_snapshot(db.session, self.app.call_queue, self.app.presence, agent, now)
