"""What every verb shares: the document being run, its URLs, and the exceptions that unwind a call's thread."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from .twiml import Verb

SECONDS_PER_WORD = 0.4  # about 150 words a minute
HOLD_MUSIC_SECONDS = 10.0


class CallerGone(Exception):
    """The caller hung up, or the call was ended through the REST API."""


class Redirected(Exception):
    """The call was redirected through the REST API; `target` says to what."""

    def __init__(self, target: dict):
        super().__init__("redirected")
        self.target = target


class Bridged(Exception):
    """A queued caller was picked up by <Dial><Queue>."""


class Woken(Exception):
    """What the call waited for (`CallControl.wake_when`) happened: stop the wait music."""


class EndCall(Exception):
    """<Hangup> or <Reject>: the call ends with `status` (None: completed)."""

    def __init__(self, status: str | None = None):
        super().__init__(status or "completed")
        self.status = status


class AppError(Exception):
    """What Twilio reports as an application error; the caller hears the apology and the call ends."""

    def __init__(self, code: int, message: str, url: str | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.url = url


@dataclass
class Document:
    verbs: list[Verb]
    url: str  # relative URLs in the document resolve against this


def resolve(base: str, url: str | None) -> str | None:
    """Resolve a URL found in a TwiML document against the document's own URL."""
    if url is None or url == "":
        return None
    return urljoin(base.partition("#")[0], url.strip())


def speaking_seconds(text: str) -> float:
    """How long it takes to say `text` aloud."""
    return max(0.5, len(text.split()) * SECONDS_PER_WORD)
