"""The console's socket opens only from the service's own pages: a page on another site, in a browser that
holds a staff member's cookie, cannot open it (cross-site WebSocket hijacking)."""

import pytest
import socketio

from agents_ui.broadcast import NAMESPACE
from simulator.agents import login
from tests.support import PASSWORD


def _open(url: str, session, origin: str | None, **more_headers):
    client = socketio.Client(http_session=session, reconnection=False)
    headers = {**({"Origin": origin} if origin else {}), **more_headers}
    client.connect(url, namespaces=[NAMESPACE], headers=headers, transports=["polling"], wait_timeout=5)
    return client


def test_a_socket_from_another_origin_is_refused(live_app, world):
    session = login(live_app.url, "alice@example.test", PASSWORD)
    with pytest.raises(socketio.exceptions.ConnectionError):
        _open(live_app.url, session, "https://evil.example")


def test_a_socket_from_the_services_own_page_opens(live_app, world):
    session = login(live_app.url, "alice@example.test", PASSWORD)
    for origin in (live_app.url, None):  # a browser on the console page; a script with no page at all
        client = _open(live_app.url, session, origin)
        assert client.connected
        client.disconnect()


def test_behind_a_proxy_the_address_the_browser_used_is_the_services_own(live_app, world):
    session = login(live_app.url, "alice@example.test", PASSWORD)
    client = _open(live_app.url, session, "https://answering.example.com",
                   **{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "answering.example.com"})
    assert client.connected
    client.disconnect()


def test_behind_a_proxy_the_consoles_audit_rows_carry_the_agents_address_not_the_proxys(app, live_app, world):
    from sqlalchemy import select

    from callcenter.extensions import db
    from callcenter.models import AuditEntry

    session = login(live_app.url, "alice@example.test", PASSWORD)
    client = _open(live_app.url, session, None, **{"X-Forwarded-For": "203.0.113.9"})
    client.disconnect()
    with app.app_context():
        rows = db.session.execute(select(AuditEntry.object_type, AuditEntry.address)).all()
    assert rows == [("console_lists", "203.0.113.9")]  # the lists the console was shown when it opened
