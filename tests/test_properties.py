"""Properties of the Twilio-facing webhooks, checked with generated input against the real app, database and Redis.

Hypothesis runs many examples inside one test function, so function-scoped fixtures (the app, its
database and Redis) are shared by every example of a test. Each example therefore works on calls of
its own (fresh CallSids) and asserts only about those, instead of relying on a reset between examples.
"""

from __future__ import annotations

import itertools
import os
import string
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from callcenter import calls
from callcenter.callbacks import PendingNumbers
from callcenter.extensions import db
from callcenter.models import Call, CallbackTask, CallEvent, User
from tests.support import MAPLE_NUMBER, PATIENT, TwilioSigner, incoming

# database=None: examples are not saved under the work tree; deadline=None: PostgreSQL round trips vary.
# PROPERTY_EXAMPLES=10 multiplies every test's examples by ten, for a deeper run on demand.
SCALE = int(os.environ.get("PROPERTY_EXAMPLES", "1"))
PROPERTY = settings(max_examples=40 * SCALE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

_sids = itertools.count(1)


def fresh_sid() -> str:
    return f"CA{next(_sids):032x}"


# --- 1. Status callbacks: any order, any duplication, the same recorded state --------------------------------

SEQUENCE = {"initiated": 0, "ringing": 1, "in-progress": 2, "answered": 2, "completed": 3}


@st.composite
def status_deliveries(draw) -> list[str]:
    """A subset of one call's status callbacks, each delivered 1-3 times, in any order."""
    # Twilio reports an answered call as `in-progress` (the event is named `answered`); one call carries one.
    answered = draw(st.sampled_from(["in-progress", "answered"]))
    sent = draw(st.lists(st.sampled_from(["initiated", "ringing", answered, "completed"]), unique=True, max_size=4))
    copies = [status for status in sent for _ in range(draw(st.integers(1, 3)))]
    return draw(st.permutations(copies))


@pytest.mark.slow
@PROPERTY
@given(deliveries=status_deliveries(), queued=st.booleans())
def test_status_callbacks_in_any_order_and_number_record_the_same_state(app, twilio, agent_on_duty, deliveries,
                                                                          queued):
    sid = fresh_sid()
    assert twilio.post("/ivr/voice", incoming(sid=sid)).status_code == 200
    if queued:
        assert twilio.post("/ivr/menu?attempt=1", incoming(sid=sid, Digits="2")).status_code == 200

    for status in deliveries:
        extra = {"CallStatus": status, "SequenceNumber": str(SEQUENCE[status]),
                 "CallbackSource": "call-progress-events"}
        if status == "completed":
            extra["CallDuration"] = "42"
        assert twilio.post("/ivr/status", incoming(sid=sid, **extra)).status_code == 204

    sent = set(deliveries)
    ended = "completed" in sent
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == sid))
        assert call.state == ("abandoned" if ended else "queued" if queued else "ivr")
        assert call.telephony_status == (max(sent, key=SEQUENCE.get) if sent else None)
        assert call.last_sequence == max((SEQUENCE[s] for s in sent), default=-1)
        assert (call.ended_at is not None) == ended
        assert call.duration_seconds == (42 if ended else None)
        kinds = db.session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call.id)).all()
        assert kinds.count("status") == len(sent)
        assert kinds.count("abandoned") == (1 if ended else 0)
        tasks = db.session.scalars(select(CallbackTask).where(CallbackTask.call_id == call.id)).all()
        assert [(t.reason, t.number) for t in tasks] == ([("abandoned", PATIENT)] if ended else [])
        waiting = app.call_queue.position(call.id) is not None
        assert waiting == (queued and not ended)
        app.call_queue.remove(call.id)  # keep the shared queue short for the next examples


# --- 2. Arbitrary, correctly signed webhook input never gets a 5xx, and TwiML is always well formed -------------

VOICE_VERBS = {"Say", "Play", "Pause", "Gather", "Redirect", "Hangup", "Reject", "Enqueue", "Leave", "Dial", "Record"}
GATHER_CHILDREN = {"Say", "Play", "Pause"}
DIAL_NOUNS = {"Number", "Client", "Conference", "Queue", "Sip", "Sim", "Application"}
STATUS_ROUTES = {"/ivr/status", "/ivr/transcription", "/ivr/agent-leg/{id}", "/ivr/consult-status/{id}",
                 "/sms/status", "/ivr/call-recording"}
