"""Every voice document the app can produce passes the emulator's validator, in both languages.

This guards the app against emitting TwiML that Twilio would refuse: a new builder in ivr/twiml.py must
be added to CASES below, or the first test fails.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest

import ivr.twiml as app_twiml
from emulator.twiml import parse

LANGUAGES = ("en", "es")
OPTIONS = [SimpleNamespace(reason=r) for r in ("urgent", "message", "appointment", "refill", "billing", "operator")]
NOT_VOICE_TWIML = {"sms_reply", "agent_identity", "spoken_number"}  # a messaging document, plain strings

# builder name -> (the document's context, representative calls for one language)
CASES = {
    "unknown_number": ("call", lambda lang: [app_twiml.unknown_number()]),
    "menu": ("call", lambda lang: [
        app_twiml.menu(lang, "Maple Street Pediatrics", None, OPTIONS, 1, welcome=True, offer_spanish=True,
                       hints="appointment, refill, billing, nurse"),
        app_twiml.menu(lang, "Maple Street", "Thanks for calling Maple & Oak <Pediatrics>.", OPTIONS[:2], 3,
                       welcome=False, offer_spanish=False, prefix="Sorry, I did not get that."),
    ]),
    "enqueue": ("call", lambda lang: [
        app_twiml.enqueue(lang, "practice-7", 1, False, None),
        app_twiml.enqueue(lang, "practice-7-urgent", 4, True, 1, prefix="Thank you."),
        app_twiml.enqueue(lang, "p" * 64, 12, False, 25),
    ]),
    "hold": ("wait", lambda lang: [
        app_twiml.hold(lang, 3, 5, offer_keep_place=True),
        app_twiml.hold(lang, None, None, offer_keep_place=False),
        app_twiml.hold(lang, 1, 1, offer_keep_place=False, announce=False),
    ]),
    "leave_queue": ("wait", lambda lang: [app_twiml.leave_queue()]),
    "say_then_hold": ("wait", lambda lang: [app_twiml.say_then_hold(lang, "We will call you back at 5 5 5 0.")]),
    "keep_place_number_choice": ("call", lambda lang: [app_twiml.keep_place_number_choice(lang, "0123")]),
    "keep_place_enter_number": ("call", lambda lang: [app_twiml.keep_place_enter_number(lang),
                                                      app_twiml.keep_place_enter_number(lang, prefix="Again.")]),
    "keep_place_readback": ("call", lambda lang: [app_twiml.keep_place_readback(lang, "4155550123")]),
    "keep_place_done": ("call", lambda lang: [app_twiml.keep_place_done(lang)]),
    "connect_to_agent": ("call", lambda lang: [app_twiml.connect_to_agent(lang, 42, app_twiml.agent_identity(7)),
                                               app_twiml.connect_to_agent(lang, 1, "agent-1", greeting="Hi.")]),
    "connect_to_on_call": ("call", lambda lang: [
        app_twiml.connect_to_on_call(lang, 42, "+14155550199"),
        app_twiml.connect_to_on_call(lang, 42, "+14155550199", prefix="Nobody is free."),
    ]),
    "patient_on_hold": ("call", lambda lang: [app_twiml.patient_on_hold(lang, 42, "call-42")]),
    "agent_in_room": ("call", lambda lang: [app_twiml.agent_in_room(42, "call-42-agent")]),
    "consult_whisper": ("call", lambda lang: [app_twiml.consult_whisper("Maple & Oak <Pediatrics>", "call-42-agent")]),
    "clinician_joins": ("call", lambda lang: [app_twiml.clinician_joins("call-42")]),
    "connect_to_agent_phone": ("call", lambda lang: [app_twiml.connect_to_agent_phone(lang, 42, "+16175550199"),
                                                     app_twiml.connect_to_agent_phone(lang, 42, "+16175550199",
                                                                                      greeting="Hello.")]),
    "agent_whisper": ("call", lambda lang: [app_twiml.agent_whisper(42, "Maple & Oak <Pediatrics>, urgent call")]),
    "agent_not_taken": ("call", lambda lang: [app_twiml.agent_not_taken()]),
    "page_call_down": ("call", lambda lang: [
        app_twiml.page_call_down(7, "Maple & Oak <Pediatrics>", 42, "+14155550123"),
        app_twiml.page_call_down(7, "Maple", None, None)]),
    "page_acknowledged": ("call", lambda lang: [app_twiml.page_acknowledged()]),
    "on_call_whisper": ("call", lambda lang: [app_twiml.on_call_whisper(42, "Maple & Oak <Pediatrics>")]),
    "on_call_not_taken": ("call", lambda lang: [app_twiml.on_call_not_taken()]),
    "voicemail": ("call", lambda lang: [app_twiml.voicemail(lang, urgent=False),
                                        app_twiml.voicemail(lang, urgent=True, prefix="After hours."),
                                        app_twiml.voicemail(lang, urgent=True, paged=True)]),
    "voicemail_saved": ("call", lambda lang: [app_twiml.voicemail_saved(lang, urgent=u, paged=p)
                                              for u, p in ((False, False), (True, False), (True, True))]),
    "redirect": ("call", lambda lang: [app_twiml.redirect("/ivr/menu?attempt=2&silent=1")]),
    "goodbye": ("call", lambda lang: [app_twiml.goodbye(lang)]),
    "safe_fallback": ("call", lambda lang: [app_twiml.safe_fallback()]),
    "empty": ("call", lambda lang: [app_twiml.empty()]),
}


def test_it_covers_every_public_builder_of_the_app():
    public = {name for name, function in inspect.getmembers(app_twiml, inspect.isfunction)
              if function.__module__ == app_twiml.__name__ and not name.startswith("_")}

    assert public - NOT_VOICE_TWIML == set(CASES)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("builder", sorted(CASES))
def test_the_emulator_accepts_every_document_the_app_builds(builder, language):
    context, build = CASES[builder]

    for document in build(language):
        verbs = parse(document, context)
        assert verbs or builder == "empty", f"{builder} built an empty document"


def test_the_menu_uses_the_attributes_twilio_documents():
    [gather] = [v for v in parse(app_twiml.menu("es", "Maple", None, OPTIONS, 1, welcome=False, offer_spanish=False,
                                                hints="cita"), "call") if v.name == "Gather"]

    assert gather.attrs["input"] == "dtmf speech" and gather.attrs["speechTimeout"] == "auto"
    assert (gather.attrs["language"], gather.children[0].attrs["voice"]) == ("es-US", "Polly.Lupe")
