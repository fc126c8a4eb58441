"""The supervisors' wallboard: the floor live from the console's pushes, the day's figures from the ledger
(by the practice dashboard's rules), the on-call schedule's gaps tonight, and charts; in Chromium too."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright import sync_api as playwright_sync
from sqlalchemy import select

from callcenter import acd, ledger, schedule
from callcenter.extensions import db
from callcenter.models import AuditEntry, BusinessHours, Call, LoginSession, Practice, User
from tests.support import (
    accessibility_problems,
    answer_call,
    ask,
    console_for,
    csp_refusals,
    ledger_call,
    log_in,
    log_in_browser,
    received,
    ring,
    waiting_call,
)

# Zones three hours apart: one of them is always within an hour and a half of 1 pm, so that "today" on
# its clock began long enough ago for calls hours old to be today's, whenever the suite runs.
ZONES = ["Etc/GMT-12", "Etc/GMT-9", "Etc/GMT-6", "Etc/GMT-3", "UTC", "Etc/GMT+3", "Etc/GMT+6", "Etc/GMT+9"]


def _afternoon_zone(now: datetime) -> ZoneInfo:
    def from_one_pm(name: str) -> float:
        local = now.astimezone(ZoneInfo(name))
        return abs(local.hour + local.minute / 60 - 13)
    return ZoneInfo(min(ZONES, key=from_one_pm))


def test_only_supervisors_see_the_wallboard(app, world, client):
    log_in(client, "alice@example.test")
    assert client.get("/console/wallboard").status_code == 403
    assert client.get("/console/wallboard/figures").status_code == 403


def test_todays_and_the_last_hours_figures_for_every_practice(app, world, client):
    now = ledger.now()
    zone = _afternoon_zone(now)
    ledger_call(app, world["maple"], now - timedelta(minutes=30), ("queued", 5), ("connected", 15))  # answered in 10 s
    ledger_call(app, world["maple"], now - timedelta(hours=2), ("queued", 5), ("abandoned", 65))
    ledger_call(app, world["harbor"], now - timedelta(hours=3), ("queued", 5), ("connected", 45))  # answered in 40 s
    ledger_call(app, world["harbor"], now - timedelta(hours=30), ("queued", 5), ("connected", 6))  # yesterday's
    log_in(client, "sam@example.test")

    board = client.get("/console/wallboard/figures", query_string={"tz": zone.key}).get_json()

    today, hour = board["today"], board["last_hour"]
    assert board["ok"] and board["timezone"] == zone.key
    assert (today["offered"], today["answered"], today["abandoned"], today["queued"]) == (3, 2, 1, 3)
    assert today["service_level"] == pytest.approx(1 / 3) and today["average_speed_of_answer"] == pytest.approx(25)
    assert today["abandonment_rate"] == pytest.approx(1 / 3)
    assert len(today["by_hour"]) == 24 and sum(r["arrivals"] for r in today["by_hour"]) == 3
    assert (hour["offered"], hour["service_level"], hour["average_speed_of_answer"]) == (1, 1.0, pytest.approx(10))


def test_a_timezone_nobody_knows_is_refused_with_a_clear_error(app, world, client):
    log_in(client, "sam@example.test")
    answer = client.get("/console/wallboard/figures?tz=Mars/Olympus_Mons")
    assert answer.status_code == 400
    assert "Unknown timezone 'Mars/Olympus_Mons'" in answer.get_json()["error"]


def test_tonights_gaps_in_the_on_call_schedule_are_listed(app, world, client):
    now = ledger.now()
    zone = _afternoon_zone(now)
    with app.app_context():
        maple = db.session.get(Practice, world["maple"])
        maple.timezone = zone.key
        maple.hours = [BusinessHours(weekday=d, opens=time(9), closes=time(17)) for d in range(7)]
        db.session.flush()
        schedule.add_rotation(db.session, maple.id, "Dr. Rivera", "+16175550199", "mon-sun", "17:00-22:00", now=now)
        db.session.commit()
    log_in(client, "sam@example.test")

    gaps = client.get("/console/wallboard/figures").get_json()["gaps_tonight"]

    local = now.astimezone(zone)
    ten_pm = datetime.combine(local.date(), time(22), zone)
    tomorrow_eight = datetime.combine(local.date() + timedelta(days=1), time(8), zone)
    assert [(g["practice"], datetime.fromisoformat(g["starts_at"]), datetime.fromisoformat(g["ends_at"]))
            for g in gaps] == [("Maple Street Family Medicine", ten_pm, tomorrow_eight)]  # Harbor is always open


def test_the_wallboards_own_reads_do_not_hold_the_supervisors_session_open(app, world, client):
    """A wallboard left on asks for figures every 30 s: that alone must not keep a supervisor signed in."""
    log_in(client, "sam@example.test")
    earlier = datetime.now(UTC) - timedelta(minutes=20)

    def last_seen() -> datetime:
        with app.app_context():
            return db.session.scalar(select(LoginSession.last_seen_at).join(User)
                                     .where(User.email == "sam@example.test", LoginSession.ended_at.is_(None)))

    with app.app_context():
        db.session.execute(LoginSession.__table__.update().values(last_seen_at=earlier))
        db.session.commit()
    assert client.get("/console/wallboard/figures").status_code == 200
    assert last_seen() == earlier
    assert client.get("/console/wallboard").status_code == 200  # the supervisor opening a page is activity
    assert last_seen() > earlier


def test_a_supervisor_sets_an_agent_away_and_the_call_ringing_on_their_console_moves_on(app, world, bob):
    sam = console_for(app, "sam@example.test")
    assert ask(bob, "available", {"available": True})["ok"]
    call_id = waiting_call(app)
    ring(app, bob, call_id)
    received(bob, "offer")

    assert ask(sam, "set_agent_away", {"agent_id": world["bob"], "reason": "lunch"}) == {"ok": True}

    me = ask(bob, "snapshot")["me"]
    assert (me["state"], me["reason"], me["available"]) == ("away", "lunch", False)
    assert app.offers.of_call(call_id) is None  # the caller rings the next agent, keeping their place
    assert app.call_queue.position(call_id) == 1
    with app.app_context():
        assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.user_id == world["sam"],
                                                                  AuditEntry.object_id == world["bob"])).all() == [
            "set_away"]


def test_only_a_supervisor_steers_the_floor_and_only_agents(app, world, alice):
    assert ask(alice, "set_agent_away", {"agent_id": world["bob"], "reason": "break"}) == {
        "ok": False, "error": "Only a supervisor can do that."}
    assert ask(alice, "log_agent_out", {"agent_id": world["bob"]})["ok"] is False
    sam = console_for(app, "sam@example.test")
    assert ask(sam, "set_agent_away", {"agent_id": world["sam"], "reason": "break"})["error"] == (
        "Choose an agent on the floor.")
    assert ask(sam, "set_agent_away", {"agent_id": world["maple_staff"], "reason": "break"})["ok"] is False
    assert ask(sam, "set_agent_away", {"agent_id": world["bob"], "reason": "nap"})["error"].startswith(
        "Choose why they are away")


def test_a_supervisor_logs_an_agent_out_everywhere_but_never_off_a_call(app, world, alice, bob):
    sam = console_for(app, "sam@example.test")
    call_id = waiting_call(app)
    assert answer_call(app, alice, call_id)["ok"]

    refused = ask(sam, "log_agent_out", {"agent_id": world["alice"]})
    assert refused == {"ok": False, "error": "Alice is on a call. They are set away now, so no more calls come; "
                                             "log them out once the call has ended."}
    assert alice.is_connected("/console")
    assert ask(alice, "snapshot")["me"]["available"] is False  # nothing more is offered to her meanwhile

    assert ask(sam, "log_agent_out", {"agent_id": world["bob"]}) == {"ok": True}
    assert not bob.is_connected("/console")  # closed by the server, as in every web process
    assert any("Bob was logged out by Sam." in n["text"] for n in received(sam, "supervisor_notice"))
    with app.app_context():
        assert db.session.scalar(select(LoginSession.id).join(User).where(
            User.email == "bob@example.test", LoginSession.ended_at.is_(None))) is None
        assert "log_out" in db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.user_id == world["sam"], AuditEntry.object_id == world["bob"])).all()


def test_a_wallboard_never_counts_its_supervisor_as_on_duty(app, world):
    """An agent's console is someone who can answer (a heartbeat on connecting); a wallboard is not."""
    from callcenter.extensions import socketio
    from tests.support import NAMESPACE

    browser = app.test_client()
    assert log_in(browser, "sam@example.test").status_code == 302
    wall = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=browser, auth={"view": "wallboard"})
    assert wall.is_connected(NAMESPACE)
    assert world["sam"] not in app.presence.alive(0)
    console = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=browser)
    assert console.is_connected(NAMESPACE) and world["sam"] in app.presence.alive(0)


