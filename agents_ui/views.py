"""The console page and the keepalive that holds the agent's session open while they work."""

from flask import Response, abort, current_app, g, jsonify, render_template, request
from flask_login import current_user, login_required

from callcenter import ledger, voice_tokens
from callcenter.acd import AGENT_AWAY_REASONS
from callcenter.calls import DISPOSITIONS
from callcenter.extensions import csrf, db
from callcenter.figures import SERVICE_LEVEL_SECONDS
from callcenter.gateway import GatewayError
from callcenter.labels import CONSOLE_WORDS, away_reason_label, disposition_label
from callcenter.models import AuditEntry, Message

from . import bp, sessions, wallboards


@bp.get("/")
@login_required
def console():
    """The live console for agents, supervisors and admins."""
    if not current_user.is_staff:
        abort(403)
    dispositions = [(value, disposition_label(value)) for value in DISPOSITIONS]
    # The words the scripts show (reasons, page statuses, dispositions) come with the page.
    words = {**CONSOLE_WORDS, "dispositions": dict(dispositions)}
    # An agent picks why they step away; the service alone sets "missed offers" and "offline".
    away_reasons = [(r, away_reason_label(r)) for r in AGENT_AWAY_REASONS]
    # Three heartbeats fit in the time after which a silent console is offline.
    heartbeat_ms = int(min(10.0, current_app.acd.offline_after / 3) * 1000)
    return render_template("console.html", dispositions=dispositions, words=words, away_reasons=away_reasons,
                           heartbeat_ms=heartbeat_ms, after_call_limit=current_app.config["AFTER_CALL_WORK_LIMIT"])


@bp.get("/wallboard")
@login_required
def wallboard():
    """The supervisors' wallboard: the floor live (callers waiting, agents by state, pages, worklist) and the
    day's service figures, for a wall screen as well as a laptop."""
    if current_user.role not in ("supervisor", "admin"):
        abort(403)
    return render_template("wallboard.html", words=CONSOLE_WORDS, figures_every_ms=wallboards.FIGURES_EVERY * 1000,
                           service_level_seconds=SERVICE_LEVEL_SECONDS,
                           away_reasons=[(r, away_reason_label(r)) for r in AGENT_AWAY_REASONS])


@bp.get("/wallboard/figures")
@login_required
def wallboard_figures():
    """`?tz=<IANA zone>` (the wall screen's own, by default UTC): today's and the last hour's figures for
    every practice, by hour, and the on-call schedule's gaps until tomorrow morning."""
    if current_user.role not in ("supervisor", "admin"):
        abort(403)
    # The wallboard asks every 30 s on its own: that is not the supervisor at work, so it does not hold their
    # session open (it ends after 30 minutes without activity, as the console's does).
    g.pop("login_session", None)
    try:
        tz = wallboards.zone(request.args.get("tz"))
    except ValueError as exc:
        return jsonify(ok=False, error=str(exc)), 400
    return jsonify(ok=True, **wallboards.board(db.session, tz, ledger.now(),
                                               current_app.extensions.setdefault("wallboard_reads", {})))


@bp.get("/voice-token")
@login_required
def voice_token():
    """An access token for this agent's browser audio, and which device to register it with."""
    if not current_user.is_staff:
        abort(403)
    if current_user.audio_phone:  # calls ring the agent's own phone (flask --app app user audio)
        return jsonify(kind="phone", phone_hint="•••" + current_user.audio_phone[-4:])
    setup = voice_tokens.setup_from_config(current_app.config)
    if setup.kind is None:
        return jsonify(kind=None, error="Browser audio is not set up on this service (TWILIO_API_KEY, "
                                        "TWILIO_API_SECRET): you cannot hear callers in this browser. Tell your "
                                        "supervisor.")
    return jsonify(kind=setup.kind, token=voice_tokens.access_token(setup, current_user.id),
                   identity=voice_tokens.agent_identity(current_user.id), ttl_seconds=voice_tokens.TTL_SECONDS,
                   device_api=setup.device_api or None)


# Exempt from CSRF: it changes nothing but a "last active" time, and a page whose session has
# gone must get a clear 401 (not a CSRF 400) to send the agent to the login.
@bp.post("/keepalive")
@csrf.exempt
def keepalive():
    """The agent is active on the page: refresh their session (and the socket's hold on it)."""
    if not current_user.is_authenticated or not current_user.is_staff:
        return jsonify(ok=False, error="Your session has ended. Please log in again."), 401
    sessions.agent_active(current_user.id)
    return jsonify(ok=True)


@bp.get("/voicemails/<int:message_id>/recording")
@login_required
def voicemail_recording(message_id: int):
    """A voicemail's audio, fetched from Twilio for this staff member; each playback (and each refusal) is
    audited. Only this account's recordings at Twilio are fetched, whatever the stored address says."""
    message = db.session.get(Message, message_id)
    if not current_user.is_staff:
        db.session.add(AuditEntry(user_id=current_user.id, action="refused", object_type="recording",
                                  object_id=message_id, practice_id=message.practice_id if message else None))
        db.session.commit()
        abort(403)
    if message is None or not current_app.gateway.is_recording_url(message.recording_url):
        abort(404)
    db.session.add(AuditEntry(user_id=current_user.id, action="play", object_type="recording", object_id=message.id,
                              practice_id=message.practice_id))
    db.session.commit()
    try:
        audio, content_type = current_app.gateway.recording_audio(message.recording_url)
    except GatewayError:
        return jsonify(error="Twilio did not give the recording. Try again in a minute."), 502
    return Response(audio, mimetype=content_type, headers={"Cache-Control": "private, no-store"})
