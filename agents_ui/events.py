"""Socket.IO handlers of the live console (namespace /console).

Every client event is answered through its ack callback with `{"ok": true, ...}` or `{"ok": false,
"error": "<a sentence for the agent>"}`. Server pushes: `offer` (a call rings this agent: accept or
decline it) and `offer_ended`; `snapshot` (one agent's whole console), `queue`, `callbacks`
`{callbacks}`, `voicemails` `{voicemails}` and `pages` `{pages}` (everyone); `floor` `{agents}`
(every agent's state, for assigning callers) and `supervisor_notice` (supervisors). All but the
offer are hints: the page asks for a snapshot on reconnect, on a gap in a kind's sequence numbers,
and slowly as a safety net. The page sends a `heartbeat` every few seconds; a console silent
for 30 s is offline (`callcenter.acd`).
"""

from __future__ import annotations

import functools
import logging
import traceback

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import Namespace, disconnect, emit, join_room

from callcenter import acd, audit, consult, desk, ledger, signin, worklist
from callcenter.calls import Refused
from callcenter.delivery import deliver_urgent
from callcenter.extensions import db, socketio
from callcenter.models import AuditEntry, Message
from ivr.urls import consult_urls, public_url

from . import read_model, sessions
from .broadcast import NAMESPACE, SUPERVISORS_ROOM, staff_room

log = logging.getLogger(__name__)

SESSION_OVER = "Your session has ended. Please log in again."
UNEXPECTED = "Something went wrong on our side. Please try again; if it keeps happening, tell your supervisor."


def _agent():
    return current_user._get_current_object()


# The presence epoch (callcenter.presence) each of this process's sockets was opened under.
_epochs: dict[str, str] = {}


def _signed_out_here() -> int | None:
    """Whose console this socket was, now that its session has ended (an ended session loads no user any
    more, so the socket keeps it): None when they are still signed in elsewhere, whose consoles go on."""
    app = current_app._get_current_object()
    user_id = sessions.socket_watch(app).user_of(request.sid)
    if user_id is None or signin.users_signed_in(db.session, {user_id}, app.permanent_session_lifetime):
        return None
    return user_id


def _signed_in() -> bool:
    if not (current_user.is_authenticated and current_user.is_staff):
        return False
    _carry_on_if_redis_lost()
    return not sessions.session_over(current_user.id)


def _carry_on_if_redis_lost() -> None:
    """A Redis restart without its data is not a logout: a console opened before it carries on."""
    epoch = current_app.presence.epoch()
    opened_under = _epochs.setdefault(request.sid, epoch)
    if opened_under != epoch:
        _epochs[request.sid] = epoch
        sessions.redis_lost(current_user.id)
        log.warning("Redis lost its data: a console opened before carries on, its presence rebuilt")


def _heartbeat() -> None:
    """The console is alive. Its first heartbeat after Redis lost the agent rebuilds their presence."""
    app = current_app
    agent = _agent()
    if app.presence.heartbeat(agent.id, ledger.now().timestamp()) and acd.restore(
            db.session, app.presence, agent.id, ledger.now()):
        db.session.commit()
        app.offers.wake()
        app.console.desk_changed(agent)
        app.console.queue_changed()


def _id(data: dict, key: str, what: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise Refused(f"Choose {what} first.")
    return int(value)


def console_event(handler):
    """Check the session, run the handler, and turn its result or failure into the ack."""

    @functools.wraps(handler)
    def answer(self, data=None):
        try:
            db.session.info["address"] = request.remote_addr  # for the audit rows this event writes
            if not _signed_in():
                user_id = current_user.id if current_user.is_authenticated else _signed_out_here()
                if user_id is not None:
                    sessions.end_session(current_app._get_current_object(), user_id)
                disconnect()
                return {"ok": False, "error": SESSION_OVER}
            result = handler(self, data if isinstance(data, dict) else {})
        except Refused as exc:
            db.session.rollback()
            return {"ok": False, "error": str(exc)}
        except Exception as exc:
            db.session.rollback()
            # Exception messages can quote SQL parameters or Twilio payloads (patients' numbers):
            # log where it failed, never what it said.
            log.error("console event %r failed with %s:\n%s", handler.__name__, type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)))
            return {"ok": False, "error": UNEXPECTED}
        return {"ok": True, **(result or {})}

    return answer


