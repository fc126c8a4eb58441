"""The admin area: an admin (two-factor sign-in, as admins must) unlocks, signs out, resets two-factor and
disables staff accounts, and revokes practices' API keys; each action is recorded with who did it, and
nobody but an admin gets in."""

import pyotp
from sqlalchemy import select

from agents_ui.broadcast import NAMESPACE
from callcenter.accounts import create_api_key, create_user
from callcenter.extensions import db
from callcenter.models import SecurityEvent, User
from tests.support import PASSWORD, ask, csrf_token, enter_code, log_in, open_console

ADMIN_TOTP = "KRSXG5CTMVRXEZLUKN2XAZLSONSWC4TF"


def _admin(app):
    with app.app_context():
        admin = create_user(db.session, "root@example.test", PASSWORD, "admin", display_name="Robin")
        admin.totp_secret = ADMIN_TOTP
        db.session.commit()
    browser = app.test_client()
    form = browser.get("/login")
    answer = browser.post("/login", data={"email": "root@example.test", "password": PASSWORD,
                                          "csrf_token": csrf_token(form)})
    assert answer.headers["Location"] == "/login/code"
    assert enter_code(browser, pyotp.TOTP(ADMIN_TOTP).now()).status_code == 302
    return browser


def _act(browser, path: str):
    return browser.post(path, data={"csrf_token": csrf_token(browser.get("/admin/"))})


def test_an_admin_disables_an_account_and_its_session_ends_at_once(app, world):
    admin = _admin(app)
    alice = app.test_client()
    log_in(alice, "alice@example.test")
    console = open_console(app, alice)
    assert ask(console, "available", {"available": True})["ok"] is True
    assert world["alice"] in app.presence.available_agents()
    page = admin.get("/admin/").get_data(as_text=True)
    assert "alice@example.test" in page and 'data-action="disable"' in page
    answer = _act(admin, f"/admin/users/{world['alice']}/disable")
    assert "alice@example.test is disabled and signed out (1 sessions)." in admin.get(
        answer.headers["Location"]).get_data(as_text=True)
    assert alice.get("/console/").status_code == 302
    assert not console.is_connected(NAMESPACE)  # her console closed at once,
    assert world["alice"] not in app.presence.available_agents()  # and no caller is offered to her any more
    assert log_in(app.test_client(), "alice@example.test").status_code == 401
    with app.app_context():
        detail = db.session.scalar(select(SecurityEvent.detail).where(SecurityEvent.kind == "account_disabled"))
    assert detail.endswith("by admin root@example.test")


def test_an_admin_unlocks_a_locked_account(app, world):
    with app.app_context():
        desk = db.session.get(User, world["maple_staff"])
        desk.failed_logins, desk.locked_at = 10, desk.created_at
        db.session.commit()
    admin = _admin(app)
    assert "Locked (10 wrong tries)" in admin.get("/admin/").get_data(as_text=True)
    _act(admin, f"/admin/users/{world['maple_staff']}/unlock")
    assert log_in(app.test_client(), "desk@maple.test").status_code == 302


def test_an_admin_revokes_an_api_key(app, client, world):
    with app.app_context():
        key, plain = create_api_key(db.session, world["maple"])
        db.session.commit()
        key_id = key.id
    admin = _admin(app)
    assert "Maple Street Family Medicine" in admin.get("/admin/keys").get_data(as_text=True)
    assert plain not in admin.get("/admin/keys").get_data(as_text=True)  # never shown again
    admin.post(f"/admin/keys/{key_id}/revoke", data={"csrf_token": csrf_token(admin.get("/admin/keys"))})
    assert client.get("/api/v1/calls", headers={"Authorization": f"Bearer {plain}"}).status_code == 401


def test_nobody_but_an_admin_gets_in(app, world):
    for email in ("sam@example.test", "alice@example.test", "desk@maple.test"):
        browser = app.test_client()
        log_in(browser, email)
        assert browser.get("/admin/").status_code == 403
        home = "/portal/" if email.startswith("desk") else "/console/"
        assert browser.post(f"/admin/users/{world['alice']}/disable",
                            data={"csrf_token": csrf_token(browser.get(home))}).status_code == 403
    assert app.test_client().get("/admin/").status_code == 302  # to the login


def test_sessions_that_ended_by_themselves_are_not_counted_as_open(app, world):
    from datetime import timedelta

    from callcenter.models import LoginSession

    admin = _admin(app)
    for _ in range(2):
        log_in(app.test_client(), "alice@example.test")
    with app.app_context():
        first = db.session.scalar(select(LoginSession).where(LoginSession.user_id == world["alice"]))
        first.last_seen_at -= timedelta(hours=2)  # idle long past the limit: it ended by itself
        db.session.commit()
    answer = _act(admin, f"/admin/users/{world['alice']}/logout")
    assert "alice@example.test is signed out everywhere (1 sessions)." in admin.get(
        answer.headers["Location"]).get_data(as_text=True)
