"""Staff login for everyone: agents, supervisors, admins and practice staff.

Sessions are kept on the server (`callcenter.signin`): the cookie holds a token, and each request
checks its row, so logout, idle expiry, a password change or "log out everywhere" end it in every web
process at once. Failed sign-ins are throttled by Flask-Limiter in Redis, per address and per account
(only failures count; and every attempt per address, at a higher limit, since failures are counted
only once answered), on top of the account lock at ten wrong passwords in a row; if Redis is down,
the limits are counted in each process's memory instead, and sign-in still works.

A right password for an account with two-factor sign-in (callcenter.two_factor) leads to /login/code;
for a supervisor or admin without it, to /account/two-factor to set it up. Until that second step the
browser holds only a note of whose password was right (five minutes), never a session.
"""

import time
from urllib.parse import urlsplit

import segno
from flask import current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired

from callcenter import signin
from callcenter import two_factor as two_factor_domain
from callcenter.accounts import AccountError
from callcenter.extensions import db, login_manager
from callcenter.models import SecurityEvent, User

from . import auth_bp

login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"

# Failed sign-ins allowed before the login form answers "too many" (429) for a while.
PER_ADDRESS = "30 per 10 minutes"  # a practice's whole office may sit behind one address
PER_ACCOUNT = "5 per minute; 20 per hour"
# Every attempt from one address, right or wrong, counted before it is tried: failures are counted only
# once answered, so many sent at the same moment would all be tried before any counted. This caps that.
ATTEMPTS_PER_ADDRESS = "120 per 10 minutes"
_TOKEN = signin.SESSION_KEY
_PENDING = "pending_sign_in"  # a right password waiting for its second step
_SETUP_SECRET = "two_factor_setup"  # the secret shown while two-factor sign-in is being set up
PENDING_SECONDS = 300


def _address() -> str:
    return request.remote_addr or "unknown"


def _attempts_from() -> str:
    return "attempts:" + _address()


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
    found = signin.signed_in_user(db.session, session.get(_TOKEN), current_app.permanent_session_lifetime)
    if found is None or str(found[0].id) != user_id:
        return None
    user, g.login_session = found
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


def _too_many_attempts(_limit):
    flash("Too many sign-in attempts from this address. Wait a few minutes and try again.", "error")
    return make_response(render_template("login.html", form=LoginForm()), 429)


def _failed(response) -> bool:
    return response.status_code == 401


@auth_bp.route("/login", methods=["GET", "POST"])
@limiter.limit(ATTEMPTS_PER_ADDRESS, methods=["POST"], key_func=_attempts_from, on_breach=_too_many_attempts)
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
        target = _safe_next(request.args.get("next", ""))
        session.clear()  # nothing from before the sign-in carries over
        if outcome.next_step is not None:  # the password was right; the second step opens the session
            session[_PENDING] = {"user": outcome.user.id, "since": time.time(), "step": outcome.next_step,
                                 "next": target}
            return redirect(url_for("auth.sign_in_code" if outcome.next_step == "code" else "auth.two_factor"))
        return _signed_in(outcome.user, outcome.token, target)
    status = 400 if request.method == "POST" else 200
    return render_template("login.html", form=form), status


def _safe_next(target: str) -> str:
    """Only same-site paths: never an open redirect."""
    # Browsers read "/\host" as "//host", and drop tabs and newlines: none of those, then.
    if (not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc
            or any(c == "\\" or ord(c) < 32 or ord(c) == 127 for c in target)):
        return ""
    return target


def _signed_in(user: User, token: str, target: str = ""):
    session.pop(_PENDING, None)
    session.pop(_SETUP_SECRET, None)
    login_user(user)
    session[_TOKEN] = token
    session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME of inactivity
    return redirect(target or _home_for(user))


def _pending(step: str | None = None) -> User | None:
    """The account whose password was right a moment ago, waiting for its second step."""
    pending = session.get(_PENDING)
    if not pending or time.time() - pending.get("since", 0) > PENDING_SECONDS:
        return None
    if step is not None and pending.get("step") != step:
        return None
    user = db.session.get(User, pending.get("user"))
    return user if user is not None and user.active else None


def _pending_account() -> str:
    pending = session.get(_PENDING) or {}
    return f"user:{pending.get('user')}"


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired()])


def _start_again():
    session.pop(_PENDING, None)
    flash("Sign in again: that took longer than five minutes.", "error")
    return redirect(url_for("auth.login"))


@auth_bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(ATTEMPTS_PER_ADDRESS, methods=["POST"], key_func=_attempts_from, on_breach=_too_many_attempts)
@limiter.limit(PER_ADDRESS, methods=["POST"], deduct_when=_failed, on_breach=_too_many)
@limiter.limit(PER_ACCOUNT, methods=["POST"], key_func=_pending_account, deduct_when=_failed, on_breach=_too_many)
def sign_in_code():
    """The second step for an account with two-factor sign-in: a code from the app, or a recovery code."""
    user = _pending("code")
    if user is None:
        return _start_again()
    form = CodeForm()
    if form.validate_on_submit():
        outcome = signin.second_step(db.session, user, form.code.data, _address(), request.path)
        db.session.commit()
        if outcome.refused == "locked":
            session.pop(_PENDING, None)
            flash("This account is locked after repeated failed sign-ins. Ask an administrator to unlock it.",
                  "error")
            return redirect(url_for("auth.login"))
        if outcome.user is None:
            flash("That code is not right, or it has been used already. Type the code your app shows now.", "error")
            return render_template("two_factor_code.html", form=form), 401
        return _signed_in(outcome.user, outcome.token, session[_PENDING].get("next", ""))
    return render_template("two_factor_code.html", form=form), 400 if request.method == "POST" else 200


@auth_bp.route("/account/two-factor", methods=["GET", "POST"])
def two_factor():
    """Turn on two-factor sign-in: for anyone signed in, and for a supervisor or admin whose password was
    right but who has not set it up yet (they get no session before they have)."""
    enrolling = None if current_user.is_authenticated else _pending("enrol")
    user = current_user if current_user.is_authenticated else enrolling
    if user is None:
        return _start_again() if session.get(_PENDING) else redirect(url_for("auth.login"))
    form = CodeForm()
    if user.totp_secret:
        return render_template("two_factor_setup.html", form=form, already_on=True)
    secret = session.get(_SETUP_SECRET) or two_factor_domain.new_secret()
    session[_SETUP_SECRET] = secret
    status = 200
    if form.validate_on_submit():
        try:
            codes = two_factor_domain.turn_on(user, secret, form.code.data)
        except AccountError as exc:
            flash(str(exc), "error")
            status = 400
        else:
            db.session.add(SecurityEvent(kind="two_factor_on", path=request.path, detail=f"account {user.id}",
                                         address=_address()))
            target = ""
            if enrolling is not None:
                target = session[_PENDING].get("next", "")
                token = signin.complete(db.session, user, _address())
                db.session.commit()
                _signed_in(user, token)
            else:
                db.session.commit()
                session.pop(_SETUP_SECRET, None)
            return render_template("recovery_codes.html", codes=codes, home=target or _home_for(user))
    elif request.method == "POST":
        status = 400
    qr = segno.make(two_factor_domain.setup_uri(secret, user.email), error="m").svg_data_uri(scale=4)
    return render_template("two_factor_setup.html", form=form, secret=secret, qr=qr, already_on=False,
                           required=two_factor_domain.required_for(user)), status


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
