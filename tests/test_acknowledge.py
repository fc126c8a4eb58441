"""Practice staff acknowledge messages (one, or ticked ones in bulk) and may undo within a minute; the
practice's system may acknowledge through the API with a key that may write; the list filters by
acknowledgement and exports as CSV, every row of it audited."""

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter.accounts import create_api_key
from callcenter.extensions import db
from callcenter.models import AuditEntry, Message
from tests.support import csrf_token, log_in, make_message


def _desk(app, email: str = "desk@maple.test"):
    browser = app.test_client()
    assert log_in(browser, email).status_code == 302
    return browser


def _post(browser, page: str, path: str, data: dict | None = None):
    return browser.post(path, data={"csrf_token": csrf_token(browser.get(page)), **(data or {})})


def _message(app, message_id: int) -> Message:
    with app.app_context():
        return db.session.get(Message, message_id)


def test_staff_acknowledge_a_message_and_can_undo_it_for_a_minute(app, world):
    desk = _desk(app)
    message_id = make_message(app, world["maple"])
    page = f"/portal/messages/{message_id}"
    assert b'id="acknowledge"' in desk.get(page).data
    assert _post(desk, page, f"{page}/acknowledge").status_code == 302
    acknowledged = _message(app, message_id)
    assert acknowledged.acknowledged_at is not None and acknowledged.acknowledged_by_id == world["maple_staff"]
    shown = desk.get(page).get_data(as_text=True)
    assert "by desk" in shown and 'id="undo-acknowledge"' in shown

    assert _post(desk, page, f"{page}/undo").status_code == 302
    assert _message(app, message_id).acknowledged_at is None
    _post(desk, page, f"{page}/acknowledge")
    with app.app_context():
        db.session.get(Message, message_id).acknowledged_at -= timedelta(minutes=2)
        db.session.commit()
    late = _post(desk, page, f"{page}/undo")
    assert "only within a minute" in desk.get(late.headers["Location"]).get_data(as_text=True)
    assert _message(app, message_id).acknowledged_at is not None
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == message_id,
                                                                     AuditEntry.action.contains("acknowledge")))
        assert list(actions) == ["acknowledge", "undo_acknowledge", "acknowledge"]


def test_ticked_messages_are_acknowledged_together_and_another_practices_ids_are_skipped(app, world):
    desk = _desk(app)
    ours = [make_message(app, world["maple"]) for _ in range(3)]
    theirs = make_message(app, world["harbor"])
    answer = _post(desk, "/portal/messages", "/portal/messages/acknowledge",
                   {"message_id": [str(ours[0]), str(ours[2]), str(theirs)],
                    "next": "/portal/messages?acknowledged=no"})
    assert answer.headers["Location"] == "/portal/messages?acknowledged=no"
    assert "2 messages acknowledged." in desk.get(answer.headers["Location"]).get_data(as_text=True)
    assert [_message(app, i).acknowledged_at is not None for i in ours] == [True, False, True]
    assert _message(app, theirs).acknowledged_at is None
    listed = desk.get("/portal/messages?acknowledged=no").get_data(as_text=True)
    assert f'data-message-id="{ours[1]}"' in listed and f'data-message-id="{ours[0]}"' not in listed


def test_the_practices_system_acknowledges_with_a_key_that_may_write(app, client, world):
    with app.app_context():
        _, reader = create_api_key(db.session, world["maple"])
        _, writer = create_api_key(db.session, world["maple"], can_write=True)
        db.session.commit()
    message_id = make_message(app, world["maple"])
    path = f"/api/v1/messages/{message_id}/acknowledge"
    refused = client.post(path, headers={"Authorization": f"Bearer {reader}"})
    assert refused.status_code == 403 and "may only read" in refused.get_json()["error"]
    done = client.post(path, headers={"Authorization": f"Bearer {writer}"})
    assert done.status_code == 200 and done.get_json()["acknowledged_at"]
    again = client.post(path, headers={"Authorization": f"Bearer {writer}"})
    assert again.get_json()["acknowledged_at"] == done.get_json()["acknowledged_at"]  # unchanged
    theirs = make_message(app, world["harbor"])
    assert client.post(f"/api/v1/messages/{theirs}/acknowledge",
                       headers={"Authorization": f"Bearer {writer}"}).status_code == 404
    assert _message(app, theirs).acknowledged_at is None


def test_the_filtered_list_exports_as_csv_and_each_row_is_audited(app, world):
    desk = _desk(app)
    first = make_message(app, world["maple"], at=datetime(2026, 11, 2, 15, 0, tzinfo=UTC), body="Refill, please")
    second = make_message(app, world["maple"], at=datetime(2026, 11, 3, 15, 0, tzinfo=UTC), urgency="urgent")
    make_message(app, world["harbor"])
    answer = desk.get("/portal/messages.csv?from=2026-11-01&to=2026-11-30")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="messages-')
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(r["message"], r["urgency"]) for r in rows] == [("Refill, please", "routine"),
                                                           ("Please call back about lab results.", "urgent")]
    assert rows[0]["received"] == "2026-11-02T07:00:00-08:00"  # the practice's own time
    with app.app_context():
        exported = db.session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "export")).all()
    assert sorted(exported) == sorted([first, second])


def test_an_export_with_a_mistyped_date_exports_nothing_and_no_cell_runs_as_a_formula(app, world):
    desk = _desk(app)
    make_message(app, world["maple"], at=datetime(2026, 11, 2, 15, 0, tzinfo=UTC),
                 caller_name='=HYPERLINK("http://evil.example","Pat")', body="-2+3 tablets")
    refused = desk.get("/portal/messages.csv?from=2026-11-31")
    assert refused.status_code == 400 and "Nothing exported" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "export")) is None
    rows = list(csv.DictReader(io.StringIO(desk.get("/portal/messages.csv").get_data(as_text=True))))
    assert (rows[0]["caller"], rows[0]["message"]) == ('\'=HYPERLINK("http://evil.example","Pat")', "'-2+3 tablets")