@pytest.mark.browser
@pytest.mark.slow
def test_the_wallboard_shows_the_floor_live_and_the_day_in_charts(app, live_app, world, browser):
    expect = playwright_sync.expect
    now = ledger.now()
    ledger_call(app, world["maple"], now - timedelta(minutes=20), ("queued", 5), ("connected", 12))
    page = browser.new_context(viewport={"width": 1600, "height": 1000},
                               timezone_id=_afternoon_zone(now).key).new_page()
    refused = csp_refusals(page)
    log_in_browser(page, live_app.url, "sam@example.test")
    page.goto(f"{live_app.url}/console/wallboard")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
    expect(page.locator("#tile-waiting .value")).to_have_text("0")
    expect(page.locator("#tile-service-level .value")).to_have_text("100 %")  # answered in 7 s of 15
    expect(page.locator("#tile-answer-speed .value")).to_have_text("0:07")

    with app.app_context():
        acd.set_available(db.session, app.presence, app.offers, db.session.get(User, world["bob"]), ledger.now())
        db.session.commit()
        call_id = waiting_call(app)
        app.console.queue_changed()

    expect(page.locator("#tile-waiting .value")).to_have_text("1")
    expect(page.locator("#longest-wait")).to_have_text(re.compile(r"^0:0\d$"))
    expect(page.locator("#tile-agents .value")).to_have_text("1")
    bob = page.locator(f"#agents tr[data-agent-id='{world['bob']}']")
    expect(bob.locator("td.state")).to_have_text("Available")

    page.select_option("#steer-agent", str(world["bob"]))
    page.select_option("#steer-reason", "lunch")
    page.click("#steer-away")
    expect(bob.locator("td.state")).to_have_text("Away (Lunch)")
    expect(page.locator("#tile-agents .value")).to_have_text("0")

    with app.app_context():
        db.session.get(Call, call_id).state = "ended"
        db.session.commit()
        app.call_queue.take(call_id)
        app.console.queue_changed()
    expect(page.locator("#tile-waiting .value")).to_have_text("0")

    arrivals = page.evaluate("Chart.getChart('chart-callers').data.datasets[0].data")
    assert len(arrivals) == 24 and sum(arrivals) == 1
    levels = page.evaluate("Chart.getChart('chart-service-level').data.datasets[0].data")
    assert [level for level in levels if level is not None] == [100]
    assert accessibility_problems(page) == []
    assert refused == []
