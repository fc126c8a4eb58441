"""Every page people work in, checked in Chromium with axe-core: no serious or critical accessibility
violations (a practice's pages as its admin sees them, with a call and a message on them; the service's
console, wallboard and admin area)."""

from __future__ import annotations

import pytest
from playwright import sync_api as playwright_sync

from callcenter.accounts import create_user
from callcenter.extensions import db
from tests.support import (
    PASSWORD,
    SUPERVISOR_TOTP,
    accessibility_problems,
    csp_refusals,
    log_in_browser,
    make_call,
    make_message,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _checked(page, base: str, paths: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        answer = page.goto(base + path)
        assert answer is not None and answer.status == 200, f"{path}: {answer.status if answer else 'no answer'}"
        problems = accessibility_problems(page)
        if problems:
            found[path] = problems
    return found


def test_the_practice_portals_pages(app, live_app, world, maple_admin_account, browser):
    call_id = make_call(app, world["maple"])
    message_id = make_message(app, world["maple"], call_id=call_id)
    page = browser.new_context().new_page()
    refused = csp_refusals(page)
    log_in_browser(page, live_app.url, maple_admin_account)
    playwright_sync.expect(page.locator("nav")).to_contain_text("Settings")
    paths = ["/portal/", "/portal/dashboard", f"/portal/calls/{call_id}", "/portal/messages",
             f"/portal/messages/{message_id}", "/portal/on-call", "/portal/digests", "/portal/settings",
             "/portal/webhooks", "/portal/users"]
    assert _checked(page, live_app.url, paths) == {}
    assert refused == []


def test_the_services_own_pages(app, live_app, world, browser):
    with app.app_context():
        admin = create_user(db.session, "root@example.test", PASSWORD, "admin", None, "Ada Admin")
        admin.totp_secret = SUPERVISOR_TOTP
        db.session.commit()
    agent = browser.new_context().new_page()
    log_in_browser(agent, live_app.url, "alice@example.test")
    playwright_sync.expect(agent.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
    assert accessibility_problems(agent) == []
    boss = browser.new_context().new_page()
    refused = csp_refusals(boss)
    log_in_browser(boss, live_app.url, "root@example.test")
    assert _checked(boss, live_app.url, ["/console/", "/console/wallboard", "/admin/", "/admin/keys"]) == {}
    assert refused == []
