"""A practice's own admin runs its account in the portal: settings, business hours and holidays, and the
on-call rotations. Every change goes through the same domain rules as the command line
(`callcenter.practice_settings`, `callcenter.schedule`), is refused with a clear message that keeps what
was typed, and is kept with who made it and each field before and after (`PracticeChange`). The IVR reads
a practice through a cache each web process empties when it changes a practice, and others after at most
`practice_directory.TTL` seconds; the consoles read instructions when a call is shown.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from callcenter import outbound, schedule, signin
from callcenter.accounts import AccountError, create_user
from callcenter.extensions import db
from callcenter.labels import REASON_LABELS
from callcenter.menu import DEFAULT_OPTIONS
from callcenter.models import OnCallRotation, PracticeChange, User
from callcenter.practice_directory import TTL
from callcenter.practice_settings import (
    DAY_NAMES,
    MAX_MAX_WAIT,
    MIN_MAX_WAIT,
    WEEKDAYS,
    SettingsError,
    change_hours,
    change_settings,
    hours_of,
    parse_week,
    record_change,
    values_of,
)

from . import params, portal_bp
from .views import on_call_page

ALWAYS_OFFERED = ("urgent", "operator")
OPTIONAL = tuple(o for o in DEFAULT_OPTIONS if o not in ALWAYS_OFFERED)
OPTION_WORDS = {**REASON_LABELS, "message": "Leave a message", "appointment": "Appointments",
                "refill": "Prescription refills", "billing": "Billing", "urgent": "Urgent: a nurse or doctor",
                "operator": "Speak to someone"}
HISTORY = 30  # changes shown under the settings


def _admin_only() -> None:
    if current_user.role != "practice_admin":
        abort(403)


def _own(model, raw_id: str):
    """This practice's row of `model` named in the URL, for its admin: another practice's is as missing as one
    that never was (404, first), and a practice's staff get 403 for their own."""
    found = db.session.get(model, params.object_id(raw_id))
    if found is None or found.practice_id != g.practice.id:
        abort(404)
    _admin_only()
    return found


def _who() -> str:
    return f"{current_user.name} ({current_user.email}), portal"


def _page(values: dict, hours: dict, status: int = 200):
    changes = db.session.scalars(select(PracticeChange).where(PracticeChange.practice_id == g.practice.id)
                                 .order_by(PracticeChange.at.desc(), PracticeChange.id.desc()).limit(HISTORY)).all()
    return render_template("portal/settings.html", section="settings", values=values, hours=hours, changes=changes,
                           optional=OPTIONAL, always=ALWAYS_OFFERED, option_words=OPTION_WORDS,
                           weekdays=list(zip(WEEKDAYS, DAY_NAMES, strict=True)), min_wait=MIN_MAX_WAIT // 60,
                           max_wait=MAX_MAX_WAIT // 60,
                           service_delays=[current_app.config[key] // 60 for key in (
                               "PAGE_CALL_DOWN_AFTER", "PAGE_BACKUP_AFTER", "PAGE_SUPERVISOR_AFTER")]), status


@portal_bp.get("/settings")
def settings():
    """The practice's settings, hours and the changes made to them (practice admins)."""
    _admin_only()
    return _page(values_of(g.practice), hours_of(g.practice))


def _whole_number(raw: str | None, what: str) -> int:
    try:
        return int((raw or "").strip())
    except ValueError:
        raise SettingsError(f"{what} is a whole number (not {raw!r})") from None


def _max_wait(form) -> int | None:
    """The longest wait in seconds, from the minutes typed; None (as it is) when the minutes shown were left
    as they were, so that a wait of 90 s set on the command line is not rounded by saving something else."""
    minutes = _whole_number(form.get("max_wait_minutes"), "The longest wait in minutes")
    if form.get("max_wait_shown") == str(minutes):
        return None
    return minutes * 60


def _choices(form) -> tuple[list[str], list[str], list[str]]:
    """The menu options ticked (with those always offered), the languages, and the three page delays typed."""
    options = [*ALWAYS_OFFERED, *(o for o in OPTIONAL if form.get(f"option_{o}"))]
    languages = ["en", "es"] if form.get("spanish") else ["en"]
    delays = [form.get(f"page_{step}", "").strip() for step in ("call_down", "backup", "supervisors")]
    return options, languages, delays


