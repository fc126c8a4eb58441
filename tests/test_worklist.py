"""No call ends unowned: a call that ended without an owned outcome and is on no list that someone works,
or one stuck on its way, reaches the supervisors' worklist within a round of the reconciler, once, with why,
urgent ones first; a supervisor takes it and says what was done, and the call's outcome is then theirs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter import worklist
from callcenter.extensions import db
from callcenter.models import Call, CallbackTask, CallEvent, Message, OnCallPage, User, WorklistItem
from ops.jobs import reconcile
from tests.support import ask, console_for, left_voicemail, make_call, received


def _now() -> datetime:
    return datetime.now(UTC)


def _ended(app, world, minutes_ago: float = 5, **fields) -> int:
    """A call of Maple Street's that ended `minutes_ago` without an outcome."""
    ended = _now() - timedelta(minutes=minutes_ago)
    fields = {"state": "completed", "events": ("entered_ivr",), **fields}
    return make_call(app, world["maple"], at=ended - timedelta(minutes=2), ended_at=ended, **fields)


def _raised(app) -> list[tuple[int, str, bool]]:
    with app.app_context():
        return [(i.call_id, i.reason, i.urgent)
                for i in db.session.scalars(select(WorklistItem).order_by(WorklistItem.id))]


def test_a_call_on_no_list_is_raised_once_with_why_and_urgent_ones_first(app, world):
    routine = _ended(app, world)
    urgent = _ended(app, world, priority=1)
    just_now = _ended(app, world, minutes_ago=0.5)  # a minute's grace: its outcome may be on its way
    sam = console_for(app, "sam@example.test")
    with app.app_context():
        assert len(reconcile()["raised_to_worklist"]) == 2
        assert worklist.raise_unowned(db.session, _now()) == []  # once
    assert _raised(app) == [(urgent, "no_outcome", True), (routine, "no_outcome", False)]
    assert just_now not in [call_id for call_id, _, _ in _raised(app)]
    notices = [n["text"] for n in received(sam, "supervisor_notice")]
    assert "1 urgent call(s) nobody owns are on the worklist: take them first." in notices
    items = [i for i in ask(sam, "snapshot")["worklist"] if i["kind"] == "unowned"]
    assert [(i["call_id"], i["urgent"], i["owner"]) for i in items] == [(urgent, True, None), (routine, False, None)]
    assert items[0]["why"] == "ended without an outcome, and on no list"


def test_calls_someone_already_works_on_are_not_raised(app, world):
    abandoned = _ended(app, world, state="abandoned")  # a callback is owed: the callbacks list has it
    with app.app_context():
        db.session.add(CallbackTask(practice_id=world["maple"], call_id=abandoned, number="+14155550123",
                                    reason="abandoned", due_at=_now()))
        paged = _ended(app, world, state="on_call")
        db.session.add(OnCallPage(practice_id=world["maple"], call_id=paged, status="sent", sent_at=_now()))
        db.session.commit()
    _ended(app, world, agent_id=world["alice"])  # Alice's wrap-up: raised on its own past its limit
    left_voicemail(app, 7)  # to review
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == f"CA{7:032d}"))
        call.ended_at = _now() - timedelta(minutes=5)
        db.session.commit()
        assert worklist.raise_unowned(db.session, _now()) == []


def test_a_caller_who_hung_up_from_a_withheld_number_is_raised_and_a_stuck_urgent_call_too(app, world):
    withheld = _ended(app, world, state="abandoned", from_number="anonymous")
    with app.app_context():
        db.session.add(CallbackTask(practice_id=world["maple"], call_id=withheld, number="anonymous",
                                    reason="abandoned", due_at=_now()))
        db.session.commit()
    stuck = make_call(app, world["maple"], at=_now() - timedelta(minutes=11), state="ivr", priority=1,
                      events=("entered_ivr",))
    not_yet = make_call(app, world["maple"], at=_now() - timedelta(minutes=11), state="ivr", events=("entered_ivr",))
    with app.app_context():
        reconcile()
    assert sorted(_raised(app)) == sorted([(withheld, "no_number_to_call_back", False), (stuck, "stuck", True)])
    assert not_yet not in [call_id for call_id, _, _ in _raised(app)]  # a routine call gets 30 minutes


