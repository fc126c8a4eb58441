import re
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.accounts import create_api_key
from callcenter.extensions import db
from callcenter.models import ApiKey, AuditEntry, SecurityEvent
from tests.support import T0, make_call, make_message

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def _key(app, practice_id: int) -> tuple[int, str]:
    with app.app_context():
        key, plain = create_api_key(db.session, practice_id)
        db.session.commit()
        return key.id, plain


class Api:
    """A practice's system calling the API with its key."""

    def __init__(self, client, key: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}

    def get(self, path: str, **query):
        return self.client.get(f"/api/v1{path}", query_string=query, headers=self.headers)


@pytest.fixture
def maple_api(app, client, world):
    return Api(client, _key(app, world["maple"])[1])


def test_it_refuses_a_request_without_a_key(client, world):
    response = client.get("/api/v1/calls")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.get_json()["error"]


@pytest.mark.parametrize("header", ["Bearer ak_nope_123", "Basic ZGVzazpwdw==", "Bearer "])
def test_it_refuses_a_bad_key(client, world, header):
    response = client.get("/api/v1/calls", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]


def test_it_refuses_a_revoked_key_and_records_it_without_the_key(app, client, world):
    key_id, plain = _key(app, world["maple"])
    api = Api(client, plain)
    assert api.get("/calls").status_code == 200
    with app.app_context():
        db.session.get(ApiKey, key_id).revoked_at = datetime.now(UTC)
        db.session.commit()
    response = api.get("/calls")
    assert response.status_code == 401
    assert response.get_json() == {"error": "this API key is not valid or has been revoked"}
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    with app.app_context():
        events = db.session.query(SecurityEvent).filter_by(kind="api_key_refused").all()
        assert len(events) == 1 and plain not in (events[0].detail or "") + events[0].path


def test_it_lists_only_the_keys_practices_calls_newest_first(app, maple_api, world):
    older = make_call(app, world["maple"], at=T0 - timedelta(hours=1))
    newer = make_call(app, world["maple"], at=T0, priority=1, reason="urgent", disposition="message_taken",
                      notes="Fever 39.5", answered_at=T0 + timedelta(seconds=95),
                      ended_at=T0 + timedelta(seconds=300), duration_seconds=300, outcome="message_taken")
    message_id = make_message(app, world["maple"], call_id=newer)
    make_call(app, world["harbor"], at=T0)
    response = maple_api.get("/calls")
    assert response.status_code == 200
    body = response.get_json()
    assert [c["id"] for c in body["data"]] == [newer, older]
    assert body["page"] == 1 and body["next_page"] is None
    assert body["data"][0] == {
        "id": newer, "from": "+14155550123", "to": "+14155550101", "direction": "inbound",
        "state": "wrapped_up", "outcome": "message_taken", "reason": "urgent", "priority": "urgent",
        "disposition": "message_taken", "notes": "Fever 39.5", "created_at": "2026-11-27T17:05:00+00:00",
        "answered_at": "2026-11-27T17:06:35+00:00", "ended_at": "2026-11-27T17:10:00+00:00",
        "duration_seconds": 300, "message_ids": [message_id],
    }
    assert body["data"][1]["priority"] == "routine" and body["data"][1]["answered_at"] is None


def test_it_shows_a_call_with_its_events(app, maple_api, world):
    call_id = make_call(app, world["maple"])
    body = maple_api.get(f"/calls/{call_id}").get_json()
    assert [e["kind"] for e in body["events"]] == ["entered_ivr", "queued", "connected", "wrapped_up"]
    assert body["events"][1] == {"kind": "queued", "at": "2026-11-27T17:06:00+00:00", "data": {"step": 1}}
    assert body["message_ids"] == []


def test_it_lists_and_shows_messages(app, maple_api, world):
    call_id = make_call(app, world["maple"])
    mine = make_message(app, world["maple"], call_id=call_id, urgency="urgent", body="Chest pain.")
    make_message(app, world["harbor"], body="Harbor only.")
    body = maple_api.get("/messages").get_json()
    assert body == {"data": [maple_api.get(f"/messages/{mine}").get_json()], "page": 1, "next_page": None}
    assert body["data"][0] == {
        "id": mine, "call_id": call_id, "urgency": "urgent", "caller_name": "Pat Doe",
        "callback_number": "+14155550123", "body": "Chest pain.", "created_at": "2026-11-27T17:05:00+00:00",
        "delivered_at": "2026-11-27T17:05:05+00:00", "acknowledged_at": None,
    }


@pytest.mark.parametrize("kind", ["calls", "messages"])
def test_it_answers_another_practices_id_exactly_like_a_missing_one(app, maple_api, world, kind):
    theirs = make_call(app, world["harbor"]) if kind == "calls" else make_message(app, world["harbor"])
    other = maple_api.get(f"/{kind}/{theirs}")
    missing = maple_api.get(f"/{kind}/{theirs + 1000}")
    assert other.status_code == missing.status_code == 404
    assert other.get_json() == {"error": "not found"}
    assert other.get_data() == missing.get_data()
    assert dict(other.headers) == dict(missing.headers)
    assert maple_api.get(f"/{kind}/not-a-number").get_json() == {"error": "not found"}
    assert maple_api.get(f"/{kind}/99999999999999999999").status_code == 404


