"""The answering service's admin area (role admin): staff accounts and practice API keys, in the browser
as on the command line. Each action is one of the same domain functions (`callcenter.signin`,
`callcenter.accounts`), recorded with the admin who did it; ended sessions are refused at once in
every web process, and their consoles are closed by each process's sweep within ten seconds.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from callcenter import signin
from callcenter.accounts import AccountError, revoke_api_key
from callcenter.extensions import db
from callcenter.models import ApiKey, LoginSession, Practice, User

admin_bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

ACTIONS = {
    "unlock": (lambda email, by: (signin.unlock(db.session, email, by), None), "{email} is unlocked."),
    "logout": (lambda email, by: signin.log_out_everywhere(db.session, email, by),
               "{email} is signed out everywhere ({ended} sessions)."),
    "reset-two-factor": (lambda email, by: signin.reset_two_factor(db.session, email, by),
                         "{email} sets up two-factor sign-in again at the next sign-in."),
    "disable": (lambda email, by: signin.disable(db.session, email, by),
                "{email} is disabled and signed out ({ended} sessions)."),
}


@admin_bp.before_request
@login_required
def admins_only():
    if current_user.role != "admin":
        abort(403)


@admin_bp.get("/")
def users():
    """Every staff account, with what can be done to it."""
    sessions = dict(db.session.execute(
        select(LoginSession.user_id, func.count(LoginSession.id)).where(signin.live_sessions())
        .group_by(LoginSession.user_id)).all())
    people = db.session.scalars(select(User).order_by(User.role, User.email)).all()
    practices = {p.id: p.name for p in db.session.scalars(select(Practice))}
    return render_template("admin/users.html", people=people, sessions=sessions, practices=practices)


@admin_bp.post("/users/<int:user_id>/<action>")
def act(user_id: int, action: str):
    user = db.session.get(User, user_id)
    if user is None or action not in ACTIONS:
        abort(404)
    do, done = ACTIONS[action]
    try:
        _, ended = do(user.email, f"admin {current_user.email}")
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        if user.is_staff and action != "unlock":  # as the command line does: consoles close, offers move on
            current_app.end_staff_session(user.id)
        flash(done.format(email=user.email, ended=ended), "ok")
    return redirect(url_for("admin.users"))


@admin_bp.get("/keys")
def keys():
    """Practices' API keys, by prefix only (the keys themselves were shown once and are not kept)."""
    rows = db.session.execute(select(ApiKey, Practice.name).join(Practice, Practice.id == ApiKey.practice_id)
                              .order_by(Practice.name, ApiKey.id)).all()
    return render_template("admin/keys.html", rows=rows)


@admin_bp.post("/keys/<int:key_id>/revoke")
def revoke(key_id: int):
    key = db.session.get(ApiKey, key_id)
    if key is None:
        abort(404)
    if key.revoked_at is None:
        revoke_api_key(db.session, key.prefix, by=f"admin {current_user.email}")
        db.session.commit()
        flash(f"ak_{key.prefix}_… is revoked: it is refused from now on.", "ok")
    return redirect(url_for("admin.keys"))
