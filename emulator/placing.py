"""Placing calls: a softphone calling the practice, and a call the app creates through the REST API,
which rings until it is answered, declined or times out. Either way a LiveCall then runs its TwiML.
A <Dial>'s answered leg redirected through the REST API gets a LiveCall of its own here too."""

from __future__ import annotations

import time

from .callflow import AppError, CallerGone, Redirected
from .engine import LiveCall
from .state import Call, EmulatorState, new_sid


def place_inbound_call(state: EmulatorState, from_: str, to: str) -> Call:
    """A softphone dials `to`: Twilio asks the number's voice URL what to do."""
    call = Call(sid=new_sid("CA"), account_sid=state.account_sid, from_=from_, to=to, direction="inbound",
                status="ringing")
    with state.changed:
        state.calls[call.sid] = call
        state.changed.notify_all()
    live = LiveCall(state, call)
    if not state.voice_url:
        live.application_error(AppError(11200, "No voice URL configured for this number"))
        live.finish()
        return call
    start = {"url": state.voice_url, "method": "POST"}
    if state.voice_fallback_url:
        start["fallback_url"] = state.voice_fallback_url
    state.start_thread(live.run, start, name=f"call-{call.sid[:8]}")
    return call


def place_outbound_call(state: EmulatorState, call: Call, start: dict, ring_timeout: int = 60) -> None:
    """A call created through the REST API: ring `call.to`, then run `start` once answered."""
    with state.changed:
        state.calls[call.sid] = call
        state.changed.notify_all()
    state.start_thread(_ring_then_run, state, call, start, ring_timeout, name=f"call-{call.sid[:8]}")


def _ring_then_run(state: EmulatorState, call: Call, start: dict, ring_timeout: int) -> None:
    live = LiveCall(state, call)
    with state.changed:
        call.status = "initiated"
        state.changed.notify_all()
    state.status_callbacks.emit(call, "initiated")
    with state.changed:
        call.status = "ringing"
        state.changed.notify_all()
    state.status_callbacks.emit(call, "ringing")
    started = time.monotonic()
    ring_for = state.scaled(state.client_ring_seconds)
    is_client = state.answers_by_itself(call.to)

    def picked_up() -> bool:
        if is_client and time.monotonic() - started >= ring_for:
            call.answer_requested = True
        return call.answer_requested or call.decline_requested

    deadline = started + state.scaled(ring_timeout)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                live.finish("no-answer")
                return
            try:
                step = min(remaining, ring_for) if is_client else remaining
                if live.wait_real(step, until=picked_up):
                    break
            except Redirected as redirect:
                start = redirect.target  # updating a ringing call changes what runs once it is answered
    except CallerGone:
        live.finish("canceled")
        return
    if call.decline_requested:
        live.finish("busy")
        return
    live.answer()
    state.status_callbacks.emit(call, "answered")
    live.run(start)


def run_detached_leg(state: EmulatorState, leg: Call, start: dict) -> None:
    """A <Dial>'s answered leg was redirected (marked `detached` by the REST update): it runs `start` on a
    thread of its own, still answered, while the parent's <Dial> goes on to its action."""
    state.start_thread(LiveCall(state, leg).run, start, name=f"call-{leg.sid[:8]}")
