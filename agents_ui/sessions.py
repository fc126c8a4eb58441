"""The console's live socket lives and dies with the staff member's login session.

A Socket.IO connection keeps the session it was opened with, so the socket cannot see a logout
or an idle expiry by itself. Instead, each staff member has a "last seen" time (kept by
`callcenter.presence`): set
from the session cookie when a console connects, moved forward by the page's keepalive request
(which also refreshes the cookie) whenever the agent is active, and deleted at logout. A console
event that finds it missing or older than the session lifetime closes the socket.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, request
from flask_login import user_logged_out
from itsdangerous import BadSignature

from .broadcast import NAMESPACE, staff_room


def _lifetime(app: Flask) -> float:
    return app.permanent_session_lifetime.total_seconds()


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
    """A console connected with a valid session cookie."""
    app = current_app._get_current_object()
    seen = app.presence.last_seen(user_id)
    at = cookie_refreshed_at(app)
    if seen is None or seen < at:
        _mark_seen(app, user_id, at)


def agent_active(user_id: int) -> None:
    """The agent used the page (the keepalive request refreshed their session cookie)."""
    _mark_seen(current_app._get_current_object(), user_id, time.time())


def session_over(user_id: int) -> bool:
    """True when this staff member logged out, or has been idle longer than the session lifetime."""
    app = current_app._get_current_object()
    seen = app.presence.last_seen(user_id)
    return seen is None or time.time() - seen > _lifetime(app)


def end_session(app: Flask, user_id: int) -> None:
    """Forget the session, take the agent out of the queue's presence, close their sockets here.

    Sockets held by other web processes close at their next event or snapshot request (at
    most ~15 s later), when they find the session gone.
    """
    app.presence.sign_out(user_id)
    socketio = app.extensions.get("socketio")
    if socketio is None or socketio.server is None:
        return
    sids = [sid for sid, _ in socketio.server.manager.get_participants(NAMESPACE, staff_room(user_id))]
    for sid in sids:
        socketio.server.disconnect(sid, namespace=NAMESPACE)


@user_logged_out.connect
def _on_logout(app: Flask, user=None, **_extra) -> None:
    if user is not None and getattr(user, "is_staff", False):
        end_session(app, user.id)
