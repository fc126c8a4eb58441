"""Application factory: `flask --app app ...`, `gunicorn 'app:create_app()'`."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from redis import Redis
from rq import Queue
from sqlalchemy import event, text
from werkzeug.middleware.proxy_fix import ProxyFix

from callcenter import config
from callcenter.extensions import csrf, db, login_manager, migrate, socketio
from callcenter.gateway import TwilioGateway
from callcenter.queue import CallQueue

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")


class _SessionInterface(SecureCookieSessionInterface):
    """No session cookie on the practice API: it authenticates with bearer keys only."""

    def should_set_cookie(self, app, session) -> bool:
        return not request.path.startswith("/api/") and super().should_set_cookie(app, session)


def _tune_sqlite(engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "savepoint")
    def _savepoint(connection, _name):
        # pysqlite opens a transaction only before INSERT/UPDATE/DELETE, so a SAVEPOINT issued first
        # would start one of its own and its RELEASE would commit half of a webhook's work. Open the
        # transaction first; reads before it stay outside any transaction, as pysqlite leaves them,
        # so a later write never has to upgrade a stale read lock.
        dbapi_connection = connection.connection.dbapi_connection
        if not dbapi_connection.in_transaction:
            dbapi_connection.execute("BEGIN")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(config.from_environment(app.instance_path))
    app.config.update(
        # hide_parameters: SQL errors must not carry patients' numbers into logs.
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "hide_parameters": True},
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=30 * 60,  # idle staff sessions expire after 30 minutes
        SESSION_REFRESH_EACH_REQUEST=True,
        WTF_CSRF_TIME_LIMIT=None,
    )
    if test_config:
        app.config.update(test_config)
    app.session_interface = _SessionInterface()

    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)

    # Budgets: Twilio gives a webhook 15 s in all. A database or Redis slower than these fails the
    # request fast, and the webhook wrapper answers safe TwiML instead of letting Twilio time out.
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        # Wait a little for a writer instead of failing at once; several threads write during a call.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"hide_parameters": True, "connect_args": {"timeout": 5}}
    elif uri.startswith("postgresql"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "hide_parameters": True, "pool_pre_ping": True,
            "connect_args": {"connect_timeout": 3, "options": "-c statement_timeout=5000"},
        }
    db.init_app(app)
    with app.app_context():
        _tune_sqlite(db.engine)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)

    if not app.config["REDIS_URL"]:
        from ops.embedded_redis import embedded_redis_url

        app.config["REDIS_URL"] = embedded_redis_url(app.instance_path, app.logger)
    # Connections are opened lazily, on first command.
    app.redis = Redis.from_url(app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=1,
                               health_check_interval=30)
    app.call_queue = CallQueue(app.redis, capacity=app.config.get("QUEUE_CAPACITY", 1000))
    app.task_queue = Queue("answering", connection=app.redis)
    app.gateway = TwilioGateway(
        app.config["TWILIO_ACCOUNT_SID"],
        app.config["TWILIO_AUTH_TOKEN"],
        app.config["TWILIO_API_BASE"],
        http_client=app.config.get("TWILIO_HTTP_CLIENT"),
    )
    message_queue = app.config.get("SOCKETIO_MESSAGE_QUEUE", app.config["REDIS_URL"])
    socketio.init_app(app, async_mode="threading", message_queue=message_queue, cors_allowed_origins=[])

    from agents_ui import bp as console_bp
    from ivr import bp as ivr_bp
    from ivr import sms_bp
    from ops.cli import register_commands
    from portal import api_bp, auth_bp, portal_bp

    app.register_blueprint(ivr_bp)
    app.register_blueprint(sms_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(portal_bp)
    app.register_blueprint(api_bp)
    register_commands(app)

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