def _settings_from(form) -> dict:
    """The settings as `change_settings` takes them, from the form (checked by the domain's own rules)."""
    options, languages, delays = _choices(form)
    return {
        "greeting": form.get("greeting", ""),
        "instructions": form.get("instructions", ""),
        "options": options,
        "languages": languages,
        "max_wait": _max_wait(form),
        "emergency_number": form.get("emergency_number", "").strip(),
        "page_minutes": ",".join(delays) if any(delays) else "",
        "digest_at": form.get("digest_at", "").strip() or "07:00",
        "digest_emails": form.get("digest_emails", ""),
        "survey": bool(form.get("survey")),
        "sms_names_practice": bool(form.get("sms_names_practice")),
        "records_calls": bool(form.get("records_calls")),
        "recording_retention_days": _whole_number(form.get("recording_retention_days") or "0",
                                                  "The days recordings are kept"),
    }


def _as_typed(form) -> dict:
    """What the admin typed, shown again when it is refused: nothing they typed is lost."""
    options, languages, delays = _choices(form)
    return {"greeting": form.get("greeting", ""), "instructions": form.get("instructions", ""),
            "menu_options": options, "languages": languages, "max_wait_minutes": form.get("max_wait_minutes", ""),
            "emergency_number": form.get("emergency_number", ""),
            "page_minutes": ",".join(delays) if any(delays) else None, "digest_at": form.get("digest_at", ""),
            "digest_emails": form.get("digest_emails", ""), "survey_enabled": bool(form.get("survey")),
            "sms_names_practice": bool(form.get("sms_names_practice")),
            "records_calls": bool(form.get("records_calls")),
            "recording_retention_days": form.get("recording_retention_days", "")}


# The IVR reads a practice through each web process's cache (callcenter/practice_directory.py): the process
# that saved a change has it at once, the others within their cache's TTL.
NEXT_CALLS = f"Calls from now on get it (on every web process within {TTL:g} seconds)."


def _saved(change: PracticeChange | None, then: str = NEXT_CALLS) -> None:
    if change is None:
        flash("Nothing had changed.", "ok")
    else:
        flash("Saved: " + ", ".join(sorted(change.changes)).replace("_", " ") + ". " + then, "ok")


@portal_bp.post("/settings")
def settings_save():
    """Greeting, menu, languages, longest wait, instructions, the emergency line, page delays, digest, texts."""
    _admin_only()
    try:
        _, change = change_settings(db.session, g.practice.id, by=_who(), user_id=current_user.id,
                                    **_settings_from(request.form))
        db.session.commit()
    except SettingsError as exc:
        db.session.rollback()
        flash(f"Nothing was saved: {exc}.", "error")
        return _page(_as_typed(request.form), hours_of(g.practice), 400)
    _saved(change)
    return redirect(url_for("portal.settings"))


@portal_bp.post("/settings/hours")
def hours_save():
    """Opening periods for each day, and closed dates added or removed."""
    _admin_only()
    week = {day: request.form.get(f"hours_{day}", "") for day in WEEKDAYS}
    try:
        _, change = change_hours(db.session, g.practice.id, parse_week(week),
                                 add_holidays=[d for d in [request.form.get("add_holiday", "").strip()] if d],
                                 remove_holidays=request.form.getlist("remove_holiday"), by=_who(),
                                 user_id=current_user.id)
        db.session.commit()
    except SettingsError as exc:
        db.session.rollback()
        flash(f"Nothing was saved: {exc}.", "error")
        typed = {**hours_of(g.practice), **week, "add_holiday": request.form.get("add_holiday", "")}
        return _page(values_of(g.practice), typed, 400)
    _saved(change, f"Calls from now on are answered by these hours (on every web process within {TTL:g} seconds).")
    return redirect(url_for("portal.settings") + "#hours")


@portal_bp.post("/on-call/rotations")
def rotation_add():
    """A weekly on-call slot: its shifts for the next two weeks appear at once, then by the worker."""
    _admin_only()
    form = request.form
    try:
        schedule.add_rotation(db.session, g.practice.id, form.get("name", "").strip(), form.get("number", ""),
                              form.get("days", "").strip(), form.get("hours", "").strip(),
                              backup_name=form.get("backup_name", "").strip() or None,
                              backup_number=form.get("backup_number", "").strip() or None, by=_who(),
                              user_id=current_user.id)
        db.session.commit()
    except SettingsError as exc:
        db.session.rollback()
        flash(f"The rotation was not added: {exc}.", "error")
        return on_call_page({k: form.get(k, "") for k in ("name", "number", "days", "hours", "backup_name",
                                                           "backup_number")}, 400)
    flash("The rotation is added.", "ok")
    return redirect(url_for("portal.on_call") + "#rotations")


@portal_bp.post("/on-call/rotations/<rotation_id>/remove")
def rotation_remove(rotation_id: str):
    """End a rotation now: its shifts still to come go, those that began stay."""
    found = _own(OnCallRotation, rotation_id)
    schedule.remove_rotation(db.session, found.id, datetime.now(UTC), practice_id=g.practice.id, by=_who(),
                             user_id=current_user.id)
    db.session.commit()
    flash("The rotation is removed; its shifts still to come are gone.", "ok")
    return redirect(url_for("portal.on_call") + "#rotations")


