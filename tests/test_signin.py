"""Who gets in: failed sign-ins are throttled and lock the account, and a session ends on the server, so a
copy of its cookie opens nothing after logout, idle expiry, a password change or "log out everywhere"."""

from datetime import timedelta

from sqlalchemy import select, update

from agents_ui.broadcast import NAMESPACE
from app import create_app
from callcenter.extensions import db
from callcenter.models import LoginSession, SecurityEvent, User
from callcenter.signin import LOCK_AFTER
from portal.auth import limiter
from tests.support import PASSWORD, ask, eventually, log_in, log_out, open_console

DESK = "desk@maple.test"


def _events(app, kind: str) -> list[SecurityEvent]:
    with app.app_context():
        return db.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind)
                                  .order_by(SecurityEvent.id)).all()


def _copy_of(app, browser):
    """Another browser holding a copy of this one's session cookie (stolen, or a second tab)."""
    other = app.test_client()
    other.set_cookie("session", browser.get_cookie("session").value)
    return other


def test_failed_sign_ins_are_recorded_with_the_account_and_the_address(app, client, world):
    log_in(client, DESK, "wrong-password")
    log_in(client, "nobody@maple.test", "wrong-password")
    log_in(client, "my password is hunter2", "wrong-password")
    details = [(e.detail, e.address) for e in _events(app, "login_failed")]
    assert details == [(f"account {world['maple_staff']} (1 in a row)", "127.0.0.1"),
                       ("no such account: nobody@maple.test", "127.0.0.1"),
                       ("no such account (not an email)", "127.0.0.1")]


def test_an_account_is_throttled_after_five_wrong_passwords_a_minute(app, client, world):
    statuses = [log_in(client, DESK, f"wrong-{n}").status_code for n in range(6)]
    assert statuses == [401] * 5 + [429]
    refused = log_in(client, DESK)  # the right password waits too
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    # Another account from the same address is not held up by this one.
    assert log_in(app.test_client(), "alice@example.test").status_code == 302


def test_an_address_is_throttled_after_thirty_failures_across_accounts(app, world):
    statuses = [log_in(app.test_client(), f"guess{n}@maple.test", "wrong-password").status_code for n in range(31)]
    assert statuses.count(401) == 30 and statuses[-1] == 429


def test_every_attempt_from_an_address_counts_towards_a_higher_limit(app, world):
    """Failures count only once answered, so a burst sent at the same moment would all be tried first: every
    attempt is counted as it comes too, right ones included, against a limit an office never reaches."""
    statuses = [log_in(app.test_client(), "alice@example.test").status_code for _ in range(121)]
    assert statuses.count(302) == 120 and statuses[-1] == 429


def test_ten_wrong_passwords_in_a_row_lock_the_account_until_an_admin_unlocks_it(app, client, cli, world):
    for n in range(LOCK_AFTER + 40):  # the 50 wrong passwords, with the throttle's minutes passing
        if n % 5 == 0:
            limiter.reset()
        log_in(client, DESK, f"wrong-{n}")
    limiter.reset()
    locked = log_in(client, DESK)
    assert locked.status_code == 403
    assert "This account is locked" in locked.get_data(as_text=True)
    assert client.get("/portal/").status_code == 302
    assert [e.detail for e in _events(app, "account_locked")] == [
        f"account {world['maple_staff']} after {LOCK_AFTER} wrong passwords in a row"]
    # The wrong passwords after the lock do not reveal it: they get the usual answer.
    assert log_in(client, DESK, "wrong-again").status_code == 401

    result = cli.invoke(args=["user", "unlock", "--email", DESK])
    assert result.exit_code == 0, result.output
    assert "unlocked desk@maple.test" in result.output
    assert len(_events(app, "account_unlocked")) == 1
    assert log_in(client, DESK).status_code == 302
    assert client.get("/portal/").status_code == 200


def test_a_right_password_clears_the_count_of_wrong_ones(app, client, world):
    for n in range(4):
        log_in(client, DESK, f"wrong-{n}")
    assert log_in(client, DESK).status_code == 302
    with app.app_context():
        assert db.session.get(User, world["maple_staff"]).failed_logins == 0


def test_after_logout_a_copy_of_the_cookie_opens_nothing(app, client, world):
    assert log_in(client, "alice@example.test").status_code == 302
    copy = _copy_of(app, client)
    assert copy.get("/console/").status_code == 200
    log_out(client)
    assert copy.get("/console/").status_code == 302
    assert copy.get("/portal/").status_code == 302
    socket = open_console(app, copy)
    assert not socket.is_connected(NAMESPACE)
    with app.app_context():
        assert db.session.scalars(select(LoginSession.ended_why)).all() == ["logged out"]


