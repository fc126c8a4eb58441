"""Patients' numbers, names and messages stay out of the logs, even when something breaks."""

from __future__ import annotations

import logging

import pytest

from agents_ui.events import UNEXPECTED
from callcenter import calls
from callcenter.extensions import db
from callcenter.models import Call
from tests.support import PATIENT, answer_call, ask, waiting_call
from tests.twilio_recorder import RecordingHttpClient


class BrokenTransport(RecordingHttpClient):
    """Twilio's transport failing with an error whose text quotes a patient's number and the call."""

    broken = False

    def request(self, method, url, params=None, data=None, **kwargs):
        if self.broken:
            raise RuntimeError(f"could not reach {url} about {PATIENT}")
        return super().request(method, url, params=params, data=data, **kwargs)


@pytest.fixture
def twilio_http() -> BrokenTransport:
    return BrokenTransport()


def test_it_logs_a_failure_without_the_patients_data(app, alice, twilio_http, caplog):
    call_id = waiting_call(app)
    answer_call(app, alice, call_id)
    ask(alice, "wrap_up", {"call_id": call_id, "disposition": "message_taken", "message": "Chest pain since noon.",
                           "caller_name": "Pat Doe", "callback_number": PATIENT, "callback_confirmed": True})
    second = waiting_call(app, call_sid="CA" + "c" * 32)
    answer_call(app, alice, second)
    with app.app_context():
        calls.connected(db.session, db.session.get(Call, second))
        db.session.commit()
    caplog.set_level(logging.DEBUG)
    twilio_http.broken = True

    answer = ask(alice, "hangup", {"call_id": second})

    assert answer == {"ok": False, "error": UNEXPECTED}
    [record] = [r for r in caplog.records if r.name == "agents_ui.events"]
    assert "RuntimeError" in record.getMessage() and "hangup" in record.getMessage()
    for secret in (PATIENT, PATIENT[2:], "CA" + "c" * 32, "Chest pain", "Pat Doe"):
        assert secret not in caplog.text
