"""The practice portal: a practice's own staff read their calls and messages.

Answering-service staff get 403 here in this version; they have the console.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import select

from callcenter import digests as digests_rules
from callcenter import labels, schedule, surveys
from callcenter.extensions import db
from callcenter.figures import practice_day
from callcenter.gateway import GatewayError
from callcenter.models import PRACTICE_ROLES, Digest, OnCallRotation, User
from callcenter.scoping import CALL_STATES, UNDO_SECONDS, PracticeScope, ScopeRefused

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
    if current_user.role not in PRACTICE_ROLES or current_user.practice_id is None:
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

    def local_day_time(value: datetime) -> str:
        local = value.astimezone(g.tz)
        return f"{local:%a %d %b} {_clock(local)}"

    def local_clock(value) -> str:
        return _clock(value)

    return {"local_time": local_time, "local_day_time": local_day_time, "local_clock": local_clock,
            "label": labels.label, "page_url": page_url}


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


@portal_bp.get("/dashboard")
def dashboard():
    """Today's service (or another day's): calls, answer speed, service level, abandonment, callbacks owed,
    messages and how fast they were acknowledged, with the calls of each hour as a chart."""
    errors = []
    today = datetime.now(g.tz).date()
    asked = request.args.get("day") or today.isoformat()
    try:
        day, end = params.local_day("Day", asked, g.tz), params.local_day("Day", asked, g.tz, end=True)
    except params.BadParameter as exc:
        errors.append(str(exc))
        day, end = params.local_day("Day", today.isoformat(), g.tz), params.local_day("Day", today.isoformat(),
                                                                                       g.tz, end=True)
    local = day.astimezone(g.tz)
    figures = practice_day(db.session, g.practice.id, day, end, g.tz)
    peak = max([row["arrivals"] for row in figures["by_hour"]] + [1])
    satisfaction = surveys.average(db.session, g.practice.id, datetime.now(UTC) - timedelta(days=30))
    return render_template("portal/dashboard.html", figures=figures, day=local.date(), today=today, peak=peak,
                           errors=errors, satisfaction=satisfaction)


@portal_bp.get("/digests")
def digests():
    """The practice's daily digests, newest first (the last 30)."""
    found = db.session.scalars(select(Digest).where(Digest.practice_id == g.practice.id)
                               .order_by(Digest.period_end.desc()).limit(30)).all()
    return render_template("portal/digests.html", digests=found, mail=bool(current_app.config.get("SMTP_URL")),
                           gave_up=datetime.now(UTC) - digests_rules.GIVE_UP_AFTER)


@portal_bp.get("/on-call")
def on_call():
    """Who is on call (and who backs them up) for the week ahead, and when nobody is while the practice
    is closed; the weekly rotations, which the practice's admin adds and removes here."""
    return on_call_page()


def on_call_page(typed: dict | None = None, status: int = 200):
    now = datetime.now(UTC)
    end = now + timedelta(days=7)  # the worker fills the rotations in two weeks ahead (this page only reads)
    rotations = db.session.scalars(select(OnCallRotation).where(OnCallRotation.practice_id == g.practice.id)
                                   .order_by(OnCallRotation.id)).all()
    can_edit = current_user.role == "practice_admin"
    return render_template("portal/on_call.html", shifts=schedule.shifts(db.session, g.practice.id, now, end),
                           gaps=schedule.gaps(db.session, g.practice, now, end),
                           overlaps=schedule.overlaps(db.session, g.practice.id, now, end),
                           conflicts=schedule.conflicts(db.session, g.practice.id, now, end),
                           # The clinicians' numbers are for the admin who sets them, not needed by the staff.
                           rotations=[(r, schedule.rotation_words(r, numbers=can_edit)) for r in rotations],
                           typed=typed or {}, can_edit=can_edit), status


@portal_bp.get("/calls/<call_id>")
def call(call_id: str):
    """One call: its timeline, wrap-up and messages."""
    found = g.scope.call(params.object_id(call_id))
    if found is None:
        db.session.commit()  # a look at another practice's is audited as refused
        abort(404)
    html = render_template("portal/call.html", call=found, messages=g.scope.messages_for_call(found),
                           recordings=g.scope.recordings_for_call(found), staff_names=_staff_names(found))
    db.session.commit()
    return html


@portal_bp.get("/messages/<message_id>/recording")
def voicemail_recording(message_id: str):
    """A voicemail's audio, fetched from Twilio with the account's credentials (only this account's
    recordings are ever fetched); each playback is audited."""
    message = g.scope.voicemail_to_play(params.object_id(message_id))
    db.session.commit()
    if message is None or not current_app.gateway.is_recording_url(message.recording_url):
        abort(404)
    try:
        audio, content_type = current_app.gateway.recording_audio(message.recording_url)
    except GatewayError:
        return Response("Twilio did not give the recording. Try again in a minute.\n", status=502,
                        mimetype="text/plain")
    return Response(audio, mimetype=content_type)


