"""Each practice's daily digest, at its chosen time in its own timezone: kept for the portal, and emailed
through a real SMTP server (aiosmtpd, on this machine) to the practice's addresses. Nothing clinical goes
by email: counts, times, urgency and references, with links to the portal. A mail server that is down
loses nothing: the digest is emailed once it is back."""

from __future__ import annotations

import email
import socket
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from callcenter import digests
from callcenter.extensions import db
from callcenter.models import Digest, Practice
from ops.jobs import DIGEST_SLOT, reconcile
from tests.support import PATIENT, log_in, make_call, make_message

SECRET_WORDS = "chest pain since this morning"


class Inbox:
    def __init__(self):
        self.mails: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.mails.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(app):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{controller.port}"
    app.config["SMTP_FROM"] = "digests@answering.example.test"
    yield inbox
    controller.stop()


def _digest_time_passed(app, world, emails: str = "office@maple.example.test, doctor@maple.example.test"):
    """Maple Street wants its digest at a time that passed an hour ago (its own time), emailed."""
    from zoneinfo import ZoneInfo

    with app.app_context():
        maple = db.session.get(Practice, world["maple"])
        an_hour_ago = datetime.now(ZoneInfo(maple.timezone)) - timedelta(hours=1)
        maple.digest_at = an_hour_ago.time().replace(second=0, microsecond=0)
        maple.digest_emails = emails
        db.session.commit()


def test_the_digest_is_made_at_the_practices_time_and_emailed_with_nothing_clinical(app, world, smtp, client):
    now = datetime.now(UTC)
    call_id = make_call(app, world["maple"], at=now - timedelta(hours=3))
    make_message(app, world["maple"], at=now - timedelta(hours=3), call_id=call_id, urgency="urgent",
                 body=SECRET_WORDS)
    make_message(app, world["harbor"], at=now - timedelta(hours=3), body="Harbor's own")
    _digest_time_passed(app, world)
    with app.app_context():
        result = reconcile()
    assert len(result["digests_made"]) == 2  # each practice's, once its time has come
    assert len(result["digests_sent"]) == 1  # only Maple Street gave addresses
    [mail] = smtp.mails
    assert mail["To"] == "office@maple.example.test, doctor@maple.example.test"
    assert mail["From"] == "digests@answering.example.test"
    assert mail["Subject"].startswith("Answering service summary for ")
    body = mail.get_payload()
    assert "Messages: 1 (1 urgent), 1 not acknowledged yet" in body
    assert f"urgent message, ref {call_id}, NOT ACKNOWLEDGED" in body
    assert SECRET_WORDS not in body and PATIENT not in body and "Harbor" not in body

    app.redis.delete(DIGEST_SLOT)
    with app.app_context():
        again = reconcile()
    assert again["digests_made"] == [] and again["digests_sent"] == []  # once a day
    assert log_in(client, "desk@maple.test").status_code == 302
    page = client.get("/portal/digests").get_data(as_text=True)
    assert f"urgent message, ref {call_id}" in page and "Emailed" in page


def test_a_mail_server_that_is_down_loses_no_digest(app, world):
    closed = _free_port()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{closed}"
    _digest_time_passed(app, world)
    with app.app_context():
        result = reconcile()
        [made] = [d for d in db.session.scalars(select(Digest)) if d.practice_id == world["maple"]]
        assert result["digests_sent"] == [] and made.emailed_at is None
        assert made.email_error.startswith("ConnectionRefusedError")

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=closed)  # the server is back
    controller.start()
    try:
        with app.app_context():
            later = datetime.now(UTC) + digests.RETRY_EVERY
            assert digests.send_owed(db.session, digests.Mailer.from_url(app.config["SMTP_URL"], "d@x.test"),
                                     later)[0] == [made.id]
    finally:
        controller.stop()
    assert len(inbox.mails) == 1


def test_the_digest_settings_are_checked(cli, world):
    for option, value, said in [("--digest-at", "7am", "HH:MM"),
                                ("--digest-emails", "office at maple", "not an email")]:
        result = cli.invoke(args=["practice", "configure", "--practice", str(world["maple"]), option, value])
        assert result.exit_code != 0 and said in result.output
    assert cli.invoke(args=["practice", "configure", "--practice", str(world["maple"]), "--digest-at", "06:30",
                            "--digest-emails", "office@maple.example.test"]).exit_code == 0


def test_an_smtp_url_is_read_as_the_contract_says():
    mailer = digests.Mailer.from_url("smtp://user%40x:p%3Ass@mail.example.test:587", "d@x.test")
    assert (mailer.host, mailer.port, mailer.username, mailer.password, mailer.tls) == (
        "mail.example.test", 587, "user@x", "p:ss", "starttls")
    assert digests.Mailer.from_url("smtps://mail.example.test", "d@x.test").port == 465
    assert digests.Mailer.from_url(None, "d@x.test") is None
    with pytest.raises(ValueError):
        digests.Mailer.from_url("http://mail.example.test", "d@x.test")
