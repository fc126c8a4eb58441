"""Staff login for everyone: agents, supervisors, admins and practice staff.

Sessions are kept on the server (`callcenter.signin`): the cookie holds a token, and each request
checks its row, so logout, idle expiry, a password change or "log out everywhere" end it in every web
process at once. Failed sign-ins are throttled by Flask-Limiter in Redis, per address and per account
(only failures count), on top of the account lock at ten wrong passwords in a row; if Redis is down,
the limits are counted in each process's memory instead, and sign-in still works.
"""

from urllib.parse import urlsplit

from flask import current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from callcenter import signin
from callcenter.extensions import db, login_manager
from callcenter.models import User

from . import auth_bp

login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"

# Failed sign-ins allowed before the login form answers "too many" (429) for a while.
PER_ADDRESS = "30 per 10 minutes"  # a practice's whole office may sit behind one address
PER_ACCOUNT = "5 per minute; 20 per hour"
_TOKEN = "login"  # the session cookie's key for the server-side session's token


def _address() -> str:
    return request.remote_addr or "unknown"


def _account_tried() -> str:
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


limiter = Limiter(key_func=_address, key_prefix="cc:limits")


def init_app(app) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 2, "socket_connect_timeout": 1})
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)


@login_manager.user_loader
def load_user(user_id: str):
    row = signin.open_session(db.session, session.get(_TOKEN), current_app.permanent_session_lifetime)
    if row is None or str(row.user_id) != user_id:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    g.login_session = row
    return user


@auth_bp.after_app_request
def _keep_session_alive(response):
    row = g.pop("login_session", None)
    if row is not None:
        try:
            if signin.touch(db.session, row):
                db.session.commit()
        except Exception:  # the page was served; the next request tries again
            db.session.rollback()
    return response


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


def _home_for(user: User) -> str:
    return url_for("console.console") if user.is_staff else url_for("portal.calls")


def _too_many(_limit):
    flash("Too many failed sign-ins. Wait a few minutes and try again.", "error")
    return make_response(render_template("login.html", form=LoginForm()), 429)


def _failed(response) -> bool:
    return response.status_code == 401


@auth_bp.route("/login", methods=["GET", "POST"])
@limiter.limit(PER_ADDRESS, methods=["POST"], deduct_when=_failed, on_breach=_too_many)
@limiter.limit(PER_ACCOUNT, methods=["POST"], key_func=_account_tried, deduct_when=_failed, on_breach=_too_many)
def login():
    """Log in; a wrong email and a wrong password get the same answer."""
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        outcome = signin.sign_in(db.session, form.email.data, form.password.data, _address(), request.path)
        db.session.commit()
        if outcome.refused == "locked":
            flash("This account is locked after repeated failed sign-ins. Ask an administrator to unlock it.",
                  "error")
            return render_template("login.html", form=form), 403
        if outcome.user is None:
            flash("That email and password do not match an account.", "error")
            return render_template("login.html", form=form), 401
        session.clear()  # nothing from before the sign-in carries over
        login_user(outcome.user)
        session[_TOKEN] = outcome.token
        session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME of inactivity
        target = request.args.get("next", "")
        # Only same-site paths: never an open redirect.
        if not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
            target = _home_for(outcome.user)
        return redirect(target)
    status = 400 if request.method == "POST" else 200
    return render_template("login.html", form=form), status


@auth_bp.post("/logout")
@login_required
def logout():
    """Log out: this session ends on the server, so a copy of its cookie opens nothing; the console's
    live sockets close with it."""
    signin.end_session(db.session, session.get(_TOKEN), "logged out")
    db.session.commit()
    logout_user()
    session.pop(_TOKEN, None)
    return redirect(url_for("auth.login"))
