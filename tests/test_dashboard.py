"""A practice's day in the portal: calls, service level, answer speed, abandonment, callbacks owed and
messages, with the calls of each hour; by the same rules as the simulator's report, which a test checks."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter import figures
from callcenter.extensions import db
from callcenter.models import Call, CallbackTask, Message
from simulator.outcomes import summarize
from tests.support import ledger_call, log_in, make_message

DAY = "2026-11-02"  # a Monday; Maple Street is in Los Angeles (UTC-8 then)
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # midnight there


@pytest.fixture
def a_day(app, world):
    nine = START + timedelta(hours=9)
    ledger_call(app, world["maple"], nine, ("queued", 5), ("connected", 15), ("wrapped_up", 200))  # waited 10 s
    ledger_call(app, world["maple"], nine + timedelta(minutes=5), ("queued", 5), ("connected", 45))  # waited 40 s
    abandoned = ledger_call(app, world["maple"], START + timedelta(hours=14), ("queued", 5), ("abandoned", 30))
    ledger_call(app, world["maple"], START + timedelta(hours=20), ("voicemail", 40))
    ledger_call(app, world["harbor"], nine, ("queued", 5), ("abandoned", 6))  # another practice's
    ledger_call(app, world["maple"], START - timedelta(hours=1), ("queued", 1), ("abandoned", 2))  # the day before
    with app.app_context():
        db.session.add(CallbackTask(practice_id=world["maple"], call_id=abandoned, number="+16175550100",
                                    reason="abandoned", due_at=START, created_at=START + timedelta(hours=14)))
        db.session.commit()
    message = make_message(app, world["maple"], at=nine, urgency="urgent")
    with app.app_context():
        db.session.get(Message, message).acknowledged_at = nine + timedelta(minutes=4)
        db.session.commit()
    return world


def test_the_days_figures(app, a_day):
    with app.app_context():
        day = figures.practice_day(db.session, a_day["maple"], START, START + timedelta(days=1))
    assert (day["offered"], day["answered"], day["queued"], day["abandoned"]) == (4, 2, 3, 1)
    assert day["service_level"] == pytest.approx(1 / 3)  # one of three queued callers answered within 15 s
    assert day["average_speed_of_answer"] == pytest.approx(25.0)
    assert day["abandonment_rate"] == pytest.approx(0.25)
    assert day["callbacks_owed"] == 1
    assert (day["messages"], day["urgent_messages"], day["not_acknowledged"]) == (1, 1, 0)
    assert day["average_time_to_acknowledge"] == pytest.approx(240.0)
    assert [(r["hour"], r["arrivals"], r["answered"], r["abandoned"]) for r in day["by_hour"] if r["arrivals"]] == [
        (9, 2, 2, 0), (14, 1, 0, 1), (20, 1, 0, 0)]


def test_hours_are_the_practices_clock_on_the_day_daylight_saving_starts(app, world):
    from zoneinfo import ZoneInfo

    los_angeles = ZoneInfo("America/Los_Angeles")
    midnight = datetime(2026, 3, 8, tzinfo=los_angeles)  # 23 hours long: 2 am is 3 am that night
    ledger_call(app, world["maple"], datetime(2026, 3, 8, 9, 30, tzinfo=los_angeles).astimezone(UTC))
    with app.app_context():
        day = figures.practice_day(db.session, world["maple"], midnight.astimezone(UTC),
                                   datetime(2026, 3, 9, tzinfo=los_angeles).astimezone(UTC), los_angeles)
    assert len(day["by_hour"]) == 24
    assert [row["hour"] for row in day["by_hour"] if row["arrivals"]] == [9]  # 9:30 am is in the 9 o'clock bar


def test_the_callbacks_owed_are_those_of_the_day_shown(app, a_day):
    with app.app_context():
        db.session.add(CallbackTask(practice_id=a_day["maple"], number="+16175550111", reason="abandoned",
                                    due_at=START, created_at=START + timedelta(days=3)))  # a later day's
        db.session.commit()
        day = figures.practice_day(db.session, a_day["maple"], START, START + timedelta(days=1))
    assert day["callbacks_owed"] == 1


def test_the_dashboard_and_the_simulators_report_agree(app, a_day):
    with app.app_context():
        day = figures.practice_day(db.session, a_day["maple"], START, START + timedelta(days=1))
        calls = db.session.scalars(select(Call).where(Call.practice_id == a_day["maple"], Call.created_at >= START,
                                                      Call.created_at < START + timedelta(days=1))).all()
        records = figures.records_for(db.session, calls, lambda m: None if m is None else (m - START).total_seconds())
        report = summarize(db.session, records, agents=2, day_seconds=86_400)
    assert report["offered"] == day["offered"] and report["answered"] == day["answered"]
    assert report["service_level"]["15"] == pytest.approx(day["service_level"])
    assert report["average_speed_of_answer"] == pytest.approx(day["average_speed_of_answer"])
    assert report["abandonment_rate"] == pytest.approx(day["abandonment_rate"])


def test_the_practice_sees_its_day_with_a_chart(app, a_day):
    desk = app.test_client()
    log_in(desk, "desk@maple.test")
    page = desk.get(f"/portal/dashboard?day={DAY}").get_data(as_text=True)
    assert 'data-figure="offered">4<' in page
    assert 'data-figure="service_level">33 %<' in page
    assert 'data-figure="asa">25 s<' in page
    assert 'data-figure="abandonment">25 %<' in page
    assert page.count('class="bar-all"') == 24 and "9:00 · 2 calls, 2 answered, 0 abandoned" in page
    assert desk.get("/portal/dashboard?day=not-a-day").status_code == 200  # said, and today shown
    last = desk.get("/portal/dashboard?day=9999-12-31")  # the calendar's last day has no day after it
    assert last.status_code == 200 and "out of range" in last.get_data(as_text=True)


def test_the_floors_day_counts_every_practice_with_each_hours_service_level_and_most_waiting(app, a_day):
    """The supervisors' wallboard: the same figures for every practice at once, by hour."""
    with app.app_context():
        floor = figures.day(db.session, START, START + timedelta(days=1))
    assert (floor["offered"], floor["answered"], floor["queued"], floor["abandoned"]) == (5, 2, 4, 2)
    assert floor["service_level"] == pytest.approx(1 / 4)
    assert floor["longest_wait"] == pytest.approx(40.0)
    nine = floor["by_hour"][9]
    # Maple's two callers (one answered in 10 s, one in 40 s) and Harbor's, who hung up after a second:
    # three queued in that hour, one answered within 15 s; at 9:00:05 two were waiting at once.
    assert (nine["queued"], nine["service_level"], nine["peak_waiting"]) == (3, pytest.approx(1 / 3), 2)
    assert floor["by_hour"][14]["peak_waiting"] == 1 and floor["by_hour"][13]["peak_waiting"] == 0
    assert floor["by_hour"][20]["service_level"] is None  # nobody queued: no figure, not 0 %