def test_a_supervisor_takes_an_item_and_says_what_was_done(app, world):
    call_id = _ended(app, world)
    with app.app_context():
        reconcile()
    sam, alice = console_for(app, "sam@example.test"), console_for(app, "alice@example.test")
    [item] = [i for i in ask(sam, "snapshot")["worklist"] if i["kind"] == "unowned"]

    assert ask(alice, "take_item", {"item_id": item["item_id"]}) == {
        "ok": False, "error": "Only a supervisor can take a call from the worklist."}
    refused = ask(sam, "resolve_item", {"item_id": item["item_id"], "note": "Called back"})
    assert refused["error"] == "Take the item first: only its owner can say it is done."
    assert ask(sam, "take_item", {"item_id": item["item_id"]})["ok"] is True
    [taken] = [i for i in received(sam, "worklist")[-1]["worklist"] if i["kind"] == "unowned"]
    assert (taken["owner"], taken["owner_id"]) == ("Sam", world["sam"])
    assert ask(sam, "resolve_item", {"item_id": item["item_id"], "note": ""})["error"].startswith("Say what was done")
    assert ask(sam, "resolve_item", {"item_id": item["item_id"],
                                     "note": "Called the patient back: left a message."})["ok"] is True

    assert [i for i in received(sam, "worklist")[-1]["worklist"] if i["kind"] == "unowned"] == []
    with app.app_context():
        call = db.session.get(Call, call_id)
        assert call.outcome == "resolved_by_supervisor"
        kinds = db.session.scalars(select(CallEvent.kind).where(CallEvent.call_id == call_id)
                                   .order_by(CallEvent.id)).all()
        assert kinds[-4:] == ["raised_to_worklist", "worklist_taken", "worklist_resolved", "outcome"]
        assert db.session.scalar(select(WorklistItem.note)) == "Called the patient back: left a message."


@pytest.mark.browser
@pytest.mark.slow
def test_in_the_browser_a_supervisor_takes_an_item_and_resolves_it(app, world, live_app, browser):
    from playwright.sync_api import expect

    from tests.support import csp_refusals, log_in_browser

    call_id = _ended(app, world, priority=1)
    page = browser.new_context().new_page()
    refusals = csp_refusals(page)
    log_in_browser(page, live_app.url, "sam@example.test")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
    with app.app_context():
        reconcile()  # the worker's round raises it; the console hears at once
    item = page.locator("#worklist li[data-item-id]")
    expect(item).to_contain_text("Urgent", timeout=5_000)
    expect(item).to_contain_text(f"call {call_id} ended without an outcome")
    item.locator("button.take-item").click()
    note = item.locator("input[name=note]")
    expect(note).to_be_visible(timeout=5_000)
    note.fill("Called the patient back; they are fine.")
    item.locator("button[type=submit]").click()
    expect(page.locator("#worklist li[data-item-id]")).to_have_count(0, timeout=5_000)
    with app.app_context():
        assert db.session.get(Call, call_id).outcome == "resolved_by_supervisor"
    assert refusals == []


def test_a_callback_promised_by_text_is_raised_before_it_is_late(app, world):
    call_id = _ended(app, world, state="abandoned")
    with app.app_context():
        task = CallbackTask(practice_id=world["maple"], call_id=call_id, number="+14155550123", reason="abandoned",
                            due_at=_now() + timedelta(minutes=12), sms_sid="SM" + "1" * 32)
        db.session.add(task)
        db.session.commit()
        assert worklist.raise_unowned(db.session, _now()) == []  # 12 minutes to go: the callbacks list has it
        task.due_at = _now() + timedelta(minutes=4)
        db.session.commit()
        assert len(reconcile()["raised_to_worklist"]) == 1
    assert _raised(app) == [(call_id, "callback_due", False)]


def test_however_many_calls_are_on_a_list_an_unowned_one_is_still_raised(app, world):
    with app.app_context():
        for n in range(worklist.PER_ROUND + 20):  # a weekend of voicemails still to review
            call = Call(call_sid=f"CA{900000 + n:032d}", practice_id=world["maple"], state="voicemail",
                        created_at=_now() - timedelta(hours=2), ended_at=_now() - timedelta(hours=1))
            db.session.add(call)
            db.session.flush()
            db.session.add(Message(practice_id=world["maple"], call_id=call.id, kind="voicemail", needs_review=True,
                                   body="Voicemail."))
        db.session.commit()
    unowned = _ended(app, world, minutes_ago=2)
    with app.app_context():
        assert [item.call_id for item in worklist.raise_unowned(db.session, _now())] == [unowned]


def test_resolving_a_callback_that_was_due_settles_the_callback_too(app, world):
    call_id = _ended(app, world, state="abandoned")
    with app.app_context():
        db.session.add(CallbackTask(practice_id=world["maple"], call_id=call_id, number="+14155550123",
                                    reason="abandoned", due_at=_now() + timedelta(minutes=2), sms_sid="SM" + "3" * 32))
        db.session.commit()
        [item] = worklist.raise_unowned(db.session, _now())
        sam = db.session.scalar(select(User).where(User.email == "sam@example.test"))
        worklist.take(db.session, item.id, sam, _now())
        worklist.resolve(db.session, item.id, sam, "Called back; appointment booked.", _now())
        db.session.commit()
        task = db.session.scalar(select(CallbackTask))
        assert (task.status, task.completed_by_id) == ("done", world["sam"])  # off the agents' list
