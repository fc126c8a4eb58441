"""CallControl: what a verb may ask of the live call it runs on (emulator/engine.py's LiveCall implements it).

The verb modules (verbs.py, queues.py, dial.py, conference.py, recording.py) type against this protocol
rather than the engine's class, so the only way they change how the call waits is through these methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .callflow import Document
from .state import Call, EmulatorState
from .twiml import Verb

Predicate = Callable[[], bool]  # called with the state lock held


class CallControl(Protocol):
    """One call's TwiML being executed on its own thread, as the verbs see it."""

    # Read-only: a verb works on the call's record and the shared state, never rebinds them.
    @property
    def state(self) -> EmulatorState: ...

    @property
    def call(self) -> Call: ...

    # Waiting and listening ----------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Raise if the call was interrupted (hung up, redirected, bridged, woken) since the last look."""

    def wait_real(self, seconds: float, until: Predicate | None = None) -> bool:
        """Wait `seconds` of real time; True if `until()` came true first."""

    def wait(self, seconds: float, until: Predicate | None = None) -> bool:
        """Wait `seconds` of emulated time; True if `until()` came true first."""

    def hear(self, line: str, seconds: float, until: Predicate | None = None, **extra) -> bool:
        """Put a line in the caller's transcript and let it play; True if `until` cut it short."""

    # Interruptions a verb arms for the time it runs ------------------------------------------------

    def wake_when(self, predicate: Predicate) -> None:
        """From now on, raise Woken out of any wait once `predicate()` is true."""

    def stop_waking(self) -> None:
        """Forget the predicate `wake_when` set."""

    def expect_bridge(self) -> None:
        """From now on, raise Bridged out of any wait once <Dial><Queue> connects this call."""

    def stop_expecting_bridge(self) -> None:
        """A bridge no longer interrupts the call."""

    def count_redirect(self) -> int:
        """Count one more <Redirect>; return how many ran in a row (any other verb restarts the count)."""

    # Talking to the app ---------------------------------------------------------------------------

    def params(self, extra: dict | None = None) -> dict:
        """The call's webhook parameters, plus `extra`."""

    def fetch(self, target: dict, context: str = "call") -> Document:
        """Load the TwiML a target names ({"url", "method", "params"} or {"twiml"})."""

    def notify_app(self, url: str | None, method: str, extra: dict) -> None:
        """Tell the app something whose answer cannot be used any more."""

    def perform(self, verb: Verb, document: Document, **kw):
        """Run one verb inside another's document (a Gather's prompts, a wait document)."""

    def execute(self, document: Document) -> dict | None:
        """Run a document's verbs; return the next target, or None when the document runs out."""

    def application_error(self, error) -> None:
        """Log an application error on the call and let the caller hear Twilio's apology."""

    # Other calls --------------------------------------------------------------------------------------

    def on_leg(self, leg: Call) -> CallControl:
        """A CallControl of its own for another call (a <Dial>'s leg running its whisper)."""
