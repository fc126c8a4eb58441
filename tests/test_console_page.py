"""The console page, its assets and its keepalive."""

from __future__ import annotations

from callcenter.calls import DISPOSITIONS
from tests.support import Page, log_in, log_out


def test_it_sends_anonymous_visitors_to_the_login(client):
    response = client.get("/console/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_it_forbids_practice_staff(client, world):
    assert log_in(client, "desk@maple.test").status_code == 302
    assert client.get("/console/").status_code == 403


def test_it_shows_agents_the_console(client, world):
    log_in(client, "alice@example.test")

    response = client.get("/console/")

    assert response.status_code == 200
    page = Page(response.get_data(as_text=True))
    assert {"available-toggle", "queue", "current-call", "hangup", "wrapup", "wrapup-submit", "callbacks",
            "connection", "console-error"} <= page.ids
    assert {"select[name=disposition]", "textarea[name=notes]", "input[name=caller_name]",
            "input[name=callback_number]", "select[name=urgency]", "textarea[name=message]"} <= page.names
    assert page.options["disposition"] == ["", *DISPOSITIONS]
    assert page.options["urgency"] == ["routine", "urgent"]
    assert page.scripts == ["/console/static/socket.io.min.js", "/console/static/console.js"]


def test_it_serves_the_socketio_client_itself_with_its_licence(client):
    response = client.get("/console/static/socket.io.min.js")
    assert response.status_code == 200
    head = response.get_data(as_text=True)[:200]
    assert "Socket.IO v4." in head and "MIT License" in head
    response.close()


def test_it_keeps_the_session_of_an_active_agent(client, world):
    log_in(client, "alice@example.test")

    response = client.post("/console/keepalive")

    assert response.status_code == 200
    assert response.get_json() == {"ok": True}
    assert "session=" in response.headers["Set-Cookie"]  # the idle timer starts again


def test_it_tells_the_page_when_the_session_is_gone(client, world):
    log_in(client, "alice@example.test")
    log_out(client)

    response = client.post("/console/keepalive")

    assert response.status_code == 401
    assert response.get_json()["error"] == "Your session has ended. Please log in again."
