"""Outbound webhooks: a practice's own system (a real HTTP server here) is told of messages taken and
acknowledged, signed with the practice's secret, retried with backoff when it does not answer, failed (and
shown) after the last try, and never lost when the job cannot be queued. No patient data is sent, and a
practice's setting can never point the service at its own private network."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter import outbound
from callcenter.extensions import db
from callcenter.models import Practice, WebhookDelivery
from callcenter.practice_settings import SettingsError
from ops import webhook_loop
from tests.conftest import LiveServer
from tests.support import PATIENT, csrf_token, eventually, log_in, make_message


class Receiver:
    """The practice's system: records each POST, and answers with `status`."""

    def __init__(self):
        self.received: list[dict] = []
        self.status = 200
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        with self.lock:
            self.received.append({"body": body, "signature": environ.get("HTTP_X_ANSWERING_SIGNATURE"),
                                  "event": environ.get("HTTP_X_ANSWERING_EVENT")})
        start_response(f"{self.status} Status", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def receiver():
    system = Receiver()
    server = LiveServer(system).start()
    system.url = server.url + "/answering-service"
    yield system
    server.stop()


@pytest.fixture
def hooked(app, world, maple_admin, receiver):
    """Maple Street's admin has set its system's address in the portal (a local one: allowed in this test)."""
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    page = maple_admin.get("/portal/webhooks")
    answer = maple_admin.post("/portal/webhooks", data={"csrf_token": csrf_token(page), "url": receiver.url})
    assert answer.status_code == 302
    with app.app_context():
        return db.session.get(Practice, world["maple"]).webhook_secret


def _deliveries(app) -> list[WebhookDelivery]:
    with app.app_context():
        return db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()


def _send(app, now: datetime | None = None) -> list[int]:
    with app.app_context():
        if now is None:
            return webhook_loop.run_round(app)  # the worker's sender, one round
        return outbound.send_due(db.session, now, allow_private=True)


def test_a_message_taken_and_acknowledged_reach_the_practices_system_signed_and_without_patient_data(
        app, world, hooked, receiver, maple_admin):
    message_id = make_message(app, world["maple"], urgency="urgent", body="Chest tightness since noon.",
                              caller_name="Pat Doe")
    make_message(app, world["harbor"])  # Harbor has no system set: nothing is owed to anyone for it
    assert [d.event for d in _deliveries(app)] == ["message.taken"]
    assert app.redis.lpop(outbound.WAKE_KEY), "the commit woke the worker's sender"

    assert len(_send(app)) == 1
    [got] = receiver.received
    event = json.loads(got["body"])
    assert outbound.verify(hooked, got["signature"], got["body"])
    assert not outbound.verify("whsec_someone-else", got["signature"], got["body"])
    assert (got["event"], event["event"], event["message"]["id"]) == ("message.taken", "message.taken", message_id)
    assert event["message"]["urgency"] == "urgent" and event["message"]["url"] == f"/api/v1/messages/{message_id}"
    assert b"Pat Doe" not in got["body"] and b"Chest" not in got["body"] and PATIENT.encode() not in got["body"]

    token = csrf_token(maple_admin.get(f"/portal/messages/{message_id}"))
    maple_admin.post(f"/portal/messages/{message_id}/acknowledge", data={"csrf_token": token})
    maple_admin.post(f"/portal/messages/{message_id}/undo", data={"csrf_token": token})
    _send(app)
    assert [r["event"] for r in receiver.received] == ["message.taken", "message.acknowledged",
                                                       "message.unacknowledged"]
    assert [d.status for d in _deliveries(app)] == ["delivered"] * 3
    page = maple_admin.get("/portal/webhooks").get_data(as_text=True)
    assert page.count('data-status="delivered"') == 3


def test_a_system_that_does_not_answer_is_tried_again_with_backoff_then_failed_and_shown(
        app, world, hooked, receiver, maple_admin):
    receiver.status = 503
    make_message(app, world["maple"])
    now = datetime.now(UTC)
    assert _send(app, now) == []
    [delivery] = _deliveries(app)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "answered 503")
    assert delivery.next_attempt_at == now + timedelta(seconds=outbound.BACKOFF[0])
    assert _send(app, now + timedelta(seconds=30)) == [] and len(receiver.received) == 1  # not due yet

    at = now
    for wait in outbound.BACKOFF:
        at += timedelta(seconds=wait)
        _send(app, at)
    [delivery] = _deliveries(app)
    assert (delivery.status, delivery.attempts) == ("failed", len(outbound.BACKOFF) + 1)
    assert len(receiver.received) == len(outbound.BACKOFF) + 1
    assert 'data-status="failed"' in maple_admin.get("/portal/webhooks").get_data(as_text=True)