def test_a_session_idle_past_its_lifetime_ends_on_the_server(app, client, world):
    log_in(client, DESK)
    copy = _copy_of(app, client)
    with app.app_context():
        row = db.session.scalar(select(LoginSession))
        row.last_seen_at -= app.permanent_session_lifetime + timedelta(seconds=1)
        db.session.commit()
    assert copy.get("/portal/").status_code == 302  # however fresh the cookie itself is


def test_a_busy_session_is_written_at_most_once_a_minute(app, client, world):
    log_in(client, DESK)
    with app.app_context():
        started = db.session.scalar(select(LoginSession.last_seen_at))
    for _ in range(20):
        assert client.get("/portal/").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(LoginSession.last_seen_at)) == started
        db.session.execute(update(LoginSession).values(last_seen_at=started - timedelta(minutes=2)))
        db.session.commit()
    assert client.get("/portal/").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(LoginSession.last_seen_at)) > started


def test_log_out_everywhere_and_a_new_password_end_every_session(app, cli, world):
    phone, laptop = app.test_client(), app.test_client()
    log_in(phone, DESK)
    log_in(laptop, DESK)
    result = cli.invoke(args=["user", "logout-everywhere", "--email", DESK])
    assert result.exit_code == 0, result.output
    assert "2 sessions ended" in result.output
    assert phone.get("/portal/").status_code == laptop.get("/portal/").status_code == 302

    log_in(phone, DESK)
    result = cli.invoke(args=["user", "password", "--email", DESK, "--password-stdin"], input="a-new-password\n")
    assert result.exit_code == 0, result.output
    assert phone.get("/portal/").status_code == 302
    assert log_in(phone, DESK, PASSWORD).status_code == 401
    assert log_in(phone, DESK, "a-new-password").status_code == 302


def test_a_disabled_account_is_signed_out_at_once(app, cli, world):
    browser = app.test_client()
    log_in(browser, "alice@example.test")
    socket = open_console(app, browser)
    assert socket.is_connected(NAMESPACE)
    result = cli.invoke(args=["user", "disable", "--email", "alice@example.test"])
    assert result.exit_code == 0, result.output
    assert browser.get("/console/").status_code == 302
    assert log_in(app.test_client(), "alice@example.test").status_code == 401
    assert not socket.is_connected(NAMESPACE)  # the console's socket was closed by the server


def test_logout_in_one_web_process_ends_the_session_in_another(app, client, world):
    other_process = create_app({**app.config})
    log_in(client, DESK)
    there = other_process.test_client()
    there.set_cookie("session", client.get_cookie("session").value)
    assert there.get("/portal/").status_code == 200
    log_out(client, "/portal/")
    assert there.get("/portal/").status_code == 302


def test_sign_in_works_while_redis_is_down(app, world):
    no_redis = create_app({**app.config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    browser = no_redis.test_client()
    assert log_in(browser, DESK, "wrong-password").status_code == 401
    assert log_in(browser, DESK).status_code == 302
    assert browser.get("/portal/").status_code == 200


def test_a_silent_socket_whose_session_ended_is_closed_by_the_server(app, world):
    """It sends nothing, so no event of its own would find the session gone: the server's sweep does."""
    app.config["CONSOLE_SWEEP_SECONDS"] = 0.2
    idle, busy = app.test_client(), app.test_client()
    log_in(idle, "alice@example.test")
    log_in(busy, "bob@example.test")
    idle_socket, busy_socket = open_console(app, idle), open_console(app, busy)
    for socket in (idle_socket, busy_socket):
        assert ask(socket, "available", {"available": True})["ok"] is True
    with app.app_context():
        row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == world["alice"]))
        row.last_seen_at -= app.permanent_session_lifetime + timedelta(seconds=1)
        db.session.commit()
    eventually(lambda: not idle_socket.is_connected(NAMESPACE))
    assert busy_socket.is_connected(NAMESPACE)
    # Signed out too: no caller is offered to a console that is no longer there.
    assert set(app.presence.available_agents()) == {world["bob"]}


def test_an_event_from_a_console_whose_session_ended_signs_its_agent_out(app, world):
    browser = app.test_client()
    log_in(browser, "alice@example.test")
    console = open_console(app, browser)
    assert ask(console, "available", {"available": True})["ok"] is True
    with app.app_context():
        row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == world["alice"]))
        row.last_seen_at -= app.permanent_session_lifetime + timedelta(seconds=1)
        db.session.commit()
    answer = ask(console, "heartbeat")
    assert answer["ok"] is False and "log in again" in answer["error"].lower()
    assert world["alice"] not in app.presence.available_agents()