ROUTES = [
    "/ivr/voice", "/ivr/menu?attempt={q}", "/ivr/wait", "/ivr/queue-exit", "/ivr/keep-place",
    "/ivr/keep-place/choice", "/ivr/keep-place/number", "/ivr/keep-place/confirm", "/ivr/connect/{id}",
    "/ivr/dial-done/{id}", "/ivr/on-call-done/{id}", "/ivr/goodbye?call={q}", "/ivr/voicemail",
    "/ivr/transcription", "/ivr/status", "/sms/inbound",
    # hold, consult, whispers, page call-downs and receipts
    "/ivr/agent-leg/{id}", "/ivr/agent-whisper/{id}", "/ivr/agent-whisper-key/{id}", "/ivr/back-in-line/{id}",
    "/ivr/agent-room/{id}", "/ivr/patient-room-done/{id}", "/ivr/consult-leg/{id}", "/ivr/consult-status/{id}",
    "/ivr/clinician-joins/{id}", "/ivr/on-call-whisper/{id}", "/ivr/on-call-whisper-key/{id}",
    "/ivr/page-call/{id}", "/ivr/page-call-key/{id}", "/sms/status",
    # recorded conversations
    "/ivr/call-recording",
]
FIELDS = [
    "CallSid", "AccountSid", "From", "To", "CallStatus", "Direction", "ApiVersion", "Digits", "SpeechResult",
    "Confidence", "SequenceNumber", "CallDuration", "CallbackSource", "Timestamp", "QueueResult", "QueuePosition",
    "QueueTime", "DialCallStatus", "DialCallDuration", "DialCallSid", "RecordingUrl", "RecordingSid",
    "RecordingDuration", "RecordingStatus", "RecordingChannels", "TranscriptionText", "TranscriptionStatus",
    "MessageSid", "Body", "ForwardedFrom",
]
ODD_VALUES = [
    "", " ", "1", "2", "9", "0", "#", "*", "#*9", "1" * 200, "٣", "-1", "1e9", "NaN", "99999999999999999999",
    "completed", "in-progress", "answered", "no-answer", "hangup", "queue-full", "bridged", "leave", "busy",
    "anonymous", "client:agent-1", "+14155550123", MAPLE_NUMBER, "urgent", "chest pain", "I need a refill",
    "x" * 20_000, "\x00", "💊 ñ 中文", "<Response><Hangup/></Response>", "]]>&<'\"",
]
values = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.text(max_size=60),
    st.text(alphabet="0123456789#*", max_size=220),
    st.integers(-(2**70), 2**70).map(str),
)
forms = st.builds(lambda known, extra: {**extra, **known},
                  st.dictionaries(st.sampled_from(FIELDS), values, max_size=10),
                  st.dictionaries(st.text(max_size=20), values, max_size=4))
query_values = st.one_of(st.integers(-(2**70), 2**70).map(str), st.text(string.ascii_letters + string.digits + "-_.~",
                                                                       max_size=12))
# Whose call the webhook is about: none, one we never heard of, or one of ours in a given state.
SID_ROLES = ["missing", "unknown", "garbage", "ivr", "queued", "connecting"]


@st.composite
def webhooks(draw, route: str):
    role = draw(st.sampled_from(SID_ROLES))
    form = draw(forms)
    path_id = draw(st.one_of(st.none(), st.integers(0, 2**70)))  # None: the id of the role's call
    query = draw(st.one_of(st.none(), query_values))  # None: no query at all
    pending_number = draw(st.booleans())  # a keyed-in callback number waiting for confirmation
    garbage_sid = draw(values)
    return role, form, path_id, query, pending_number, garbage_sid


