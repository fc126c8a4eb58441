"""The domain's vocabulary in words for people: dispositions, reasons, states, page statuses.

The one home of these words. Pure data and one function; no Flask, nothing outside `callcenter`.

Two pages read them:

* The practice portal shows any stored name through `label()`: the plain words below where the
  mechanical spelling would read badly, else the name itself as a capitalised phrase.
* The agents' console says some things at more length, for the agent who acts on them (a
  disposition is picked from its words; a reason says what the caller did). Those words are the
  console's maps below; the console page hands them to its scripts as JSON (`CONSOLE_WORDS`).

Where the two pages word the same value differently (e.g. "message_taken"), each map keeps what
its page shows.
"""

from __future__ import annotations

# Stored names whose mechanical spelling would read badly (the portal, via `label()`).
PLAIN_WORDS: dict[str, str] = {
    "oncall": "Handed to on-call",
    "on_call": "With on-call clinician",
    "not_ours": "Not our number",
    "callback_waiting": "Waiting for callback",
    "callback_completed": "Called back",
    "voicemail_reviewed": "Voicemail reviewed",
    "put_through_to_on_call": "Put through to on-call",
    "paged_on_call": "On-call paged",
    "call_recorded": "Conversation recorded",
    "resolved_by_supervisor": "Resolved by a supervisor",
    "raised_to_worklist": "Raised to the supervisors' worklist",
    "worklist_taken": "Taken by a supervisor",
    "recording_kept": "Recording copied from Twilio",
    "recording_deleted_at_twilio": "Recording deleted at Twilio",
}

# Acronyms kept in capitals when a stored name is spelled out.
ACRONYMS: dict[str, str] = {"ivr": "IVR"}

# The console's wrap-up choices: one for each of `callcenter.calls.DISPOSITIONS`, in its order.
DISPOSITION_LABELS: dict[str, str] = {
    "message_taken": "Message taken for the practice",
    "answered_question": "Answered the caller's question",
    "appointment": "Appointment request",
    "transferred": "Transferred",
    "wrong_number": "Wrong number",
    "other": "Other",
}

# Why a caller is waiting or is to be called back, as the console says it.
REASON_LABELS: dict[str, str] = {
    "urgent": "Urgent",
    "message": "Message",
    "operator": "Operator",
    "abandoned": "Hung up while waiting",
    "keep_place": "Asked to be called back; did not answer",
}

# What became of a page to the on-call clinician, as the console's "Recent pages" says it.
PAGE_STATUS_LABELS: dict[str, str] = {
    "sent": "Sent",
    "no_one_on_call": "No one on call",
    "failed": "Not sent",
}

# An agent's state, and why they are away, as the console and the floor show them.
AGENT_STATE_LABELS: dict[str, str] = {
    "available": "Available",
    "ringing": "Ringing",
    "on_call": "On a call",
    "wrap_up": "Wrap-up",
    "away": "Away",
}
AWAY_REASON_LABELS: dict[str, str] = {
    "break": "Break",
    "lunch": "Lunch",
    "training": "Training",
    "meeting": "Meeting",
    "missed_offers": "Missed offers",
    "offline": "Offline",
    "other": "Other",
}

# Everything the console's scripts need, under the names they read it by.
CONSOLE_WORDS: dict[str, dict[str, str]] = {
    "dispositions": DISPOSITION_LABELS,
    "reasons": REASON_LABELS,
    "page_statuses": PAGE_STATUS_LABELS,
    "agent_states": AGENT_STATE_LABELS,
    "away_reasons": AWAY_REASON_LABELS,
}


def label(value: str | None) -> str:
    """A stored name for people: "entered_ivr" -> "Entered IVR", "not_ours" -> "Not our number"."""
    if value in PLAIN_WORDS:
        return PLAIN_WORDS[value]
    words = (value or "").replace("_", " ").capitalize().split(" ")
    return " ".join(ACRONYMS.get(w.lower(), w) for w in words)


def disposition_label(value: str) -> str:
    """A disposition as the console's wrap-up offers it."""
    return DISPOSITION_LABELS.get(value) or value.replace("_", " ").capitalize()


def away_reason_label(value: str | None) -> str:
    return AWAY_REASON_LABELS.get(value or "", "Away")
