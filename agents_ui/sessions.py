"""The console's live socket lives and dies with the staff member's login session.

A Socket.IO connection keeps the session it was opened with, so the socket cannot see a logout
or an idle expiry by itself. Instead, each staff member has a "last seen" time (kept by
`callcenter.presence`): set
from the session cookie when a console connects, moved forward by the page's keepalive request
(which also refreshes the cookie) whenever the agent is active, and deleted at logout. A console
event that finds it missing or older than the session lifetime closes the socket.

With several web processes, a console's socket may live on any of them. Each staff member's
open sockets are listed in Redis (by `callcenter.presence`, newest few only), so a logout on
one process closes the sockets held by every other: `Server.disconnect(sid)` of a socket this
process does not hold is published on the Socket.IO message queue (python-socketio's
`PubSubManager`), and the process holding it disconnects it server-side at once.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app, request
from flask_login import user_logged_out
from itsdangerous import BadSignature

from callcenter import acd, ledger, signin
from callcenter.extensions import db

from .broadcast import NAMESPACE, staff_room

log = logging.getLogger(__name__)

SWEEP_SECONDS = 10  # how often each web process checks its consoles' sign-in sessions


def _lifetime(app: Flask) -> float:
    return app.permanent_session_lifetime.total_seconds()


def _sockets_ttl(app: Flask) -> int:
    return int(_lifetime(app)) + 60


def _mark_seen(app: Flask, user_id: int, at: float) -> None:
    app.presence.mark_seen(user_id, at, ttl_seconds=int(_lifetime(app)) + 60)


def cookie_refreshed_at(app: Flask) -> float:
    """When this request's session cookie was last issued (now, if that cannot be read)."""
    serializer = app.session_interface.get_signing_serializer(app)
    value = request.cookies.get(app.config["SESSION_COOKIE_NAME"])
    if serializer is None or not value:
        return time.time()
    try:
        _, issued = serializer.loads(value, max_age=int(_lifetime(app)), return_timestamp=True)
    except BadSignature:
        return time.time()
    return issued.timestamp()


def socket_opened(user_id: int) -> None:
    """A console connected with a valid session cookie (called by the connect handler)."""
    app = current_app._get_current_object()
    seen = app.presence.last_seen(user_id)
    at = cookie_refreshed_at(app)
    if seen is None or seen < at:
        _mark_seen(app, user_id, at)
    sid = getattr(request, "sid", None)  # set by Flask-SocketIO in its handlers
    if sid:
        app.presence.remember_socket(user_id, sid, time.time(), _sockets_ttl(app))


def redis_lost(user_id: int) -> None:
    """Redis lost its data while this console stayed open (not a logout): its session carries on from now."""
    app = current_app._get_current_object()
    _mark_seen(app, user_id, time.time())
    sid = getattr(request, "sid", None)
    if sid:
        app.presence.remember_socket(user_id, sid, time.time(), _sockets_ttl(app))


def agent_active(user_id: int) -> None:
    """The agent used the page (the keepalive request refreshed their session cookie)."""
    app = current_app._get_current_object()
    _mark_seen(app, user_id, time.time())
    app.presence.keep_sockets(user_id, _sockets_ttl(app))


def session_over(user_id: int) -> bool:
    """True when this staff member logged out, or has been idle longer than the session lifetime."""
    app = current_app._get_current_object()
    seen = app.presence.last_seen(user_id)
    return seen is None or time.time() - seen > _lifetime(app)


def end_session(app: Flask, user_id: int) -> None:
    """Forget the session, take the agent out of the queue's presence, close their sockets everywhere.

    Sockets this process holds are closed here and now. For the others, `Server.disconnect(sid)`
    publishes a disconnect on the Socket.IO message queue, and the web process holding the
    socket closes it from the server side (the console sees "io server disconnect"). A socket
    that has already gone costs one message that every process ignores. Any socket missing from
    the list still closes at its next event or snapshot request (~15 s), finding the session gone.
    """
    app.presence.sign_out(user_id)
    _ring_off(app, user_id)
    socketio = app.extensions.get("socketio")
    if socketio is None or socketio.server is None:
        return
    server = socketio.server
    here = [sid for sid, _ in server.manager.get_participants(NAMESPACE, staff_room(user_id))]
    sids = dict.fromkeys(here + app.presence.forget_sockets(user_id))  # ordered, no repeats: local ones first
    for sid in sids:
        server.disconnect(sid, namespace=NAMESPACE)


