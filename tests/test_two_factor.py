"""Two-factor sign-in: required for supervisors and admins, offered to everyone; a code works once, a
recovery code works once, a wrong code counts towards the lock, and an admin can reset a lost phone."""

import re
import time

import pyotp
from sqlalchemy import select

from callcenter.accounts import create_user
from callcenter.extensions import db
from callcenter.models import SecurityEvent, User
from callcenter.signin import LOCK_AFTER
from portal.auth import limiter
from tests.support import PASSWORD, SUPERVISOR_TOTP, csrf_token, enter_code, log_in

SAM = "sam@example.test"


def _password_only(client, email: str):
    form = client.get("/login")
    return client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(form)})


def _set_up(client, secret_from_page: bool = True):
    """Scan the setup page's key into an 'app' and type its code; the page that answers, and the key."""
    page = client.get("/account/two-factor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="data:image/svg+xml' in html  # the QR code the app scans
    secret = re.search(r'<code id="setup-key">([A-Z2-7]+)</code>', html).group(1)
    answer = client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now(),
                                                      "csrf_token": csrf_token(page)})
    return answer, secret


def _recovery_codes(html: str) -> list[str]:
    return re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", html)


def test_a_supervisor_without_it_must_set_it_up_before_anything_opens(app, client, world):
    with app.app_context():
        create_user(db.session, "new.lead@example.test", PASSWORD, "supervisor")
        db.session.commit()
    answer = _password_only(client, "new.lead@example.test")
    assert answer.headers["Location"] == "/account/two-factor"
    assert client.get("/console/").status_code == 302  # the password alone opens nothing

    answer, secret = _set_up(client)
    assert answer.status_code == 200
    codes = _recovery_codes(answer.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/console/").status_code == 200
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "new.lead@example.test"))
        assert user.totp_secret == secret
        assert codes[0] not in str(user.recovery_codes)  # only hashes are kept


def test_a_code_is_asked_for_after_the_password_and_works_only_once(app, world):
    first, second = app.test_client(), app.test_client()
    assert _password_only(first, SAM).headers["Location"] == "/login/code"
    assert first.get("/console/").status_code == 302
    code = pyotp.TOTP(SUPERVISOR_TOTP).now()
    assert enter_code(first, "000000" if code != "000000" else "111111").status_code == 401
    assert enter_code(first, code).status_code == 302
    assert first.get("/console/").status_code == 200

    _password_only(second, SAM)
    refused = enter_code(second, code)  # seen over a shoulder: the same code again
    assert refused.status_code == 401
    assert "already" in refused.get_data(as_text=True)
    assert second.get("/console/").status_code == 302


def test_the_same_code_sent_twice_at_once_lets_only_one_in(app, world):
    """Someone relays the code they watched being typed, at the very moment its owner sends it."""
    import threading

    for _ in range(3):
        limiter.reset()  # each round's three refusals would count towards the throttle
        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == SAM))
            user.totp_last_step, user.failed_logins = None, 0
            db.session.commit()
        browsers = [app.test_client() for _ in range(4)]
        for browser in browsers:
            assert _password_only(browser, SAM).headers["Location"] == "/login/code"
        code, start, answers = pyotp.TOTP(SUPERVISOR_TOTP).now(), threading.Barrier(len(browsers)), []

        def send(browser, start=start, answers=answers, code=code):
            start.wait()
            answers.append(enter_code(browser, code).status_code)

        threads = [threading.Thread(target=send, args=(b,)) for b in browsers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(answers) == [302, 401, 401, 401]


def test_a_recovery_code_signs_in_once(app, client, world):
    log_in(client, "alice@example.test")  # an agent may turn it on
    answer, _ = _set_up(client)
    codes = _recovery_codes(answer.get_data(as_text=True))
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/console/"))})

    assert _password_only(client, "alice@example.test").headers["Location"] == "/login/code"
    assert enter_code(client, codes[3].upper()).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/console/"))})
    _password_only(client, "alice@example.test")
    assert enter_code(client, codes[3]).status_code == 401
    with app.app_context():
        assert len(db.session.get(User, world["alice"]).recovery_codes) == 9
        assert db.session.scalar(select(SecurityEvent.detail).where(SecurityEvent.kind == "recovery_code_used")) \
            == f"account {world['alice']}: 9 recovery codes left"


def test_wrong_codes_lock_the_account_like_wrong_passwords(app, client, world):
    _password_only(client, SAM)
    for n in range(LOCK_AFTER):
        if n % 5 == 0:
            limiter.reset()
        enter_code(client, f"{n:06d}" if f"{n:06d}" != pyotp.TOTP(SUPERVISOR_TOTP).now() else "999999")
    limiter.reset()
    with app.app_context():
        assert db.session.get(User, world["sam"]).locked_at is not None
    locked = _password_only(client, SAM)
    assert locked.status_code == 403  # the right password, and the account locked


def test_the_second_step_expires_after_five_minutes(app, client, world, monkeypatch):
    _password_only(client, SAM)
    later = time.time() + 301
    monkeypatch.setattr("portal.auth.time.time", lambda: later)
    answer = client.get("/login/code")
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"


def test_an_admin_resets_a_lost_phone_and_it_is_set_up_again(app, client, cli, world):
    log_in(client, SAM)
    assert client.get("/console/").status_code == 200
    result = cli.invoke(args=["user", "two-factor-reset", "--email", SAM])
    assert result.exit_code == 0, result.output
    assert "1 sessions ended" in result.output
    assert client.get("/console/").status_code == 302
    assert _password_only(client, SAM).headers["Location"] == "/account/two-factor"
    with app.app_context():
        assert db.session.scalar(select(SecurityEvent.detail).where(SecurityEvent.kind == "two_factor_reset")) \
            == f"account {world['sam']}, by command line"


def test_a_wrong_setup_code_turns_nothing_on(app, client, world):
    log_in(client, "desk@maple.test")
    page = client.get("/account/two-factor")
    answer = client.post("/account/two-factor", data={"code": "123456", "csrf_token": csrf_token(page)})
    assert answer.status_code == 400
    assert "That code is not right" in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, world["maple_staff"]).totp_secret is None
