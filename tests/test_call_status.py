"""Twilio's call status callbacks: applied once however often they come, one after another when they
come together, and (tests/test_kept.py) kept when they cannot be applied."""

import json
import random
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from callcenter.call_status import apply
from callcenter.extensions import db
from callcenter.kept import FIELDS, KeptWebhooks
from callcenter.models import Call, CallbackTask, CallEvent
from tests.support import PATIENT, TwilioSigner, incoming, waiting_call

HUNG_UP = {"CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "40"}


def _abandoned(app) -> list[int]:
    """The calls recorded as abandoned, in the order it happened."""
    with app.app_context():
        return db.session.scalars(select(CallEvent.call_id).where(CallEvent.kind == "abandoned")
                                  .order_by(CallEvent.id)).all()


def test_a_hang_up_twilio_sends_twice_is_applied_once(app, world):
    call_id = waiting_call(app)

    with app.app_context():
        first = apply(db.session, app.call_queue, app.followups, incoming(**HUNG_UP))
        again = apply(db.session, app.call_queue, app.followups, incoming(**HUNG_UP))
        [task] = db.session.scalars(select(CallbackTask)).all()
        assert (task.call_id, task.number, task.reason) == (call_id, PATIENT, "abandoned")

    assert (first.abandoned, again.abandoned) == (True, False)
    assert _abandoned(app) == [call_id]
    assert app.task_queue.job_ids == [f"send_callback_sms-{task.id}"]  # one SMS saying when we call back
    assert len(app.call_queue) == 0


def test_status_callbacks_arriving_together_never_move_a_call_backwards(app, world):
    """Twilio sends a call's callbacks at once; whichever commits last, the call ends completed."""
    statuses = ["ringing", "in-progress", "completed"]
    sids = ["CA" + f"{n:032d}" for n in range(12)]
    for sid in sids:
        waiting_call(app, call_sid=sid)

    def post(sid: str, status: str, sequence: int) -> int:
        return TwilioSigner(app.test_client()).post(
            "/ivr/status", incoming(sid=sid, CallStatus=status, SequenceNumber=str(sequence))).status_code

    for sid in sids:  # each call's three callbacks at once, in a shuffled order
        order = random.Random(sid).sample(range(3), 3)
        with ThreadPoolExecutor(max_workers=3) as pool:
            codes = list(pool.map(lambda i, sid=sid: post(sid, statuses[i], i), order))
        assert codes == [204, 204, 204]

    with app.app_context():
        rows = db.session.execute(select(Call.call_sid, Call.telephony_status, Call.last_sequence, Call.state)
                                  .where(Call.call_sid.in_(sids))).all()
    assert sorted(rows) == [(sid, "completed", 2, "abandoned") for sid in sids]
    assert not app.redis.llen(KeptWebhooks.key)  # every one applied as it came, none kept for later


def test_only_the_fields_it_applies_are_kept_and_each_is_cut_short(app):
    app.kept.keep("status", incoming(CallStatus="completed", To="x" * 500, From="+1555\x000100",
                                     TranscriptionText="chest pain"))

    [raw] = app.redis.lrange(KeptWebhooks.key, 0, -1)
    kept = json.loads(raw)["fields"]
    assert set(kept) == set(FIELDS["status"])  # nothing else the patient said stays in Redis
    assert kept["To"] == "x" * 64
    assert kept["From"] == "+15550100"  # PostgreSQL refuses NUL characters: kept without them
    assert kept["SequenceNumber"] == ""
