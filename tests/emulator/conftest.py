"""Fixtures for the emulator's conformance tests: the emulator and a tiny TwiML app, both over real HTTP.

These tests need neither a database nor Redis.
"""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask, Response, request
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from werkzeug.serving import make_server

from emulator import create_emulator, state_of
from emulator.client import DeviceClient, PhoneClient

ACCOUNT_SID = "AC" + "2" * 32
AUTH_TOKEN = "emulator-test-token-0123456789abcdef"  # 32 bytes or more: it also signs device tokens
PRACTICE_NUMBER = "+14155550101"
PATIENT = "+15555550123"
SPEED = 10.0


class Server:
    """A WSGI app served over real HTTP from a thread."""

    def __init__(self, wsgi_app):
        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class TwimlApp:
    """Stands in for the app under Twilio: answers each path with a test-given document, records requests."""

    def __init__(self):
        self.flask = Flask("twiml_app")
        self.routes: dict[str, object] = {}
        self.requests: list[dict] = []
        self.changed = threading.Condition()
        self.flask.add_url_rule("/<path:path>", "any", self._answer, methods=["GET", "POST"])
        self.server = Server(self.flask)
        self.url = self.server.url

    def route(self, path: str, answer, status: int = 200, content_type: str = "text/xml", delay: float = 0):
        """Answer `path` with `answer`: TwiML text, or a function of the request's fields returning it."""
        self.routes[path] = (answer, status, content_type, delay)

    def _answer(self, path):
        fields = request.form.to_dict() if request.method == "POST" else request.args.to_dict()
        record = {"path": "/" + path, "method": request.method, "url": request.url, "form": fields,
                  "headers": dict(request.headers), "cookies": dict(request.cookies)}
        with self.changed:
            self.requests.append(record)
            self.changed.notify_all()
        answer, status, content_type, delay = self.routes.get("/" + path, ("<Response/>", 200, "text/xml", 0))
        if delay:
            time.sleep(delay)
        body = answer(fields) if callable(answer) else answer
        if isinstance(body, Response):
            return body
        return Response(body, status=status, content_type=content_type)

    def requests_to(self, path: str) -> list[dict]:
        with self.changed:
            return [r for r in self.requests if r["path"] == path]

    def wait_for_request(self, path: str, count: int = 1, timeout: float = 10, where=None) -> list[dict]:
        """Wait until `path` has received `count` requests (matching `where(fields)`); return them."""
        def matching():
            return [r for r in self.requests if r["path"] == path and (where is None or where(r["form"]))]

        with self.changed:
            if not self.changed.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                seen = [(r["path"], r["form"].get("CallStatus")) for r in self.requests]
                raise AssertionError(f"{path} got {len(matching())} of {count} requests; all requests: {seen}")
            return matching()

    def is_signed(self, record: dict) -> bool:
        """True if the request carries the signature Twilio would compute."""
        validator = RequestValidator(AUTH_TOKEN)
        params = record["form"] if record["method"] == "POST" else {}
        return validator.validate(record["url"], params, record["headers"].get("X-Twilio-Signature", ""))


@pytest.fixture
def twiml_app():
    app = TwimlApp()
    yield app
    app.server.stop()


class Emulator:
    def __init__(self, app, server):
        self.app = app
        self.state = state_of(app)
        self.server = server
        self.url = server.url
        self.phone = PhoneClient(server.url)
        self._answering: list[tuple[DeviceClient, threading.Event, threading.Thread]] = []

    def device(self, identity: str) -> DeviceClient:
        """A browser device registered as `identity` (a Voice access token signed for this account)."""
        token = AccessToken(ACCOUNT_SID, "SK" + "2" * 32, AUTH_TOKEN, identity=identity, ttl=600)
        token.add_grant(VoiceGrant(incoming_allow=True))
        device = DeviceClient(self.url, token.to_jwt())
        device.register()
        return device

    def answering(self, identity: str) -> DeviceClient:
        """A browser device for `identity` whose person accepts every call that rings it, at once."""
        device, stop = self.device(identity), threading.Event()

        def accept_all():
            while not stop.wait(0.02):
                for leg in device.incoming():
                    device.accept(leg["sid"])

        thread = threading.Thread(target=accept_all, daemon=True)
        thread.start()
        self._answering.append((device, stop, thread))
        return device

    def close_devices(self) -> None:
        for device, stop, thread in self._answering:
            stop.set()
            thread.join(2)
            device.close()


@pytest.fixture
def emulator(twiml_app):
    app = create_emulator(ACCOUNT_SID, AUTH_TOKEN, voice_url=twiml_app.url + "/voice",
                          status_url=twiml_app.url + "/status", sms_url=twiml_app.url + "/sms",
                          numbers=[PRACTICE_NUMBER], speed=SPEED)
    server = Server(app)
    emulator = Emulator(app, server)
    yield emulator
    emulator.close_devices()
    emulator.state.shutdown()
    emulator.phone.close()
    server.stop()
    assert not [t for t in emulator.state.threads if t.is_alive() and t.name.startswith("call-")], \
        "a call thread outlived the test"


@pytest.fixture
def twilio_client(emulator):
    """The real twilio Client, pointed at the emulator exactly as the app's gateway does it."""
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = emulator.url
    return client


def say(text: str) -> str:
    return f"<Response><Say>{text}</Say></Response>"


def account(client):
    """The emulator's account on a twilio Client: where the REST resources hang."""
    return client.api.v2010.accounts(ACCOUNT_SID)