def test_a_caller_waiting_through_an_hour_in_which_nothing_changed_counts_in_it(app, world):
    ledger_call(app, world["maple"], START + timedelta(hours=3, minutes=50), ("queued", 0), ("connected", 60 * 75))
    with app.app_context():
        floor = figures.day(db.session, START, START + timedelta(days=1))
    assert [r["peak_waiting"] for r in floor["by_hour"][2:6]] == [0, 1, 1, 1]


def test_the_wallboards_figures_and_the_simulators_report_agree(app, a_day):
    """The supervisors' wallboard reads the whole floor by the same rules as the simulator's report."""
    with app.app_context():
        floor = figures.day(db.session, START, START + timedelta(days=1))
        calls = db.session.scalars(select(Call).where(Call.created_at >= START,
                                                      Call.created_at < START + timedelta(days=1))).all()
        records = figures.records_for(db.session, calls, lambda m: None if m is None else (m - START).total_seconds())
        report = summarize(db.session, records, agents=2, day_seconds=86_400)
    assert (report["offered"], report["answered"]) == (floor["offered"], floor["answered"]) == (5, 2)
    assert report["service_level"]["15"] == pytest.approx(floor["service_level"])
    assert report["average_speed_of_answer"] == pytest.approx(floor["average_speed_of_answer"])
    assert report["abandonment_rate"] == pytest.approx(floor["abandonment_rate"])