def _snapshot() -> dict:
    view = current_app.console.desk_snapshot(_agent())
    if audit.console_lists_shown(db.session, current_app.redis, current_user.id):
        db.session.commit()
    return view


def _page_on_call(message: Message) -> None:
    """An urgent message goes to the on-call clinician, in a job: the wrap-up does not wait on Twilio.

    Only if the job cannot be queued (Redis away) is the page sent from here: late beats never.
    """
    if current_app.followups.page_on_call(message.id):
        return
    log.warning("could not queue the on-call page; paging now")
    try:
        deliver_urgent(db.session, current_app.gateway, message, ledger.now())
        db.session.commit()
        current_app.console.pages_changed()
    except Exception as exc:  # the wrap-up itself is saved; say so to the agent, and log the miss loudly
        db.session.rollback()
        log.error("on-call page for message %s failed: %s", message.id, type(exc).__name__)


class ConsoleNamespace(Namespace):
    """One agent's console: their presence, their call, the shared queue and callbacks."""

    def on_connect(self, auth=None):
        if not current_user.is_authenticated or not current_user.is_staff:
            raise ConnectionRefusedError("Log in with a staff account to use the console.")
        db.session.info["address"] = request.remote_addr  # for the audit row of the lists it is shown
        sessions.socket_opened(current_user.id)
        sessions.socket_watch(current_app._get_current_object()).opened(request.sid, session.get(signin.SESSION_KEY),
                                                                          current_user.id)
        _epochs[request.sid] = current_app.presence.epoch()
        if not (isinstance(auth, dict) and auth.get("view") == "wallboard"):  # a wallboard answers no calls
            _heartbeat()
        join_room(staff_room(current_user.id))
        if current_user.role in ("supervisor", "admin"):
            join_room(SUPERVISORS_ROOM)
        emit("snapshot", _snapshot())

    def on_disconnect(self, reason=None):
        # Presence is left alone: a dropped connection usually comes straight back.
        _epochs.pop(request.sid, None)
        sessions.socket_watch(current_app._get_current_object()).closed(request.sid)

    @console_event
    def on_snapshot(self, data):
        """The whole console for this agent."""
        return _snapshot()

    @console_event
    def on_heartbeat(self, data):
        """The console is open and connected: its agent is counted as on duty."""
        _heartbeat()
        return {}

    @console_event
    def on_available(self, data):
        """`{available: bool, reason}`: take calls, or step away (break, lunch, training, meeting, other)."""
        available = data.get("available")
        if not isinstance(available, bool):
            raise Refused("Choose available or away.")
        app = current_app
        if available:
            acd.set_available(db.session, app.presence, app.offers, _agent(), ledger.now())
        else:
            reason = data.get("reason") if isinstance(data.get("reason"), str) else "other"
            acd.set_away(db.session, app.presence, app.offers, _agent(), reason or "other", ledger.now())
        db.session.commit()
        snapshot = _snapshot()
        app.console.queue_changed()
        app.console.desk_changed(_agent())
        return {"me": snapshot["me"]}

    @console_event
    def on_accept(self, data):
        """`{call_id}`: answer the call ringing on this console; it is this agent's alone."""
        call_id = _id(data, "call_id", "the ringing call")
        app = current_app
        try:
            call = acd.accept(db.session, app.call_queue, app.presence, app.offers, app.gateway, call_id, _agent(),
                              public_url(f"/ivr/connect/{call_id}"), ledger.now())
            db.session.commit()
        finally:
            # Taken, or back in the queue after a failed redirect: either way every console should know.
            app.console.queue_changed()
        view = read_model.call_view(db.session, call)
        app.console.desk_changed(_agent())
        return {"call": view}

    @console_event
    def on_decline(self, data):
        """`{call_id}`: let the ringing call go to the next agent; the caller keeps their place."""
        call_id = _id(data, "call_id", "the ringing call")
        acd.decline(db.session, current_app.presence, current_app.offers, call_id, _agent(), ledger.now())
        db.session.commit()
        current_app.console.desk_changed(_agent())
        return {}

    @console_event
    def on_assign(self, data):
        """`{call_id, agent_id}` (supervisors): ring this waiting caller on that agent's console."""
        call_id = _id(data, "call_id", "a caller from the queue")
        agent_id = _id(data, "agent_id", "an agent")
        app = current_app
        offer = acd.assign(db.session, app.call_queue, app.presence, app.offers, call_id, agent_id, _agent(),
                           ledger.now(), app.acd)
        db.session.commit()
        app.console.offer_rings(offer)
        app.console.queue_changed()
        return {"offer_id": offer.id}

    @console_event
    def on_set_agent_away(self, data):
        """`{agent_id, reason}` (supervisors): that agent is offered no more calls; a ringing one moves on."""
        agent_id = _id(data, "agent_id", "an agent")
        reason = data.get("reason") if isinstance(data.get("reason"), str) else "other"
        app = current_app
        agent = acd.set_away_by(db.session, app.presence, app.offers, _agent(), agent_id, reason or "other",
                                ledger.now())
        db.session.commit()
        app.console.desk_changed(agent)
        app.console.queue_changed()
        return {}

    @console_event
    def on_log_agent_out(self, data):
        """`{agent_id}` (supervisors): end that agent's sessions and close their consoles, in every web process."""
        supervisor, app = _agent(), current_app
        agent = acd.steerable(db.session, supervisor, _id(data, "agent_id", "an agent"))
        try:
            acd.may_log_out(db.session, app.presence, app.offers, agent, ledger.now())
        finally:  # set away even when refused: their console, and the floor, show it
            app.console.queue_changed()
            app.console.desk_changed(agent)
        signin.log_out_everywhere(db.session, agent.email, f"supervisor {supervisor.email}")
        db.session.add(AuditEntry(user_id=supervisor.id, action="log_out", object_type="agent", object_id=agent.id))
        db.session.commit()
        current_app.end_staff_session(agent.id)
        current_app.console.queue_changed()
        current_app.console.tell_supervisors(f"{agent.name} was logged out by {supervisor.name}.")
        return {}

    @console_event
    def on_hangup(self, data):
        """`{call_id}`: end the conversation; the caller hears goodbye."""
        call_id = _id(data, "call_id", "your call")
        desk.hang_up(db.session, current_app.gateway, call_id, _agent(), public_url("/ivr/goodbye"))
        db.session.commit()
        current_app.console.desk_changed(_agent())
        return {}

    @console_event
    def on_transfer(self, data):
        """`{call_id}`: put the caller through to the clinician on call now; then wrap up ("transferred")."""
        call_id = _id(data, "call_id", "your call")
        shift = desk.transfer_to_on_call(db.session, current_app.gateway, call_id, _agent(),
                                         public_url(f"/ivr/transfer/{call_id}"), ledger.now())
        db.session.commit()
        current_app.console.desk_changed(_agent())
        return {"clinician": shift.clinician_name}

    @console_event
    def on_hold(self, data):
        """`{call_id, hold}`: put the caller on hold (they hear music) or go back to them."""
        call_id = _id(data, "call_id", "your call")
        if data.get("hold") is False:
            consult.resume(db.session, current_app.gateway, call_id, _agent(), consult_urls(call_id))
        else:
            consult.hold(db.session, current_app.gateway, call_id, _agent(), consult_urls(call_id))
        db.session.commit()
        current_app.console.desk_changed(_agent())
        return {}

    @console_event
    def on_consult(self, data):
        """`{call_id}`: warm transfer, first step: the caller holds while the clinician on call now rings."""
        call_id = _id(data, "call_id", "your call")
        shift = consult.consult(db.session, current_app.gateway, call_id, _agent(), consult_urls(call_id),
                                ledger.now())
        db.session.commit()
        current_app.console.desk_changed(_agent())
        return {"clinician": shift.clinician_name}

    @console_event
    def on_complete_transfer(self, data):
        """`{call_id}`: the clinician the agent is talking to goes through to the caller; the agent leaves."""
        call_id = _id(data, "call_id", "your call")
        agent = _agent()
        clinician = consult.complete_transfer(db.session, current_app.gateway, call_id, agent,
                                              consult_urls(call_id)["clinician_joins"])
        acd.call_ended(db.session, current_app.presence, agent.id, call_id, ledger.now())
        db.session.commit()
        current_app.console.desk_changed(agent)
        return {"clinician": clinician}

    @console_event
    def on_wrap_up(self, data):
        """`{call_id, disposition, notes, message, caller_name, callback_number, callback_confirmed, urgency}`."""
        call_id = _id(data, "call_id", "your call")
        fields = {key: data.get(key) if isinstance(data.get(key), str) else ""
                  for key in ("disposition", "notes", "message", "caller_name", "callback_number", "urgency")}
        fields["urgency"] = fields["urgency"] or "routine"
        fields["callback_confirmed"] = data.get("callback_confirmed") is True
        saved = desk.finish_call(db.session, current_app.presence, call_id, _agent(), ledger.now(), **fields)
        acd.wrapped_up(db.session, current_app.presence, current_app.offers, _agent(), ledger.now())
        db.session.commit()
        if saved is not None and saved.urgency == "urgent":
            _page_on_call(saved)
        current_app.console.queue_changed()
        current_app.console.desk_changed(_agent())
        return {"message_id": saved.id if saved else None}

    @console_event
    def on_take_over(self, data):
        """`{call_id}` (supervisors): a wrap-up past its limit moves to this supervisor's desk."""
        call_id = _id(data, "call_id", "a call from the worklist")
        call = desk.take_over_wrap_up(db.session, call_id, _agent())
        db.session.commit()
        current_app.console.desk_changed(_agent())
        current_app.console.worklist_changed()
        return {"call": read_model.call_view(db.session, call)}

    @console_event
    def on_take_item(self, data):
        """`{item_id}` (supervisors): this call nobody owned is theirs now."""
        item = worklist.take(db.session, _id(data, "item_id", "a worklist item"), _agent(), ledger.now())
        db.session.commit()
        current_app.console.worklist_changed()
        return {"item_id": item.id}

    @console_event
    def on_resolve_item(self, data):
        """`{item_id, note}` (the item's owner): what was done; the call's outcome is theirs."""
        note = data.get("note") if isinstance(data.get("note"), str) else ""
        item = worklist.resolve(db.session, _id(data, "item_id", "a worklist item"), _agent(), note, ledger.now())
        db.session.commit()
        current_app.console.worklist_changed()
        return {"item_id": item.id}

    @console_event
    def on_handle_page(self, data):
        """`{page_id}` (supervisors): "I'm handling it", for an urgent page nobody acknowledged."""
        page_id = _id(data, "page_id", "a page")
        page = desk.handle_page(db.session, page_id, _agent(), ledger.now())
        db.session.commit()
        current_app.console.pages_changed()
        return {"page_id": page.id}

    @console_event
    def on_complete_callback(self, data):
        """`{task_id}`: the patient has been called back."""
        task_id = _id(data, "task_id", "a callback")
        desk.complete_callback(db.session, task_id, _agent(), ledger.now())
        db.session.commit()
        current_app.console.callbacks_changed()
        return {"task_id": task_id}

    @console_event
    def on_review_voicemail(self, data):
        """`{message_id}`: someone listened to the voicemail and acted on it."""
        message_id = _id(data, "message_id", "a voicemail")
        desk.review_voicemail(db.session, message_id, _agent())
        db.session.commit()
        current_app.console.voicemails_changed()
        return {"message_id": message_id}


def register(state) -> None:
    """Attach the console's namespace to the app's Socket.IO server (blueprint registration hook)."""
    socketio.on_namespace(ConsoleNamespace(NAMESPACE))