# The practice's own system: outbound webhooks ------------------------------------------------------------

def _webhooks_page(typed_url: str | None = None, status: int = 200):
    return render_template("portal/webhooks.html", section="webhooks", practice=g.practice,
                           url=g.practice.webhook_url if typed_url is None else typed_url,
                           deliveries=outbound.recent(db.session, g.practice.id), backoff=outbound.BACKOFF), status


@portal_bp.get("/webhooks")
def webhooks():
    """Where messages taken and acknowledged are sent, the secret they are signed with, and the deliveries."""
    _admin_only()
    return _webhooks_page()


@portal_bp.post("/webhooks")
def webhooks_save():
    _admin_only()
    url = request.form.get("url", "")
    try:
        outbound.set_webhook(db.session, g.practice.id, url, allow_private=current_app.config["WEBHOOKS_ALLOW_PRIVATE"],
                             by=_who(), user_id=current_user.id)
        db.session.commit()
    except SettingsError as exc:
        db.session.rollback()
        flash(f"Nothing was saved: {exc}.", "error")
        return _webhooks_page(url, 400)
    flash("Saved: messages taken and acknowledged are sent there from now on." if g.practice.webhook_url
          else "Saved: nothing is sent to your system any more.", "ok")
    return redirect(url_for("portal.webhooks"))


@portal_bp.post("/webhooks/secret")
def webhooks_secret():
    _admin_only()
    outbound.new_webhook_secret(db.session, g.practice.id, by=_who(), user_id=current_user.id)
    db.session.commit()
    flash("A new secret: deliveries from now on are signed with it. Give it to your system now.", "ok")
    return redirect(url_for("portal.webhooks"))


@portal_bp.post("/webhooks/test")
def webhooks_test():
    _admin_only()
    try:
        outbound.send_test(db.session, g.practice.id)
        db.session.commit()
    except SettingsError as exc:
        db.session.rollback()
        flash(f"No test was sent: {exc}.", "error")
        return redirect(url_for("portal.webhooks"))
    flash("A test event is on its way: reload this page in a few seconds to see how its delivery went.", "ok")
    return redirect(url_for("portal.webhooks"))


# The practice's own people ----------------------------------------------------------------------------

PORTAL_ROLES = {"practice": "Staff: reads calls and messages, acknowledges messages",
                "practice_admin": "Admin: also the settings, hours, on call, webhooks and people"}


def _users_page(typed: dict | None = None, status: int = 200):
    people = db.session.scalars(select(User).where(User.practice_id == g.practice.id)
                                .order_by(User.active.desc(), User.email)).all()
    return render_template("portal/users.html", section="users", people=people, roles=PORTAL_ROLES,
                           typed=typed or {}), status


@portal_bp.get("/users")
def users():
    """The practice's own sign-ins: who can read its calls and messages, and who can change its settings."""
    _admin_only()
    return _users_page()


@portal_bp.post("/users")
def user_add():
    _admin_only()
    form = request.form
    email, name, role = form.get("email", "").strip(), form.get("name", "").strip(), form.get("role", "")
    try:
        if role not in PORTAL_ROLES:
            raise AccountError("choose staff or admin")
        user = create_user(db.session, email, form.get("password", ""), role, g.practice.id, name or None)
        record_change(db.session, g.practice, "people", {}, {user.email: PORTAL_ROLES[role].split(":")[0]}, _who(),
                      current_user.id)
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        flash(f"Nobody was added: {exc}.", "error")
        return _users_page({"email": email, "name": name, "role": role}, 400)
    second_step = ("they set up two-factor sign-in at their first sign-in" if role == "practice_admin"
                   else "ask them to turn on two-factor sign-in")
    flash(f"{user.email} can sign in now, with the password you chose: tell them, and {second_step}.", "ok")
    return redirect(url_for("portal.users"))


@portal_bp.post("/users/<user_id>/disable")
def user_disable(user_id: str):
    """The person can no longer sign in, and their sessions end at once."""
    found = _own(User, user_id)
    if found.id == current_user.id:
        flash("You cannot disable your own sign-in: ask another admin of your practice.", "error")
        return redirect(url_for("portal.users"))
    signin.disable(db.session, found.email, _who())
    record_change(db.session, g.practice, "people", {found.email: "can sign in"}, {found.email: "disabled"}, _who(),
                  current_user.id)
    db.session.commit()
    flash(f"{found.email} can no longer sign in; their sessions have ended.", "ok")
    return redirect(url_for("portal.users"))
