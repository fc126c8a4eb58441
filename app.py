"""Application factory: `flask --app app ...`, `gunicorn 'app:create_app()'`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from redis import Redis
from rq import Queue
from sqlalchemy import event, text
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from agents_ui.broadcast import DEFAULT_INTERVAL as PUSH_INTERVAL
from agents_ui.broadcast import ConsoleBroadcaster
from callcenter import acd, audit, config, database, outbound, signin
from callcenter.extensions import csrf, db, login_manager, migrate, socketio
from callcenter.followups import FollowUps
from callcenter.gateway import TwilioGateway
from callcenter.kept import KeptWebhooks
from callcenter.offers import Offers
from callcenter.practice_directory import PracticeDirectory
from callcenter.presence import Presence
from callcenter.queue import CallQueue

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")


class _SessionInterface(SecureCookieSessionInterface):
    """No session cookie on the practice API: it authenticates with bearer keys only."""

    def should_set_cookie(self, app, session) -> bool:
        return not request.path.startswith("/api/") and super().should_set_cookie(app, session)


def _socketio_async_mode() -> str:
    """gevent under gunicorn's gevent worker (it patched the standard library first), threads elsewhere."""
    try:
        from gevent import monkey
    except ImportError:
        return "threading"
    return "gevent" if monkey.is_module_patched("socket") else "threading"


def _socketio_channel(message_queue: str | None) -> str:
    """Redis pub/sub channels ignore the database number: name ours after it, so that two deployments
    sharing a Redis server on different databases never see each other's pushes."""
    database = (urlsplit(message_queue).path.lstrip("/") or "0") if message_queue else "0"
    return f"answering-console-db{database}"


def _console_origins(config):
    """Which pages may open the console's socket: those of the public address (PUBLIC_BASE_URL) and those
    of the host the request came to (an agent on the local address while Twilio uses a tunnel). A page
    on another site, in a browser holding a staff cookie, is refused. A client that sends no Origin at
    all is not a browser page, so not a cross-site risk, and python-engineio lets it through."""
    public = config.get("PUBLIC_BASE_URL")
    allowed_public = f"{urlsplit(public).scheme}://{urlsplit(public).netloc}" if public else None

    def allowed(origin: str | None, environ: dict) -> bool:
        # ProxyFix wraps Socket.IO's middleware too (below): behind the trusted proxies, HTTP_HOST and the
        # scheme here are already the ones the browser used.
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin is not None and origin in (own, allowed_public)

    return allowed


@event.listens_for(Session, "after_commit")
def _send_owed_webhooks(session: Session) -> None:
    """A commit that wrote deliveries to practices' systems (callcenter/outbound.py) wakes the worker's sender
    (ops/webhook_loop.py); if Redis will not take the wake-up, its next round finds them within seconds."""
    if outbound.owed_in(session) and has_app_context() and hasattr(current_app, "redis"):
        outbound.wake(current_app.redis)


