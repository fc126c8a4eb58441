"""Staff login for everyone: agents, supervisors, admins and practice staff."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from callcenter.accounts import authenticate
from callcenter.extensions import db, login_manager
from callcenter.models import SecurityEvent, User

from . import auth_bp

login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str):
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _home_for(user: User) -> str:
    return url_for("console.console") if user.is_staff else url_for("portal.calls")


@auth_bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in; a wrong email and a wrong password get the same answer."""
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.email.data, form.password.data)
        if user is None:
            db.session.add(SecurityEvent(kind="login_failed", path=request.path))
            db.session.commit()
            flash("That email and password do not match an account.", "error")
            return render_template("login.html", form=form), 401
        db.session.commit()
        login_user(user)
        session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME of inactivity
        target = request.args.get("next", "")
        # Only same-site paths: never an open redirect.
        if not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
            target = _home_for(user)
        return redirect(target)
    status = 400 if request.method == "POST" else 200
    return render_template("login.html", form=form), status


@auth_bp.post("/logout")
@login_required
def logout():
    """Log out; the console's live socket closes with the session."""
    logout_user()
    return redirect(url_for("auth.login"))
