"""The words for dispositions, reasons and page statuses, as the console and the portal show them."""

from __future__ import annotations

import json
import re

from callcenter import labels
from callcenter.calls import DISPOSITIONS
from tests.support import Page, log_in, make_call


def _console(client) -> tuple[dict[str, str], dict]:
    """The wrap-up's disposition choices and the words the page hands its scripts."""
    log_in(client, "alice@example.test")
    html = client.get("/console/").get_data(as_text=True)
    page = Page(html)
    words = re.search(r'<script type="application/json" id="labels">(.*?)</script>', html, re.S)
    assert words, "the console page carries no words for its scripts"
    return page.labels["disposition"], json.loads(words.group(1))


def test_every_disposition_has_words_for_people():
    for disposition in DISPOSITIONS:
        assert labels.DISPOSITION_LABELS.get(disposition), disposition
        assert "_" not in labels.label(disposition)


def test_the_console_shows_a_calls_earlier_dispositions_in_the_words_of_its_wrap_up(client, world):
    choices, words = _console(client)

    assert list(choices) == ["", *DISPOSITIONS]
    assert {value: choices[value] for value in DISPOSITIONS} == words["dispositions"]
    assert choices["message_taken"] == "Message taken for the practice"
    assert words["reasons"]["abandoned"] == "Hung up while waiting"
    assert words["page_statuses"]["no_one_on_call"] == "No one on call"


def test_the_portal_and_the_console_word_a_wrong_number_alike(app, client, world):
    call_id = make_call(app, world["maple"], agent_id=world["alice"], disposition="wrong_number")
    choices, _ = _console(app.test_client())

    log_in(client, "desk@maple.test")
    html = client.get(f"/portal/calls/{call_id}").get_data(as_text=True)

    assert choices["wrong_number"] == "Wrong number"
    assert "<dt>Disposition</dt><dd>Wrong number</dd>" in html
