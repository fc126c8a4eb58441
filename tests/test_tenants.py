"""The cross-tenant matrix: every portal page and API operation that names a call, a message or a recording,
asked by Maple Street's staff (or Maple Street's key) for Harbor Pediatrics' own. Each answers exactly as for
one that does not exist, changes nothing of Harbor's, and the look is audited as refused. The routes are
read from the app itself: a new route that names an object fails here until it is in the matrix."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from callcenter import schedule
from callcenter.accounts import create_api_key
from callcenter.extensions import db
from callcenter.models import AuditEntry, CallRecording, Message, OnCallRotation, User
from tests.support import csrf_token, log_in, make_call, make_message, without_csrf_token

MISSING = 99_999_999
# Each route that names an object: which of Harbor's objects fills each of its parts.
PORTAL = {
    "/portal/calls/<call_id>": {"call_id": "call"},
    "/portal/calls/<call_id>/recordings/<recording_id>": {"call_id": "call", "recording_id": "recording"},
    "/portal/messages/<message_id>": {"message_id": "message"},
    "/portal/messages/<message_id>/recording": {"message_id": "voicemail"},
    "/portal/messages/<message_id>/acknowledge": {"message_id": "message"},
    "/portal/messages/<message_id>/undo": {"message_id": "message"},
    "/portal/on-call/rotations/<rotation_id>/remove": {"rotation_id": "rotation"},
    "/portal/users/<user_id>/disable": {"user_id": "person"},
}
API = {
    "/api/v1/calls/<call_id>": {"call_id": "call"},
    "/api/v1/messages/<message_id>": {"message_id": "message"},
    "/api/v1/messages/<message_id>/acknowledge": {"message_id": "message"},
}


def _routes(app, prefix: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix) and rule.arguments and not rule.endpoint.endswith(".static"):
            found.setdefault(rule.rule, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    return found


def test_every_route_that_names_an_object_is_in_the_matrix(app):
    assert set(_routes(app, "/portal/")) == set(PORTAL)
    assert set(_routes(app, "/api/v1/")) == set(API)


@pytest.fixture
def harbors(app, world) -> dict[str, int]:
    """Harbor Pediatrics' call, message, voicemail and recorded conversation."""
    call = make_call(app, world["harbor"])
    message = make_message(app, world["harbor"], call_id=call)
    with app.app_context():
        voicemail = Message(practice_id=world["harbor"], call_id=call, kind="voicemail", needs_review=True,
                            body="Voicemail, 20 seconds.", recording_url="https://api.twilio.com/2010-04-01/"
                            "Accounts/AC1/Recordings/RE" + "1" * 32)
        recording = CallRecording(practice_id=world["harbor"], call_id=call, recording_sid="RE" + "2" * 32,
                                  status="kept", audio=b"RIFF....", created_at=datetime.now(UTC))
        db.session.add_all([voicemail, recording])
        rotation = schedule.add_rotation(db.session, world["harbor"], "Dr. Harbor", "+16175550177", "mon-sun",
                                         "18:00-08:00")
        db.session.commit()
        return {"call": call, "message": message, "voicemail": voicemail.id, "recording": recording.id,
                "rotation": rotation.id, "person": world["harbor_staff"]}


def _path(rule: str, parts: dict[str, str], ids: dict[str, int] | None) -> str:
    return re.sub(r"<(\w+)>", lambda m: str(ids[parts[m.group(1)]] if ids else MISSING), rule)


def _refusals(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "refused")).all())


def _harbors_unchanged(app, harbors) -> None:
    with app.app_context():
        assert db.session.get(Message, harbors["message"]).acknowledged_at is None
        assert db.session.get(Message, harbors["voicemail"]).needs_review is True
        assert db.session.get(OnCallRotation, harbors["rotation"]) is not None
        assert db.session.get(User, harbors["person"]).active


@pytest.mark.parametrize("who", ["desk@maple.test", "admin"])
def test_maple_street_staff_get_harbors_objects_exactly_as_missing_ones(app, world, harbors, who, request):
    """As Maple's front desk, and as Maple's own admin (who may change Maple's rotations and people: never
    Harbor's)."""
    desk = app.test_client()
    if who == "admin":
        who = request.getfixturevalue("maple_admin_account")
    assert log_in(desk, who).status_code == 302
    token = csrf_token(desk.get("/portal/messages"))
    for rule, methods in _routes(app, "/portal/").items():
        for method in methods:
            answers = []
            for ids in (harbors, None):
                before = _refusals(app)
                path = _path(rule, PORTAL[rule], ids)
                # A form's answer is followed to the page it shows, with what it says (its flashed message).
                answer = desk.get(path) if method == "GET" else desk.post(path, data={"csrf_token": token},
                                                                          follow_redirects=True)
                # The ids themselves differ; nothing else may (a redirect names the page it goes back to).
                body = without_csrf_token(answer.get_data(as_text=True))  # a fresh token on every page
                answers.append((answer.status_code, re.sub(r"/\d+", "/ID", body),
                                re.sub(r"/\d+", "/ID", answer.headers.get("Location", ""))))
                if ids is harbors and method == "GET":
                    assert _refusals(app) > before, f"{method} {rule}: the look at Harbor's was not audited"
            theirs, missing = answers
            assert theirs[0] == 404, f"{method} {rule} answered {theirs[0]}"
            assert theirs == missing, f"{method} {rule}: Harbor's answers differently from a missing one"
    # In bulk, too: Harbor's ids among the ticked ones are skipped.
    desk.post("/portal/messages/acknowledge", data={"csrf_token": token, "message_id": [harbors["message"]]})
    _harbors_unchanged(app, harbors)


def test_maple_streets_key_gets_harbors_objects_exactly_as_missing_ones(app, client, world, harbors):
    with app.app_context():
        _, key = create_api_key(db.session, world["maple"], can_write=True)
        db.session.commit()
    headers = {"Authorization": f"Bearer {key}"}
    for rule, methods in _routes(app, "/api/v1/").items():
        for method in methods:
            answers = []
            for ids in (harbors, None):
                path = _path(rule, API[rule], ids)
                answer = client.open(path, method=method, headers=headers)
                answers.append((answer.status_code, answer.get_json()))
            assert answers[0][0] == 404 and answers[0] == answers[1], f"{method} {rule}: {answers}"
    _harbors_unchanged(app, harbors)
