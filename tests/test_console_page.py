"""The console page, its assets and its keepalive."""

from __future__ import annotations

from html.parser import HTMLParser

from callcenter.calls import DISPOSITIONS
from tests.test_console import log_in, log_out


class Ids(HTMLParser):
    """Element ids and the option values of each named select in a page."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.names: set[str] = set()
        self.options: dict[str, list[str]] = {}
        self.scripts: list[str] = []
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if "name" in attrs:
            self.names.add(f"{tag}[name={attrs['name']}]")
        if tag == "select":
            self._select = attrs.get("name")
            self.options[self._select] = []
        if tag == "option" and self._select:
            self.options[self._select].append(attrs.get("value"))
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def test_it_sends_anonymous_visitors_to_the_login(client):
    response = client.get("/console/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_it_forbids_practice_staff(client, world):
    log_in(client, "desk@maple.test")
    assert client.get("/console/").status_code == 403


def test_it_shows_agents_the_console(client, world):
    log_in(client, "alice@example.test")

    response = client.get("/console/")

    assert response.status_code == 200
    page = Ids()
    page.feed(response.get_data(as_text=True))
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
