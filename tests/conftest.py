"""Shared fixtures. The suite runs against a real Redis and a real database.

DATABASE_URL picks the database (a SQLite file when unset; `make test` runs the suite on both
SQLite and PostgreSQL). TEST_REDIS_URL picks the Redis database, flushed around each test.

Fixtures only: the personas (`world`), the app and its clients, the agents' consoles, the phone
system. The personas' numbers and the plain helpers tests call are in tests/support.py.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from app import create_app
from callcenter.accounts import create_practice, create_user, hash_password
from callcenter.extensions import db
from callcenter.hours import local_time
from callcenter.models import BusinessHours, Holiday, OnCallShift, Practice
from tests.support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    HARBOR_NUMBER,
    MAPLE_NUMBER,
    ON_CALL_NUMBER,
    PASSWORD,
    SUPERVISOR_TOTP,
    TwilioSigner,
    console_for,
)
from tests.twilio_recorder import RecordingHttpClient


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture(scope="session")
def _schema(database_url, redis_url, tmp_path_factory):
    """Build the schema once per run, through the migrations people deploy with."""
    from flask_migrate import downgrade, upgrade

    app = create_app(_config(database_url, redis_url, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        downgrade(revision="base")
        upgrade()
    yield
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _config(database_url: str, redis_url: str, instance) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "SOCKETIO_MESSAGE_QUEUE": None,
        # Console pushes go out at once, from the caller, so that a test reads them in step; the
        # coalescing background task has tests of its own (tests/test_broadcast.py).
        "CONSOLE_PUSH_INTERVAL": 0,
        "SECRET_KEY": "test-secret",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_EMULATED": False,
        "TWILIO_API_BASE": "https://api.twilio.com",
        "PUBLIC_BASE_URL": None,
        "TRUSTED_PROXIES": 1,
        "SPOOL_DIR": str(Path(instance) / "spool"),
    }


@pytest.fixture
def twilio_http() -> RecordingHttpClient:
    """The REST requests the app sends to Twilio, recorded."""
    return RecordingHttpClient()


@pytest.fixture
def app(_schema, database_url, redis_url, tmp_path, twilio_http):
    config = _config(database_url, redis_url, tmp_path)
    config["TWILIO_HTTP_CLIENT"] = twilio_http
    app = create_app(config)
    app.redis.flushdb()
    with app.app_context():
        _empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()
    app.redis.flushdb()
    app.redis.close()


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(app):
    """Flask's runner for the app's command line."""
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2 hash of PASSWORD for every persona: hashing is slow by design."""
    return hash_password(PASSWORD)


@pytest.fixture
def world(app, password_hash):
    """Named personas: two practices, two agents, a supervisor and each practice's front desk."""
    with app.app_context():
        maple = create_practice(db.session, "Maple Street Family Medicine", MAPLE_NUMBER, "America/Los_Angeles")
        maple.instructions = "Dr. Rivera is on call."
        harbor = create_practice(db.session, "Harbor Pediatrics", HARBOR_NUMBER, "America/New_York")
        for practice in (maple, harbor):  # open around the clock unless a test says otherwise
            practice.hours = [BusinessHours(weekday=d, opens=time(0, 0), closes=time.max) for d in range(7)]
        def person(email, role, practice=None, name=None):
            return create_user(db.session, email, PASSWORD, role, practice, name, password_hash=password_hash)

        people = {
            "alice": person("alice@example.test", "agent", name="Alice"),
            "bob": person("bob@example.test", "agent", name="Bob"),
            "sam": person("sam@example.test", "supervisor", name="Sam"),
            "maple_staff": person("desk@maple.test", "practice", maple.id),
            "harbor_staff": person("desk@harbor.test", "practice", harbor.id),
        }
        people["sam"].totp_secret = SUPERVISOR_TOTP  # supervisors must sign in with a code (tests.support.log_in)
        db.session.commit()
        ids = {name: user.id for name, user in people.items()}
        ids.update(maple=maple.id, harbor=harbor.id)
    return ids