def test_it_filters_calls_by_time_and_status(app, maple_api, world):
    before = make_call(app, world["maple"], at=T0 - timedelta(hours=1))
    at_start = make_call(app, world["maple"], at=T0)
    abandoned = make_call(app, world["maple"], at=T0 + timedelta(minutes=30), state="abandoned")
    make_call(app, world["maple"], at=T0 + timedelta(hours=1))
    window = {"since": "2026-11-27T12:05:00-05:00", "until": "2026-11-27T18:05:00Z"}
    assert [c["id"] for c in maple_api.get("/calls", **window).get_json()["data"]] == [abandoned, at_start]
    assert [c["id"] for c in maple_api.get("/calls", status="abandoned").get_json()["data"]] == [abandoned]
    assert [c["id"] for c in maple_api.get("/calls", until="2026-11-27T17:05:00+00:00").get_json()["data"]] \
        == [before]


def test_it_reads_an_offset_whose_plus_sign_was_not_escaped(app, client, maple_api, world):
    make_call(app, world["maple"], at=T0 - timedelta(hours=1))
    late = make_call(app, world["maple"], at=T0)
    response = client.get("/api/v1/calls?since=2026-11-27T17:00:00+00:00", headers=maple_api.headers)
    assert [c["id"] for c in response.get_json()["data"]] == [late]


def test_it_filters_messages_by_time(app, maple_api, world):
    make_message(app, world["maple"], at=T0 - timedelta(days=1))
    today = make_message(app, world["maple"], at=T0)
    body = maple_api.get("/messages", since="2026-11-27T00:00:00+00:00").get_json()
    assert [m["id"] for m in body["data"]] == [today]


def test_it_pages_through_calls(app, maple_api, world):
    ids = [make_call(app, world["maple"], at=T0 + timedelta(minutes=i), events=()) for i in range(51)]
    first = maple_api.get("/calls").get_json()
    assert len(first["data"]) == 50 and first["page"] == 1 and first["next_page"] == 2
    second = maple_api.get("/calls", page=2).get_json()
    assert [c["id"] for c in second["data"]] == [ids[0]]
    assert second["page"] == 2 and second["next_page"] is None
    assert maple_api.get("/calls", page=3).get_json() == {"data": [], "page": 3, "next_page": None}


@pytest.mark.parametrize(("path", "query", "parameter"), [
    ("/calls", {"since": "yesterday"}, "since"),
    ("/calls", {"until": "2026-13-45"}, "until"),
    ("/calls", {"status": "lost"}, "status"),
    ("/calls", {"page": "0"}, "page"),
    ("/calls", {"page": "two"}, "page"),
    ("/calls", {"page": "-1"}, "page"),
    ("/calls", {"since": "2026-11-28T00:00:00Z", "until": "2026-11-27T00:00:00Z"}, "until"),
    ("/messages", {"since": "noon"}, "since"),
    ("/messages", {"page": "1.5"}, "page"),
])
def test_it_names_the_parameter_it_cannot_use(maple_api, path, query, parameter):
    response = maple_api.get(path, **query)
    assert response.status_code == 400
    body = response.get_json()
    assert body["parameter"] == parameter
    assert body["error"].startswith(f"{parameter}: ")


def test_it_writes_times_as_iso_8601_with_an_offset(app, maple_api, world):
    call_id = make_call(app, world["maple"], answered_at=T0 + timedelta(seconds=30), ended_at=T0 + timedelta(
        minutes=5))
    make_message(app, world["maple"], call_id=call_id)
    call = maple_api.get(f"/calls/{call_id}").get_json()
    message = maple_api.get("/messages").get_json()["data"][0]
    times = [call["created_at"], call["answered_at"], call["ended_at"], *(e["at"] for e in call["events"]),
             message["created_at"], message["delivered_at"]]
    assert all(ISO_WITH_OFFSET.match(t) for t in times), times
    assert datetime.fromisoformat(call["created_at"]) == T0


def test_it_audits_what_each_key_read(app, client, world):
    key_id, plain = _key(app, world["maple"])
    api = Api(client, plain)
    call_id = make_call(app, world["maple"])
    message_id = make_message(app, world["maple"], call_id=call_id)
    api.get("/calls")
    api.get(f"/messages/{message_id}")
    api.get(f"/calls/{call_id + 1000}")
    with app.app_context():
        entries = [(e.api_key_id, e.user_id, e.action, e.object_type, e.object_id)
                   for e in db.session.query(AuditEntry).order_by(AuditEntry.id)]
    assert entries == [(key_id, None, "list", "call", call_id), (key_id, None, "view", "message", message_id)]


def test_it_sets_no_cookies(app, maple_api, world):
    make_call(app, world["maple"])
    for path in ("/calls", "/messages"):
        response = maple_api.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        assert response.headers["Cache-Control"] == "no-store"
    assert maple_api.client.get_cookie("session") is None