def _ring_off(app: Flask, user_id: int) -> None:
    """A call ringing on the agent's console moves on at once; the agent shows away (offline)."""
    try:
        settled = acd.signed_out(db.session, app.presence, app.offers, user_id, ledger.now())
        db.session.commit()
    except Exception as exc:  # the logout itself must go through; the ring timeout still moves the offer on
        db.session.rollback()
        log.warning("could not end the offer of an agent who logged out: %s", type(exc).__name__)
        return
    if settled is not None:
        app.console.offer_ended(settled)
        app.console.queue_changed()


@user_logged_out.connect
def _on_logout(app: Flask, user=None, **_extra) -> None:
    if user is not None and getattr(user, "is_staff", False):
        end_session(app, user.id)


class SocketWatch:
    """This web process's console sockets and the sign-in session each was opened with. Every
    SWEEP_SECONDS one query finds which of those sessions have ended (logout, idle, a new password,
    disabled), and the server closes their sockets: a socket that stays silent and only listens is
    dropped too, instead of receiving patients' numbers until it next sends an event."""

    def __init__(self, app: Flask, socketio, every: float):
        self.app, self.socketio, self.server, self.every = app, socketio, socketio.server, every
        self.sockets: dict[str, tuple[str | None, int]] = {}  # sid -> (session token, staff member's id)
        self.lock = threading.Lock()
        self.running = False

    def opened(self, sid: str, token: str | None, user_id: int) -> None:
        with self.lock:
            self.sockets[sid] = (token, user_id)
            start = not self.running
            self.running = True
        if start:
            self.socketio.start_background_task(self._run)

    def closed(self, sid: str) -> None:
        with self.lock:
            self.sockets.pop(sid, None)

    def user_of(self, sid: str) -> int | None:
        """Whose console this socket is, even once their session has ended (and with it `current_user`)."""
        with self.lock:
            found = self.sockets.get(sid)
        return found[1] if found else None

    def sweep(self) -> list[str]:
        """Close the sockets whose session has ended, and sign out the staff members who have no session
        left (they stop being offered calls now, not when their console's heartbeat is missed); the ids."""
        with self.lock:
            sockets = dict(self.sockets)
        if not sockets:
            return []
        with self.app.app_context():
            try:
                live = signin.live_tokens(db.session, {t for t, _ in sockets.values() if t},
                                          self.app.permanent_session_lifetime)
                ended = [sid for sid, (token, _) in sockets.items() if token not in live]
                gone = {sockets[sid][1] for sid in ended} - signin.users_signed_in(
                    db.session, {sockets[sid][1] for sid in ended}, self.app.permanent_session_lifetime)
                for user_id in gone:
                    end_session(self.app, user_id)
            finally:
                db.session.remove()
        for sid in ended:
            self.closed(sid)
            self.server.disconnect(sid, namespace=NAMESPACE)
        return ended

    def _run(self) -> None:
        while True:
            self.socketio.sleep(self.every)
            with self.lock:
                if not self.sockets or self.socketio.server is not self.server:  # nothing to watch; or a new app
                    self.running = False
                    return
            try:
                ended = self.sweep()
            except Exception as exc:  # the database is down: the next sweep tries again
                log.warning("could not check the console sockets' sessions: %s", type(exc).__name__)
                continue
            if ended:
                log.info("closed %d console sockets whose session had ended", len(ended))


def socket_watch(app: Flask) -> SocketWatch:
    watch = app.extensions.get("console_socket_watch")
    socketio = app.extensions["socketio"]
    if watch is None or watch.server is not socketio.server:
        watch = app.extensions["console_socket_watch"] = SocketWatch(
            app, socketio, app.config.get("CONSOLE_SWEEP_SECONDS", SWEEP_SECONDS))
    return watch