@pytest.fixture
def maple_admin_account(app, world, password_hash):
    """Dana Lee, Maple Street's own admin (its settings, hours, rotations, webhooks, people). Like the
    supervisors, she signs in with a code from her authenticator app (tests.support.log_in types it)."""
    from tests.support import MAPLE_ADMIN

    with app.app_context():
        dana = create_user(db.session, MAPLE_ADMIN, PASSWORD, "practice_admin", world["maple"], "Dana Lee",
                           password_hash=password_hash)
        dana.totp_secret = SUPERVISOR_TOTP
        db.session.commit()
    return MAPLE_ADMIN


@pytest.fixture
def maple_admin(app, maple_admin_account):
    """Dana Lee, logged in to the portal (a test client)."""
    from tests.support import log_in

    browser = app.test_client()
    assert log_in(browser, maple_admin_account).status_code == 302
    return browser


@pytest.fixture
def agent_on_duty(app, world):
    """Alice is logged in and available, so callers are queued rather than sent to voicemail."""
    app.presence.set_available(world["alice"], datetime.now(UTC))
    return world["alice"]


@pytest.fixture
def alice(app, world):
    """Alice, logged in, with the agents' console open (a Socket.IO test client)."""
    return console_for(app, "alice@example.test")


@pytest.fixture
def bob(app, world):
    """Bob, logged in, with the agents' console open."""
    return console_for(app, "bob@example.test")


@pytest.fixture
def on_call(app, world):
    """Dr. Rivera is on call for Maple Street now (at ON_CALL_NUMBER)."""
    with app.app_context():
        now = datetime.now(UTC)
        db.session.add(OnCallShift(practice_id=world["maple"], clinician_name="Dr. Rivera", number=ON_CALL_NUMBER,
                                   starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=8)))
        db.session.commit()
    return ON_CALL_NUMBER


@pytest.fixture
def maple_closed(app, world):
    """Maple Street is closed all day today, in its own timezone (a holiday)."""
    with app.app_context():
        maple = db.session.get(Practice, world["maple"])
        today = local_time(datetime.now(UTC), maple.timezone).date()
        db.session.add(Holiday(practice_id=maple.id, day=today, name="Closed for the test"))
        db.session.commit()


@pytest.fixture
def twilio(client):
    return TwilioSigner(client)


class LiveServer:
    """A real HTTP server in a thread, for the emulator and the browser to talk to."""

    def __init__(self, wsgi_app, host: str = "127.0.0.1"):
        self.server = make_server(host, 0, wsgi_app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live_app(app):
    """The app served over real HTTP."""
    server = LiveServer(app).start()
    yield server
    server.stop()


class PhoneSystem:
    """The app and the Twilio emulator, each on its own real HTTP server, talking as in production."""

    def __init__(self, app, emulator, app_server: LiveServer, emulator_server: LiveServer):
        from emulator.client import PhoneClient

        self.app = app
        self.emulator = emulator
        self.app_url = app_server.url
        self.emulator_url = emulator_server.url
        self.phone = PhoneClient(self.emulator_url)
        self._servers = (app_server, emulator_server)
        # `make run`'s worker rings agents for waiting callers: so does the phone system's.
        from ops import offer_loop

        self._offer_loop = offer_loop.start(app, every=0.1)

    def stop(self):
        thread, stop = self._offer_loop
        stop.set()
        thread.join(5)
        self.phone.close()
        for server in self._servers:
            server.stop()


@pytest.fixture
def phone_system(app):
    """The whole call path over HTTP: softphone -> emulator -> signed webhooks -> app -> REST -> emulator."""
    from emulator import configure, create_emulator

    emulator = create_emulator(ACCOUNT_SID, AUTH_TOKEN, numbers=[MAPLE_NUMBER, HARBOR_NUMBER], speed=20.0)
    emulator_server = LiveServer(emulator).start()
    live = create_app({**app.config, "TWILIO_HTTP_CLIENT": None, "TWILIO_API_BASE": emulator_server.url,
                       "TWILIO_EMULATED": True})
    app_server = LiveServer(live).start()
    configure(emulator, voice_url=f"{app_server.url}/ivr/voice", status_url=f"{app_server.url}/ivr/status",
              sms_url=f"{app_server.url}/sms/inbound")
    system = PhoneSystem(live, emulator, app_server, emulator_server)
    yield system
    system.stop()


CHROMIUM = "/usr/bin/chromium"  # Debian's Chromium, installed by scripts/test-services
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    """Headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