@event.listens_for(Session, "after_rollback")
def _forget_owed_webhooks(session: Session) -> None:
    outbound.owed_in(session)  # what a rolled-back transaction wrote is not owed


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(config.from_environment(app.instance_path))
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=signin.IDLE_LIMIT,  # idle staff sessions expire after 30 minutes
        SESSION_REFRESH_EACH_REQUEST=True,
        WTF_CSRF_TIME_LIMIT=None,
    )
    if test_config:
        app.config.update(test_config)
    app.session_interface = _SessionInterface()

    database.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)

    # Connections are opened lazily, on first command: commands that need no Redis run without one.
    # Budgets: Twilio gives a webhook 15 s in all. A Redis slower than these fails the request fast,
    # and the webhook wrapper answers safe TwiML instead of letting Twilio time out.
    app.redis = Redis.from_url(app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=1,
                               health_check_interval=30)
    app.call_queue = CallQueue(app.redis, capacity=app.config["QUEUE_CAPACITY"], wake_key=Offers.wake_key)
    app.presence = Presence(app.redis)
    app.acd = acd.Settings(ring_seconds=app.config["OFFER_RING_SECONDS"],
                           offline_after=app.config["AGENT_OFFLINE_AFTER"])
    app.offers = Offers(app.redis, pass_seconds=app.acd.ring_seconds)
    app.practices = PracticeDirectory()
    app.kept = KeptWebhooks(app.redis, app.config["SPOOL_DIR"])
    app.task_queue = Queue("answering", connection=app.redis)
    app.followups = FollowUps(app.task_queue)
    app.gateway = TwilioGateway(
        app.config["TWILIO_ACCOUNT_SID"],
        app.config["TWILIO_AUTH_TOKEN"],
        app.config["TWILIO_API_BASE"],
        http_client=app.config.get("TWILIO_HTTP_CLIENT"),
        # Delivery receipts of every SMS, pages above all (/sms/status); read at send time, as tests and
        # the launcher set PUBLIC_BASE_URL once the app exists.
        message_status_url=lambda: f"{app.config['PUBLIC_BASE_URL']}/sms/status" if app.config.get("PUBLIC_BASE_URL")
        else None,
        public_base=lambda: app.config.get("PUBLIC_BASE_URL") or None,
    )
    message_queue = app.config.get("SOCKETIO_MESSAGE_QUEUE", app.config["REDIS_URL"])
    # Flask-SocketIO keeps the previous app's queue manager when this one has none: each app its own.
    socketio.server_options.pop("client_manager", None)
    socketio.init_app(app, async_mode=_socketio_async_mode(), message_queue=message_queue,
                      cors_allowed_origins=_console_origins(app.config),
                      channel=app.config.get("SOCKETIO_CHANNEL") or _socketio_channel(message_queue))
    if app.config["TRUSTED_PROXIES"]:
        # Outside Socket.IO's own middleware, which init_app put around the app: the console's events see
        # the agent's address and scheme as the proxy gave them too (their audit rows), not the proxy's.
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    # Every broadcast to the agents' consoles goes through it, coalesced by a background task.
    app.console = ConsoleBroadcaster(app, socketio, interval=app.config.get("CONSOLE_PUSH_INTERVAL", PUSH_INTERVAL))

    from agents_ui import bp as console_bp
    from agents_ui.sessions import end_session as end_staff_session
    from ivr import bp as ivr_bp
    from ivr import sms_bp
    from ops.cli import register_commands
    from portal import api_bp, auth_bp, portal_bp
    from portal.admin import admin_bp
    from portal.auth import init_app as init_sign_in
    from portal.clinician import clinician_bp
    from portal.headers import init_app as init_headers
    from simulator.cli import register_commands as register_simulator_commands

    # A staff member's sign-in sessions ended (an admin, the command line): their consoles close and they
    # stop being offered calls, in every web process. The admin area cannot import the console.
    app.end_staff_session = lambda user_id: end_staff_session(app, user_id)
    init_sign_in(app)
    audit.install()

    @app.before_request
    def _audit_address():
        db.session.info["address"] = request.remote_addr  # for the audit rows this request writes
    init_headers(app)
    app.register_blueprint(ivr_bp)
    app.register_blueprint(sms_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(portal_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(clinician_bp)
    register_commands(app)
    register_simulator_commands(app)

    @app.get("/healthz")
    def healthz():
        """Report whether the database and Redis answer."""
        status = {}
        try:
            db.session.execute(text("SELECT 1"))
            status["db"] = "ok"
        except Exception:
            status["db"] = "down"
        finally:
            db.session.rollback()
        try:
            app.redis.ping()
            status["redis"] = "ok"
        except Exception:
            status["redis"] = "down"
        ok = all(v == "ok" for v in status.values())
        return jsonify(status), 200 if ok else 503

    @app.get("/")
    def index():
        from flask import redirect, url_for
        from flask_login import current_user

        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        if current_user.is_staff:
            return redirect(url_for("console.console"))
        return redirect(url_for("portal.calls"))

    return app