@portal_bp.get("/calls/<call_id>/recordings/<recording_id>")
def call_recording(call_id: str, recording_id: str):
    """A recorded conversation's audio, from the service's own copy; each playback is audited."""
    recording = g.scope.recording_to_play(params.object_id(call_id), params.object_id(recording_id))
    db.session.commit()  # the playback (or a refused look at another practice's) is audited first
    if recording is None:
        abort(404)
    return Response(recording.audio, mimetype=recording.content_type or "audio/x-wav",
                    headers={"Content-Disposition": f'inline; filename="call-{recording.call_id}-{recording.id}.wav"'})


def _staff_names(call) -> dict[int, str]:
    """Names of the answering-service staff a call's events mention, to show instead of their ids."""
    ids = {e.actor_id for e in call.events if e.actor_id}
    ids |= {e.data["agent"] for e in call.events if isinstance((e.data or {}).get("agent"), int)}
    if not ids:
        return {}
    return {u.id: u.name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def _message_filters() -> tuple[dict, list[str]]:
    found, errors = _filters(with_status=False)
    del found["status"]
    try:
        found["acknowledged"] = params.acknowledged(request.args.get("acknowledged"))
    except params.BadParameter as exc:
        errors.append(str(exc))
        found["acknowledged"] = None
    return found, errors


@portal_bp.get("/messages")
def messages():
    """The practice's messages, urgent ones first."""
    found, errors = _message_filters()
    page = g.scope.messages(**found, urgent_first=True)
    export_args = {k: v for k, v in request.args.items() if k != "page"}
    html = render_template("portal/messages.html", page=page, errors=errors, args=request.args,
                           export_url=url_for("portal.messages_csv", **export_args), with_acknowledged=True)
    db.session.commit()
    return html


CSV_COLUMNS = ["received", "urgency", "caller", "callback_number", "message", "taken_by", "acknowledged",
               "acknowledged_by", "call_id"]


def _cell(text: str | None) -> str:
    """Free text as a spreadsheet shows it, never as a formula it runs (a caller's name "=HYPERLINK(...)")."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@portal_bp.get("/messages.csv")
def messages_csv():
    """The filtered messages as CSV, oldest first, streamed a chunk at a time; each exported row is audited."""
    found, errors = _message_filters()
    if errors:  # never the whole history instead of what was asked for
        return Response("Nothing exported: " + "; ".join(errors) + "\n", status=400, mimetype="text/plain")
    found.pop("page", None)
    scope, tz = g.scope, g.tz

    def rows():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for chunk in scope.messages_to_export(**found):
            for m in chunk:
                writer.writerow([
                    m.created_at.astimezone(tz).isoformat(timespec="seconds"), m.urgency, _cell(m.caller_name),
                    m.callback_number or "", _cell(m.body), m.taken_by.name if m.taken_by else "voicemail",
                    m.acknowledged_at.astimezone(tz).isoformat(timespec="seconds") if m.acknowledged_at else "",
                    m.acknowledged_by.email if m.acknowledged_by else ("API" if m.acknowledged_by_key_id else ""),
                    m.call_id or ""])
            db.session.commit()  # this chunk's audit entries
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        yield out.getvalue()

    day = datetime.now(tz).date().isoformat()
    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="messages-{day}.csv"'})


def _back(default: str) -> str:
    """Where a form came from, when it is a page of this portal."""
    target = request.form.get("next", "")
    return target if target.startswith("/portal/") and "//" not in target else default


@portal_bp.post("/messages/acknowledge")
def acknowledge_messages():
    """Acknowledge the messages ticked on the list."""
    ids = [int(v) for v in request.form.getlist("message_id") if v.isdigit() and len(v) < 10]
    done = g.scope.acknowledge(ids, datetime.now(UTC))
    db.session.commit()
    if not ids:
        flash("Tick the messages to acknowledge first.", "error")
    else:
        flash(f"{len(done)} message{'s' if len(done) != 1 else ''} acknowledged.", "ok")
    return redirect(_back(url_for("portal.messages")))


@portal_bp.post("/messages/<message_id>/acknowledge")
def acknowledge_message(message_id: str):
    found = g.scope.message(params.object_id(message_id))
    if found is None:
        db.session.commit()
        abort(404)
    if g.scope.acknowledge([found.id], datetime.now(UTC)):
        flash("Acknowledged. You can undo this for a minute.", "ok")
    db.session.commit()
    return redirect(url_for("portal.message", message_id=found.id))


@portal_bp.post("/messages/<message_id>/undo")
def undo_acknowledge(message_id: str):
    try:
        found = g.scope.undo_acknowledge(params.object_id(message_id), datetime.now(UTC))
    except ScopeRefused as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("portal.message", message_id=message_id))
    db.session.commit()
    flash("The acknowledgement is undone.", "ok")
    return redirect(url_for("portal.message", message_id=found.id))


@portal_bp.get("/messages/<message_id>")
def message(message_id: str):
    """One message."""
    found = g.scope.message(params.object_id(message_id))
    if found is None:
        db.session.commit()  # a look at another practice's is audited as refused
        abort(404)
    can_undo = (found.acknowledged_by_id == current_user.id and found.acknowledged_at is not None
                and (datetime.now(UTC) - found.acknowledged_at).total_seconds() <= UNDO_SECONDS)
    html = render_template("portal/message.html", message=found, can_undo=can_undo)
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
