"""The practice portal: a practice's own staff read their calls and messages.

Answering-service staff get 403 here in this version; they have the console.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import abort, g, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from callcenter import labels
from callcenter.extensions import db
from callcenter.models import User
from callcenter.scoping import CALL_STATES, PracticeScope

from . import params, portal_bp


def _clock(value: datetime, seconds: bool = False) -> str:
    hour = value.hour % 12 or 12
    tail = f":{value:%S}" if seconds else ""
    return f"{hour}:{value:%M}{tail} {value:%p}"


@portal_bp.before_request
def practice_staff_only():
    """Log in first; then only a practice's own staff, bound to their practice."""
    if request.endpoint == "portal.static":  # the login page needs the stylesheet
        return None
    return _bind_practice()


@login_required
def _bind_practice():
    if current_user.role != "practice" or current_user.practice_id is None:
        abort(403)
    g.practice = current_user.practice
    g.tz = ZoneInfo(g.practice.timezone)
    g.scope = PracticeScope(db.session, current_user.practice_id, user_id=current_user.id)
    return None


@portal_bp.after_request
def no_store(response):
    # Patient data: never kept by the browser's or a proxy's cache.
    if request.endpoint != "portal.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@portal_bp.context_processor
def helpers():
    def local_time(value: datetime | None, seconds: bool = False) -> str:
        """A time in the practice's own timezone, e.g. "Nov 27, 2026 9:31 AM"."""
        if value is None:
            return ""
        local = value.astimezone(getattr(g, "tz", UTC))
        return f"{local:%b} {local.day}, {local:%Y} {_clock(local, seconds)}"

    def page_url(number: int) -> str:
        args = request.args.to_dict()
        args["page"] = str(number)
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    return {"local_time": local_time, "label": labels.label, "page_url": page_url}


def _filters(with_status: bool) -> tuple[dict, list[str]]:
    """Read the filter form; a bad field is reported and ignored rather than failing the page."""
    found: dict = {"since": None, "until": None, "status": None, "page": 1}
    errors = []
    readers = [
        ("since", lambda: params.local_day("From", request.args.get("from"), g.tz)),
        ("until", lambda: params.local_day("To", request.args.get("to"), g.tz, end=True)),
        ("page", lambda: params.page_number(request.args.get("page"))),
    ]
    if with_status:
        readers.append(("status", lambda: params.call_status(request.args.get("status"))))
    for key, read in readers:
        try:
            value = read()
        except params.BadParameter as exc:
            errors.append(str(exc))
            continue
        if value is not None:
            found[key] = value
    try:
        params.time_range(found["since"], found["until"], "To")
    except params.BadParameter as exc:
        errors.append(str(exc))
        found["until"] = None
    return found, errors


@portal_bp.get("/")
def calls():
    """The practice's calls, newest first, filtered by date range and status."""
    found, errors = _filters(with_status=True)
    page = g.scope.calls(**found)
    html = render_template("portal/calls.html", page=page, errors=errors, states=CALL_STATES,
                           args=request.args)
    db.session.commit()  # the audit entries
    return html


@portal_bp.get("/calls/<call_id>")
def call(call_id: str):
    """One call: its timeline, wrap-up and messages."""
    found = g.scope.call(params.object_id(call_id))
    if found is None:
        db.session.commit()  # a look at another practice's is audited as refused
        abort(404)
    html = render_template("portal/call.html", call=found, messages=g.scope.messages_for_call(found),
                           staff_names=_staff_names(found))
    db.session.commit()
    return html


def _staff_names(call) -> dict[int, str]:
    """Names of the answering-service staff a call's events mention, to show instead of their ids."""
    ids = {e.actor_id for e in call.events if e.actor_id}
    ids |= {e.data["agent"] for e in call.events if isinstance((e.data or {}).get("agent"), int)}
    if not ids:
        return {}
    return {u.id: u.name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


@portal_bp.get("/messages")
def messages():
    """The practice's messages, urgent ones first."""
    found, errors = _filters(with_status=False)
    del found["status"]
    page = g.scope.messages(**found, urgent_first=True)
    html = render_template("portal/messages.html", page=page, errors=errors, args=request.args)
    db.session.commit()
    return html


@portal_bp.get("/messages/<message_id>")
def message(message_id: str):
    """One message."""
    found = g.scope.message(params.object_id(message_id))
    if found is None:
        db.session.commit()  # a look at another practice's is audited as refused
        abort(404)
    html = render_template("portal/message.html", message=found)
    db.session.commit()
    return html


@portal_bp.errorhandler(403)
def forbidden(_exc):
    return render_template("portal/error.html", title="Not available",
                           text="The practice portal is for a practice's own staff."), 403


@portal_bp.errorhandler(404)
def not_found(_exc):
    # The same page for a missing id and another practice's id.
    return render_template("portal/error.html", title="Not found",
                           text="There is nothing here. It may have been moved, or the link is wrong."), 404
