"""Signed HTTP requests from the emulator to the app, made the way Twilio makes them."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from twilio.request_validator import RequestValidator

logger = logging.getLogger("emulator.webhooks")

USER_AGENT = "TwilioProxy/1.1"
MAX_HTTP_REDIRECTS = 10


class WebhookFailure(Exception):
    """The app's answer could not be used; `code` is the Twilio error number."""

    def __init__(self, code: int, message: str, url: str):
        super().__init__(f"{code}: {message} ({url})")
        self.code = code
        self.message = message
        self.url = url


@dataclass
class WebhookAnswer:
    url: str  # the URL finally answered, after HTTP redirects; relative URLs resolve against it
    status: int
    content_type: str
    text: str


def sign(auth_token: str, url: str, params: dict) -> str:
    """Compute X-Twilio-Signature for a request to `url` carrying form `params`."""
    return RequestValidator(auth_token).compute_signature(url, params)


def split_fragment(url: str) -> tuple[str, dict]:
    """Separate Twilio's `#ct=..&rt=..` connection overrides (milliseconds) from the URL."""
    base, _, fragment = url.partition("#")
    overrides = {}
    for key, value in parse_qsl(fragment):
        if key in {"ct", "rt", "tt", "rc", "rp"} and value.isdigit():
            overrides[key] = int(value)
    return base, overrides


def send(session: requests.Session, auth_token: str, url: str, method: str, params: dict,
         connect_timeout: float, read_timeout: float, idempotency_token: str | None = None) -> WebhookAnswer:
    """Send one signed webhook; raise WebhookFailure when Twilio would report an error."""
    url, overrides = split_fragment(url)
    if "ct" in overrides:
        connect_timeout = overrides["ct"] / 1000
    if "rt" in overrides:
        read_timeout = overrides["rt"] / 1000
    if "tt" in overrides:
        read_timeout = min(read_timeout, overrides["tt"] / 1000)
    if urlsplit(url).scheme not in {"http", "https"}:
        raise WebhookFailure(11100, "Invalid URL format", url)
    method = (method or "POST").upper()
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
        "Cache-Control": "max-age=259200",
        "I-Twilio-Idempotency-Token": idempotency_token or str(uuid.uuid4()),
    }
    if method == "GET":
        # For GET, Twilio puts the fields in the query and signs the URL alone.
        if params:
            url = url + ("&" if urlsplit(url).query else "?") + urlencode(params)
        headers["X-Twilio-Signature"] = sign(auth_token, url, {})
        data = None
    else:
        headers["X-Twilio-Signature"] = sign(auth_token, url, params)
        data = params
    session.max_redirects = MAX_HTTP_REDIRECTS
    try:
        response = session.request(method, url, data=data, headers=headers,
                                   timeout=(connect_timeout, read_timeout), allow_redirects=True)
    except requests.TooManyRedirects as exc:
        raise WebhookFailure(11215, "HTTP too many redirects", url) from exc
    except requests.Timeout as exc:
        raise WebhookFailure(11205, "HTTP connection failure: timed out", url) from exc
    except requests.RequestException as exc:
        raise WebhookFailure(11205, f"HTTP connection failure: {exc.__class__.__name__}", url) from exc
    if not 200 <= response.status_code < 300:
        raise WebhookFailure(11200, f"HTTP retrieval failure: status {response.status_code}", url)
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return WebhookAnswer(response.url, response.status_code, content_type, response.text)


def send_quietly(auth_token: str, url: str, method: str, params: dict, connect_timeout: float = 5.0,
                 read_timeout: float = 15.0, idempotency_token: str | None = None) -> int | None:
    """Send a fire-and-forget callback (status, SMS status, transcription); return its HTTP status."""
    with requests.Session() as session:
        try:
            answer = send(session, auth_token, url, method, params, connect_timeout, read_timeout,
                          idempotency_token)
        except WebhookFailure as exc:
            logger.warning("callback failed: error %s: %s", exc.code, exc.message)
            return None
    return answer.status