def _call_in(app, twilio, role: str, pending_number: bool) -> tuple[str, int | None]:
    """A call of our own in the state `role` names; its CallSid and id."""
    sid = fresh_sid()
    twilio.post("/ivr/voice", incoming(sid=sid))
    if role in ("queued", "connecting"):
        twilio.post("/ivr/menu?attempt=1", incoming(sid=sid, Digits="2"))
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == sid))
        if role == "connecting" and call.state == "queued":
            agent = db.session.scalar(select(User).where(User.email == "alice@example.test"))
            calls.take(db.session, app.call_queue, app.presence, app.gateway, call.id, agent, f"http://localhost/ivr/connect/{call.id}")
            app.presence.set_available(agent.id, call.created_at)  # stay on duty for the next examples
        if pending_number:
            PendingNumbers(app.redis).keep(call.id, "+14155550199")
        return sid, call.id


def _request_path(route: str, call_id: int | None, path_id: int | None, query: str | None) -> str:
    path = route.format(id=path_id if path_id is not None else (call_id or 1), q="")
    if "?" in path:
        path = path.split("?")[0]
        if query is not None:
            key = "attempt" if path == "/ivr/menu" else "call"
            path += "?" + urlencode({key: query})
    return path


def assert_valid_twiml(body: bytes, sms: bool) -> None:
    root = ElementTree.fromstring(body)
    assert root.tag == "Response"
    allowed = {"Message", "Redirect"} if sms else VOICE_VERBS
    for verb in root:
        assert verb.tag in allowed, verb.tag
        if verb.tag == "Gather":
            assert {child.tag for child in verb} <= GATHER_CHILDREN
        if verb.tag == "Dial":
            assert {child.tag for child in verb} <= DIAL_NOUNS
        if verb.tag == "Enqueue":
            assert 0 < len(verb.text or "") <= 64


@pytest.mark.parametrize("route", ROUTES)
def test_signed_webhooks_with_any_fields_never_answer_5xx_and_answer_valid_twiml(app, twilio, agent_on_duty, route):
    @settings(PROPERTY, max_examples=25 * SCALE)
    @given(webhook=webhooks(route))
    def check(webhook):
        role, form, path_id, query, pending_number, garbage_sid = webhook
        form = dict(form)
        call_id = None
        if role in ("ivr", "queued", "connecting"):
            form["CallSid"], call_id = _call_in(app, twilio, role, pending_number)
        elif role == "unknown":
            form["CallSid"] = fresh_sid()
        elif role == "garbage":
            form["CallSid"] = garbage_sid
        else:
            form.pop("CallSid", None)
        path = _request_path(route, call_id, path_id, query)

        response = twilio.post(path, form)

        assert response.status_code < 500
        assert response.status_code != 403, "a correctly signed request was refused"
        if route in STATUS_ROUTES:
            assert response.status_code in (200, 204)
        else:
            assert response.status_code == 200
        if response.status_code == 200:
            assert response.mimetype == "text/xml"
            assert_valid_twiml(response.data, sms=route.startswith("/sms/"))

    check()


# --- 3. A wrong signature is refused on every route and writes no call ------------------------------------------

@st.composite
def forged(draw):
    route = draw(st.sampled_from(ROUTES))
    form = draw(forms)
    form["CallSid"] = fresh_sid()
    form.setdefault("To", MAPLE_NUMBER)
    how = draw(st.sampled_from(["missing", "garbage", "other_url", "other_form", "other_token"]))
    return route, form, how, draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40))


def test_a_wrong_signature_is_refused_on_every_route_and_writes_no_call(app, twilio, world):
    wrong_token = TwilioSigner(twilio.client, token="not-the-auth-token")

    @settings(PROPERTY, max_examples=60 * SCALE)
    @given(attempt=forged())
    def check(attempt):
        route, form, how, garbage = attempt
        path = _request_path(route, None, 1, "1")
        url = twilio.base + path
        signature = {
            "missing": "",
            "garbage": garbage,
            "other_url": twilio.validator.compute_signature(url + "x", form),
            "other_form": twilio.validator.compute_signature(url, {**form, "Digits": form.get("Digits", "") + "1"}),
            "other_token": wrong_token.validator.compute_signature(url, form),
        }[how]
        with app.app_context():
            before = db.session.scalar(select(func.count(Call.id)))
        response = twilio.post(path, form, signature=signature)
        assert response.status_code == 403
        with app.app_context():
            assert db.session.scalar(select(func.count(Call.id))) == before

    check()