def test_a_delivery_owed_while_redis_was_away_is_sent_by_the_senders_next_round(app, world, hooked, receiver):
    """The wake-up is a hint: the sender's own round (every few seconds, in every worker) finds what is due,
    and a worker that dies mid-round leaves its claimed delivery to be tried again a minute later."""
    make_message(app, world["maple"])
    app.redis.delete(outbound.WAKE_KEY)  # the wake-up is lost (Redis restarted without its data, say)
    stop = webhook_loop.start(app, every=0.2)
    try:
        eventually(lambda: receiver.received)
    finally:
        stop.set()
    assert [r["event"] for r in receiver.received] == ["message.taken"]
    assert [d.status for d in _deliveries(app)] == ["delivered"]


def test_a_test_event_and_a_new_secret(app, world, hooked, receiver, maple_admin):
    page = maple_admin.get("/portal/webhooks")
    maple_admin.post("/portal/webhooks/secret", data={"csrf_token": csrf_token(page)})
    with app.app_context():
        secret = db.session.get(Practice, world["maple"]).webhook_secret
    assert secret != hooked and secret.startswith("whsec_")
    maple_admin.post("/portal/webhooks/test", data={"csrf_token": csrf_token(page)})
    _send(app)
    [got] = receiver.received
    assert got["event"] == "test" and outbound.verify(secret, got["signature"], got["body"])
    assert not outbound.verify(hooked, got["signature"], got["body"])


@pytest.mark.parametrize("url, why", [
    ("http://93.184.216.34/hook", "must start with https://"),
    ("https://127.0.0.1:6379/", "standard https port"),
    ("https://127.0.0.1/", "is a private address"),
    ("https://10.1.2.3/hook", "is a private address"),
    ("https://169.254.169.254/latest/meta-data", "is a private address"),
    ("https://localhost/hook", "is a private address"),
    ("https://[::1]/hook", "is a private address"),
    ("https://93.184.216.34:6379/hook", "standard https port"),
])
def test_a_practices_address_can_never_point_at_the_services_own_network(url, why):
    with pytest.raises(SettingsError, match=why):
        outbound.check_url(url)
    assert outbound.check_url("https://93.184.216.34/hook") == "https://93.184.216.34/hook"


def test_an_address_refused_in_the_portal_says_why_and_keeps_what_was_typed(app, world, maple_admin, client):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    page = maple_admin.get("/portal/webhooks")
    answer = maple_admin.post("/portal/webhooks", data={"csrf_token": csrf_token(page), "url": "https://10.0.0.7/x"})
    assert answer.status_code == 400
    assert "Nothing was saved: 10.0.0.7 is a private address" in answer.get_data(as_text=True)
    assert 'value="https://10.0.0.7/x"' in answer.get_data(as_text=True)
    log_in(client, "desk@maple.test")
    assert client.get("/portal/webhooks").status_code == 403  # the practice's admin only


def test_a_delivery_connects_to_the_address_that_was_checked_with_tls_for_the_systems_own_name(tmp_path):
    """The name is resolved and checked once, and the connection made to that address (a name pointed at
    the service's own network a moment later changes nothing), while TLS still checks the certificate
    against the practice system's own name."""
    import ssl

    import requests
    import trustme
    from werkzeug.serving import make_server

    authority = trustme.CA()
    got = []

    def system(environ, start_response):
        got.append(environ.get("HTTP_HOST"))
        start_response("204 No Content", [])
        return [b""]

    for name, expect_ok in (("hooks.maple.example", True), ("someone-else.example", False)):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        authority.issue_cert(name).configure_cert(context)
        server = make_server("127.0.0.1", 0, system, ssl_context=context)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        bundle = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(bundle))
        url = f"https://hooks.maple.example:{server.server_port}/answering"
        try:
            if expect_ok:
                answer = outbound.post_pinned(url, "127.0.0.1", b"{}", {}, verify=str(bundle))
                assert answer.status_code == 204
                assert got == [f"hooks.maple.example:{server.server_port}"]
            else:
                with pytest.raises(requests.exceptions.SSLError):
                    outbound.post_pinned(url, "127.0.0.1", b"{}", {}, verify=str(bundle))
        finally:
            server.shutdown()
            server.server_close()


def test_deliveries_done_with_are_forgotten_after_ninety_days_and_pending_ones_never(app, world, hooked, receiver):
    make_message(app, world["maple"])
    _send(app)
    receiver.status = 500
    make_message(app, world["maple"])
    _send(app)  # this one waits for its next try
    later = datetime.now(UTC) + timedelta(days=outbound.KEEP_DAYS + 1)
    with app.app_context():
        assert outbound.purge(db.session, later) == 1
    assert [d.status for d in _deliveries(app)] == ["pending"]
