import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from callcenter.extensions import db
from callcenter.models import SecurityEvent
from tests.support import PASSWORD, csrf_token, log_in, without_csrf_token


def _without_volatile_parts(html: str, email: str) -> str:
    """The page without its CSRF token and the email the person typed (which the form echoes)."""
    return without_csrf_token(html).replace(email, "EMAIL")


def test_it_logs_practice_staff_into_the_portal(client, world):
    response = log_in(client, "desk@maple.test")
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200


def test_it_accepts_the_email_in_any_case(client, world):
    response = log_in(client, "  Desk@Maple.TEST ")
    assert response.status_code == 302


def test_it_refuses_a_wrong_password(client, world):
    response = log_in(client, "desk@maple.test", "not-the-password")
    assert response.status_code == 401
    assert "That email and password do not match an account." in response.get_data(as_text=True)
    assert client.get("/portal/").status_code == 302  # still logged out


def test_it_answers_a_wrong_email_and_a_wrong_password_identically(app, client, world):
    wrong_password = log_in(client, "desk@maple.test", "not-the-password")
    wrong_email = log_in(client, "nobody@maple.test")
    assert wrong_password.status_code == wrong_email.status_code == 401
    assert _without_volatile_parts(wrong_password.get_data(as_text=True), "desk@maple.test") == \
        _without_volatile_parts(wrong_email.get_data(as_text=True), "nobody@maple.test")
    assert set(wrong_password.headers.keys()) == set(wrong_email.headers.keys())
    with app.app_context():
        assert db.session.query(SecurityEvent).filter_by(kind="login_failed").count() == 2


def test_it_refuses_a_login_without_the_forms_csrf_token(client, world):
    response = client.post("/login", data={"email": "desk@maple.test", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/portal/").status_code == 302


def test_it_refuses_a_login_with_a_forged_csrf_token(client, world):
    client.get("/login")
    response = client.post("/login", data={"email": "desk@maple.test", "password": PASSWORD,
                                           "csrf_token": "forged"})
    assert response.status_code == 400
    assert client.get("/portal/").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/steal", "/\\evil.example/steal", "/\t/evil.example",
                                    "https://evil.example/"])
def test_it_never_redirects_off_site_after_login(app, world, target):
    client = app.test_client()
    query = urlencode({"next": target})
    form = client.get(f"/login?{query}")
    response = client.post(f"/login?{query}", data={"email": "desk@maple.test", "password": PASSWORD,
                                                    "csrf_token": csrf_token(form)})
    assert response.headers["Location"] == "/portal/"


def test_it_returns_to_the_page_asked_for_after_login(client, world):
    asked = client.get("/portal/messages")
    assert asked.status_code == 302
    login_url = asked.headers["Location"]
    assert login_url.startswith("/login?next=")
    form = client.get(login_url)
    response = client.post(login_url, data={"email": "desk@maple.test", "password": PASSWORD,
                                            "csrf_token": csrf_token(form)})
    assert response.headers["Location"] == "/portal/messages"


def test_it_logs_out(client, world):
    log_in(client, "desk@maple.test")
    page = client.get("/portal/")
    response = client.post("/logout", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/portal/").status_code == 302


def test_it_does_not_log_out_on_a_cross_site_post(client, world):
    log_in(client, "desk@maple.test")
    assert client.post("/logout").status_code == 400
    assert client.get("/portal/").status_code == 200


def test_it_expires_sessions_after_half_an_hour_idle(app, client, world):
    assert app.permanent_session_lifetime == timedelta(minutes=30)
    assert app.config["SESSION_REFRESH_EACH_REQUEST"] is True
    log_in(client, "desk@maple.test")
    cookie = client.get_cookie("session")
    assert cookie.http_only
    assert cookie.expires is not None  # a permanent session: it lapses, not at browser close


def test_it_logs_out_a_session_left_idle_past_its_lifetime(app, client, world):
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=1)
    log_in(client, "desk@maple.test")
    assert client.get("/portal/").status_code == 200
    time.sleep(2.2)
    response = client.get("/portal/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
